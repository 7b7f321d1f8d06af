// fuzz_validator: EventValidator alone, on arbitrary bytes.
//
// The first byte picks one of three limit profiles (the defaults, tight
// limits that every input can reach, and a lenient one) so that each limit's
// refusal path and the pattern policies are all within the fuzzer's reach;
// the rest is the message. Beyond "no crash, no sanitizer report", a result
// must keep the validator's contract: a refusal is kParse or kInvalid and
// names a rule; an accepted event's raw text is the whole message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "baton/event.h"
#include "baton/validator.h"

namespace {

baton::Limits tight_limits() {
  baton::Limits limits;
  limits.max_message_bytes = 4096;
  limits.max_depth = 4;
  limits.max_string_bytes = 32;
  limits.max_array_items = 4;
  limits.max_keys = 8;
  limits.max_id_bytes = 8;
  limits.patterns = baton::PatternPolicy::kReject;
  return limits;
}

baton::Limits lenient_limits() {
  baton::Limits limits;
  limits.reject_unknown_fields = false;
  limits.allow_absolute_paths = true;
  limits.patterns = baton::PatternPolicy::kOff;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const baton::EventValidator validators[] = {
      baton::EventValidator(), baton::EventValidator(tight_limits()),
      baton::EventValidator(lenient_limits())};
  if (size == 0) return 0;
  const baton::EventValidator& validator = validators[data[0] % 3];
  const std::string_view json(reinterpret_cast<const char*>(data) + 1, size - 1);
  baton::Event event;
  bool suspicious = false;
  const baton::Status status = validator.validate(json, &event, &suspicious);
  if (status) {
    if (event.raw.data() != json.data() || event.raw.size() != json.size()) std::abort();
    if (validator.limits().patterns != baton::PatternPolicy::kFlag && suspicious) std::abort();
    return 0;
  }
  if (status.code() != baton::Code::kParse && status.code() != baton::Code::kInvalid &&
      status.code() != baton::Code::kInternal) {
    std::abort();
  }
  if (status.rule().empty() || status.message().empty()) std::abort();
  return 0;
}
