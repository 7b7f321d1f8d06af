#include "report/markup.h"

#include <ctime>

#include <simdjson.h>

#include <fmt/format.h>

namespace baton {

namespace {

// Decodes one UTF-8 sequence at s[i]; *len gets its length. False for a
// broken or overlong sequence or a surrogate (then *len is 1).
bool decode_utf8(std::string_view s, size_t i, uint32_t* cp, size_t* len) {
  auto c = static_cast<unsigned char>(s[i]);
  *len = 1;
  if (c < 0x80) {
    *cp = c;
    return true;
  }
  size_t n;
  uint32_t v;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    v = c & 0x07;
  } else {
    return false;
  }
  if (i + n > s.size()) return false;
  for (size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return false;
    v = (v << 6) | (cc & 0x3F);
  }
  if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    return false;
  }
  *cp = v;
  *len = n;
  return true;
}

bool xml_allows(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

std::string format_utc(int64_t ms, bool with_millis) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (with_millis) out += fmt::format(".{:03}Z", ms % 1000 < 0 ? 0 : ms % 1000);
  return out;
}

}  // namespace

void append_xml_escaped(std::string* out, std::string_view s, bool attribute) {
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp = 0;
    size_t len = 1;
    if (!decode_utf8(s, i, &cp, &len) || !xml_allows(cp)) {
      i += len;
      continue;
    }
    if (len > 1) {
      out->append(s.data() + i, len);
      i += len;
      continue;
    }
    switch (s[i]) {
      case '&': out->append("&amp;"); break;
      case '<': out->append("&lt;"); break;
      case '>': out->append("&gt;"); break;
      case '"': out->append("&quot;"); break;
      case '\'': out->append("&#39;"); break;
      case '\r': out->append("&#13;"); break;
      case '\n': out->append(attribute ? "&#10;" : "\n"); break;
      case '\t': out->append(attribute ? "&#9;" : "\t"); break;
      default: out->push_back(s[i]);
    }
    ++i;
  }
}

std::string json_for_script(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '<') {
      out.append("\\u003c");
    } else if (c == '>') {
      out.append("\\u003e");
    } else if (c == '&') {
      out.append("\\u0026");
    } else if (static_cast<unsigned char>(c) == 0xE2 && i + 2 < json.size() &&
               static_cast<unsigned char>(json[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(json[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(json[i + 2]) == 0xA9)) {
      out.append(static_cast<unsigned char>(json[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029");
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string iso_utc_seconds(int64_t ms) { return format_utc(ms, false); }
std::string rfc3339_utc(int64_t ms) { return format_utc(ms, true); }

ErrorParts parse_error_json(std::string_view error_json, std::string_view fallback_message) {
  ErrorParts parts;
  parts.message.assign(fallback_message);
  if (error_json.empty()) return parts;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(error_json.data(), error_json.size()).get(obj) != simdjson::SUCCESS) {
    return parts;
  }
  std::string_view text;
  if (obj["message"].get(text) == simdjson::SUCCESS) parts.message.assign(text);
  if (obj["type"].get(text) == simdjson::SUCCESS) parts.type.assign(text);
  if (obj["stack"].get(text) == simdjson::SUCCESS) parts.stack.assign(text);
  return parts;
}

std::vector<AttachmentRef> parse_attachments_json(std::string_view attachments_json) {
  std::vector<AttachmentRef> out;
  if (attachments_json.empty()) return out;
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(attachments_json.data(), attachments_json.size()).get(arr) !=
      simdjson::SUCCESS) {
    return out;
  }
  for (auto item : arr) {
    AttachmentRef a;
    std::string_view text;
    if (item["name"].get(text) == simdjson::SUCCESS) a.name.assign(text);
    if (item["content_type"].get(text) == simdjson::SUCCESS) a.content_type.assign(text);
    if (item["path"].get(text) == simdjson::SUCCESS) a.path.assign(text);
    out.push_back(std::move(a));
  }
  return out;
}

std::string_view first_line(std::string_view text) {
  for (std::string_view line : split_lines(text)) {
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos) continue;
    size_t e = line.find_last_not_of(" \t");
    return line.substr(b, e - b + 1);
  }
  return {};
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (nl == std::string_view::npos) {
      if (!line.empty()) lines.push_back(line);
      break;
    }
    lines.push_back(line);
    start = nl + 1;
  }
  return lines;
}

}  // namespace baton
