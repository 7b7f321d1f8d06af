// What both backends of the conformance suite build the same way.
#ifndef BATON_TESTS_STORE_BACKEND_COMMON_H_
#define BATON_TESTS_STORE_BACKEND_COMMON_H_

#include <cctype>
#include <string>
#include <string_view>

namespace baton::testing {

// `s` as a JSON string literal.
inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// baton_open's options: the store's own keys ("\"path\":...") and `extra`.
inline std::string join_options(std::string_view store_keys, std::string_view extra) {
  std::string out = "{";
  out += store_keys;
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  return out + "}";
}

// `label` reduced to what every store accepts in a name: [a-z0-9_].
inline std::string name_part(std::string_view label) {
  std::string out;
  for (char c : label) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

}  // namespace baton::testing

#endif  // BATON_TESTS_STORE_BACKEND_COMMON_H_
