// JSON helpers of the command-line tool: quoting, reading replies with
// simdjson's DOM, pretty printing, and building baton_open options.
#ifndef BATON_TOOLS_JSON_UTIL_H_
#define BATON_TOOLS_JSON_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

namespace baton_cli {

// Appends `s` as a quoted JSON string (RFC 8259 escapes).
void json_append_quoted(std::string* out, std::string_view s);
std::string json_quote(std::string_view s);

// One parsed JSON document that owns its parser, so elements stay valid as
// long as the Document lives.
class Document {
 public:
  // Returns nullopt when `text` is not well-formed JSON.
  static std::optional<Document> parse(std::string_view text);
  simdjson::dom::element root() const { return root_; }

  Document(Document&&) = default;
  Document& operator=(Document&&) = default;

 private:
  Document() = default;
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

// Field accessors that treat a missing or mistyped field as absent.
std::optional<std::string_view> get_string(simdjson::dom::element obj, std::string_view key);
std::optional<int64_t> get_int(simdjson::dom::element obj, std::string_view key);
std::optional<double> get_number(simdjson::dom::element obj, std::string_view key);
std::optional<bool> get_bool(simdjson::dom::element obj, std::string_view key);
std::optional<simdjson::dom::element> get_field(simdjson::dom::element obj,
                                                std::string_view key);

// The element as an object or array, by value (a range-for over
// `e.get_object().value_unsafe()` would bind to a destroyed temporary).
// The caller has checked the type; a mismatch yields an empty one.
simdjson::dom::object as_object(simdjson::dom::element e);
simdjson::dom::array as_array(simdjson::dom::element e);

// Indented, human-readable JSON (two spaces), ending without a newline.
std::string pretty_json(simdjson::dom::element e);
// Compact JSON of an element.
std::string compact_json(simdjson::dom::element e);

// Builds a JSON object from `base_object_json` (may be empty) with the given
// keys set to raw JSON values, replacing keys of the same name: flags given on
// the command line win over the same keys inside --options. Throws CliError
// (usage) when the base is not a JSON object; `what` names it.
std::string json_object_with(std::string_view base_object_json,
                             const std::vector<std::pair<std::string, std::string>>& raw_fields,
                             std::string_view what);

}  // namespace baton_cli

#endif  // BATON_TOOLS_JSON_UTIL_H_
