// Text helpers shared by the report renderers: escaping for XML and HTML,
// JSON that is safe inside an HTML <script>, timestamps, and the parts of a
// stored error object.
#ifndef BATON_REPORT_MARKUP_H_
#define BATON_REPORT_MARKUP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

// Appends `s` escaped for XML 1.0 (and HTML): markup characters become
// entities, and whatever XML 1.0 cannot carry at all (control characters,
// U+FFFE/U+FFFF, broken UTF-8) is dropped. In attributes, tabs and line
// breaks become character references so that parsers keep them.
void append_xml_escaped(std::string* out, std::string_view s, bool attribute);

// JSON text made safe to embed in an HTML <script> element: `<`, `>`, `&`,
// U+2028 and U+2029 become \u escapes (they can only occur inside strings).
std::string json_for_script(std::string_view json);

// "2026-11-26T07:08:32" (UTC, no zone designator, the Surefire/Ant form).
std::string iso_utc_seconds(int64_t ms);
// "2026-11-26T07:08:32.123Z" (RFC 3339).
std::string rfc3339_utc(int64_t ms);

// message/type/stack of an `error` object as stored; empty when absent.
struct ErrorParts {
  std::string message;
  std::string type;
  std::string stack;
};
ErrorParts parse_error_json(std::string_view error_json, std::string_view fallback_message);

// One entry of an `attachments` array.
struct AttachmentRef {
  std::string name;
  std::string content_type;
  std::string path;
};
std::vector<AttachmentRef> parse_attachments_json(std::string_view attachments_json);

// The first non-empty line of `text`, trimmed.
std::string_view first_line(std::string_view text);

// Splits at '\n' (a trailing '\r' is dropped from each line).
std::vector<std::string_view> split_lines(std::string_view text);

}  // namespace baton

#endif  // BATON_REPORT_MARKUP_H_
