// Checks on the text of single JSON tokens and strings, independent of the
// parser: number grammar, identifier rules, attachment paths.
#ifndef BATON_VALIDATOR_TEXT_CHECKS_H_
#define BATON_VALIDATOR_TEXT_CHECKS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace baton::validator_internal {

inline bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The token with the JSON whitespace that follows it removed.
std::string_view trim_json_space(std::string_view token);

enum class NumberForm { kMalformed, kInteger, kFloat };
// RFC 8259 number grammar. The parser's own number routines accept a few
// tokens the grammar refuses ("-Infinity" reaches them as a number), so every
// number token is classified here before it is converted. With `small`
// given, an integer of at most 18 digits (which cannot overflow int64) sets
// *small and puts its value in *value; *small is left alone otherwise.
NumberForm classify_number(std::string_view token, int64_t* value = nullptr,
                           bool* small = nullptr);

enum class IdProblem { kNone, kEmpty, kTooLong, kControl };
// Identifiers are 1..max_bytes bytes and printable: no C0 or C1 control
// character and no DEL. The text is already known to be valid UTF-8.
IdProblem check_id(std::string_view id, size_t max_bytes);

// True when text holds a C0/C1 control character or DEL.
bool has_control_char(std::string_view text);

enum class PathProblem { kNone, kEmpty, kParentSegment, kAbsolute, kControl };
// An attachment path must stay inside the directory it is resolved against:
// no ".." segment under either separator (Windows also reads "...", ". ." and
// "%2e%2e" as a parent), and, unless allow_absolute, nothing absolute: no
// leading separator, drive letter, URL scheme or home directory ("~").
PathProblem check_attachment_path(std::string_view path, bool allow_absolute);

// Decodes a short JSON string from its raw text (raw points just after the
// opening quote) into out, for cheap matching before the parser unescapes it.
// Returns false when the text is longer than cap, holds a non-ASCII escape,
// or is malformed; limit bounds every read.
bool decode_short_string(const char* raw, const char* limit, char* out, size_t cap, size_t* len);

// True when the raw text of a JSON string (raw points just after the opening
// quote) holds a \u escape of a UTF-16 surrogate.
bool has_surrogate_escape(const char* raw, const char* limit);

}  // namespace baton::validator_internal

#endif  // BATON_VALIDATOR_TEXT_CHECKS_H_
