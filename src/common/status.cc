#include "baton/status.h"

namespace baton {

const char* code_name(int code) {
  switch (code) {
    case 0: return "ok";
    case -1: return "invalid_argument";
    case -2: return "parse";
    case -3: return "invalid";
    case -4: return "denied";
    case -5: return "rate_limited";
    case -6: return "conflict";
    case -7: return "not_found";
    case -8: return "rejected";
    case -9: return "storage";
    case -10: return "closed";
    case -11: return "internal";
    case -12: return "user";
    default: return "unknown";
  }
}

const char* code_name(Code code) { return code_name(static_cast<int>(code)); }

}  // namespace baton
