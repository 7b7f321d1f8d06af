#include "validator/text_checks.h"

#include <cstdint>
#include <cstring>

namespace baton::validator_internal {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four hex digits at p, or -1.
long hex4(const char* p) {
  long value = 0;
  for (int i = 0; i < 4; ++i) {
    int digit = hex_value(p[i]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// "%2e" / "%2E" at text[i].
bool is_encoded(std::string_view text, size_t i, char second, char third) {
  return i + 2 < text.size() && text[i] == '%' && text[i + 1] == second &&
         (text[i + 2] == third || text[i + 2] == static_cast<char>(third - 'a' + 'A'));
}

// Length of the separator at path[i] ('/', '\', "%2f", "%5c"), or 0.
size_t separator_length(std::string_view path, size_t i) {
  if (path[i] == '/' || path[i] == '\\') return 1;
  if (is_encoded(path, i, '2', 'f') || is_encoded(path, i, '5', 'c')) return 3;
  return 0;
}

// "..", "...", ". .", "%2e%2e": segments that Windows or a URL decoder may
// resolve to the parent directory.
bool is_parent_segment(std::string_view segment) {
  int dots = 0;
  for (size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c == '.') {
      ++dots;
    } else if (is_encoded(segment, i, '2', 'e')) {
      ++dots;
      i += 2;
    } else if (c != ' ') {
      return false;
    }
  }
  return dots >= 2;
}

bool is_absolute_path(std::string_view path) {
  if (path.empty()) return false;
  if (separator_length(path, 0) > 0 || path[0] == '~') return true;
  // "C:", "C:\x", "file:///x", "https://x": a drive letter or a URL scheme.
  if (!is_alpha(path[0])) return false;
  for (size_t i = 1; i < path.size(); ++i) {
    char c = path[i];
    if (c == ':') return true;
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '.' && c != '-') return false;
  }
  return false;
}

}  // namespace

std::string_view trim_json_space(std::string_view token) {
  while (!token.empty() && is_json_space(token.back())) token.remove_suffix(1);
  return token;
}

NumberForm classify_number(std::string_view t, int64_t* value, bool* small) {
  size_t i = 0;
  const size_t n = t.size();
  const bool negative = i < n && t[i] == '-';
  if (negative) ++i;
  if (i >= n) return NumberForm::kMalformed;
  const size_t first_digit = i;
  // Unsigned, so that a longer integer wraps (defined) instead of
  // overflowing; its value is used only up to 18 digits, where it is exact.
  uint64_t integer = 0;
  if (t[i] == '0') {
    ++i;
  } else if (t[i] >= '1' && t[i] <= '9') {
    while (i < n && is_digit(t[i])) integer = integer * 10 + (t[i++] - '0');
  } else {
    return NumberForm::kMalformed;
  }
  bool is_float = false;
  if (i < n && t[i] == '.') {
    const size_t first = ++i;
    while (i < n && is_digit(t[i])) ++i;
    if (i == first) return NumberForm::kMalformed;
    is_float = true;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    const size_t first = i;
    while (i < n && is_digit(t[i])) ++i;
    if (i == first) return NumberForm::kMalformed;
    is_float = true;
  }
  if (i != n) return NumberForm::kMalformed;
  if (is_float) return NumberForm::kFloat;
  if (small != nullptr && n - first_digit <= 18) {
    *small = true;
    const auto exact = static_cast<int64_t>(integer);
    *value = negative ? -exact : exact;
  }
  return NumberForm::kInteger;
}

bool has_control_char(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  // Eight bytes at a time while no byte can be a control: a word with a
  // byte below 0x20, a DEL or a C2 lead byte drops to the exact loop.
  constexpr uint64_t kOnes = 0x0101010101010101u;
  constexpr uint64_t kHigh = 0x8080808080808080u;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    const uint64_t del = word ^ (kOnes * 0x7F);
    const uint64_t lead = word ^ (kOnes * 0xC2);
    const uint64_t below = (word - kOnes * 0x20) & ~word;
    if (((below | ((del - kOnes) & ~del) | ((lead - kOnes) & ~lead)) & kHigh) != 0) break;
  }
  for (; i < n; ++i) {
    const unsigned char c = p[i];
    if (c < 0x20 || c == 0x7F) return true;
    // U+0080..U+009F, the C1 controls, encode as C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) return true;
  }
  return false;
}

IdProblem check_id(std::string_view id, size_t max_bytes) {
  if (id.empty()) return IdProblem::kEmpty;
  if (id.size() > max_bytes) return IdProblem::kTooLong;
  if (has_control_char(id)) return IdProblem::kControl;
  return IdProblem::kNone;
}

PathProblem check_attachment_path(std::string_view path, bool allow_absolute) {
  if (path.empty()) return PathProblem::kEmpty;
  if (has_control_char(path)) return PathProblem::kControl;
  size_t start = 0;
  size_t i = 0;
  while (i <= path.size()) {
    const size_t sep = i < path.size() ? separator_length(path, i) : 1;
    if (sep == 0) {
      ++i;
      continue;
    }
    if (is_parent_segment(path.substr(start, i - start))) return PathProblem::kParentSegment;
    i += sep;
    start = i;
  }
  if (!allow_absolute && is_absolute_path(path)) return PathProblem::kAbsolute;
  return PathProblem::kNone;
}

bool decode_short_string(const char* raw, const char* limit, char* out, size_t cap, size_t* len) {
  size_t n = 0;
  const char* p = raw;
  while (p < limit) {
    char c = *p;
    if (c == '"') {
      *len = n;
      return true;
    }
    if (c == '\\') {
      if (limit - p < 2) return false;
      switch (p[1]) {
        case '"': case '\\': case '/': c = p[1]; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
          if (limit - p < 6) return false;
          const long code = hex4(p + 2);
          if (code < 0 || code >= 0x80) return false;
          c = static_cast<char>(code);
          p += 4;
          break;
        }
        default: return false;
      }
      p += 2;
    } else {
      ++p;
    }
    if (n >= cap) return false;
    out[n++] = c;
  }
  return false;
}

bool has_surrogate_escape(const char* raw, const char* limit) {
  const char* p = raw;
  while (p < limit && *p != '"') {
    if (*p != '\\') {
      ++p;
      continue;
    }
    if (limit - p >= 6 && p[1] == 'u') {
      const long code = hex4(p + 2);
      if (code >= 0xD800 && code <= 0xDFFF) return true;
      p += 6;
    } else {
      p += 2;
    }
  }
  return false;
}

}  // namespace baton::validator_internal
