#include "validator/reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "validator/patterns.h"
#include "validator/text_checks.h"

namespace baton::validator_internal {

ThreadScratch& thread_scratch() {
  thread_local ThreadScratch scratch;
  return scratch;
}

JsonReader::JsonReader(const Limits& limits, ThreadScratch& scratch, std::string_view input,
                       const char* text)
    : limits_(limits),
      scratch_(scratch),
      input_(input),
      text_(text),
      text_end_(text + input.size()),
      max_depth_(std::min(limits.max_depth, kMaxSupportedDepth)),
      may_hold_nul_(input.find("\\u0000") != std::string_view::npos) {}

std::string JsonReader::path_string() const {
  std::string out;
  for (const PathSegment& segment : scratch_.path) {
    if (segment.is_index) {
      out.push_back('[');
      out.append(std::to_string(segment.index));
      out.push_back(']');
    } else {
      if (!out.empty()) out.push_back('.');
      out.append(segment.key);
    }
  }
  return out;
}

bool JsonReader::fail_message(Code code, const char* rule, std::string field,
                              std::string message) {
  status_ = Status::error(code, std::move(message), std::move(field), rule);
  return false;
}

bool JsonReader::fail(Code code, const char* rule, std::string_view what) {
  std::string field = path_string();
  std::string message;
  if (field.empty()) {
    message = "message ";
  } else {
    message = "field \"" + field + "\" ";
  }
  message.append(what);
  return fail_message(code, rule, std::move(field), std::move(message));
}

bool JsonReader::fail_member(std::string_view key, Code code, const char* rule,
                             std::string_view what) {
  push(key);
  return fail(code, rule, what);
}

bool JsonReader::fail_parse(const char* rule, std::string_view detail) {
  std::string field = path_string();
  std::string message = "message is not valid JSON";
  if (!field.empty()) message += " at field \"" + field + "\"";
  message += ": ";
  message.append(detail);
  return fail_message(Code::kParse, rule, std::move(field), std::move(message));
}

bool JsonReader::fail_json(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR:
      return fail_parse("utf8", "it is not valid UTF-8");
    case simdjson::UNESCAPED_CHARS:
      return fail_parse("control_char", "a string holds an unescaped control character");
    case simdjson::UNCLOSED_STRING:
      return fail_parse("syntax", "a string is not closed");
    case simdjson::STRING_ERROR:
      return fail_parse("escape", "a string holds an invalid escape");
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return fail_parse("syntax", "a number is malformed");
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
    case simdjson::INCORRECT_TYPE:
      return fail_parse("syntax", "a literal is malformed");
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return fail_parse("syntax", "an object or array is not closed");
    case simdjson::TAPE_ERROR:
      return fail_parse("syntax",
                        "a comma, colon, key, brace or bracket is missing or out of place");
    case simdjson::EMPTY:
      return fail_parse("syntax", "it is empty");
    case simdjson::DEPTH_ERROR:
      return fail(Code::kInvalid, "max_depth", "is nested too deeply");
    case simdjson::MEMALLOC:
      return fail_message(Code::kInternal, "memory", {}, "out of memory while parsing the message");
    default:
      return fail_parse("syntax", simdjson::error_message(error));
  }
}

bool JsonReader::fail_bad_value(od::value& value, simdjson::error_code error) {
  std::string_view token = value.raw_json_token();
  if (!token.empty() && token[0] == '-') token.remove_prefix(1);
  if (!token.empty() && (token[0] == 'N' || token[0] == 'I')) {
    return fail_parse("syntax", "NaN and Infinity are not JSON numbers");
  }
  return fail_json(error);
}

bool JsonReader::fail_type(od::value& value, const char* what) {
  od::json_type type;
  if (auto error = value.type().get(type)) return fail_bad_value(value, error);
  return fail(Code::kInvalid, "type", what);
}

bool JsonReader::fail_bad_string(const char* raw) {
  if (has_surrogate_escape(raw, text_end_)) {
    return fail_parse("surrogate", "a string escapes an unpaired UTF-16 surrogate");
  }
  return fail_parse("escape", "a string holds an invalid escape");
}

bool JsonReader::check_string(std::string_view text) {
  if (text.size() > limits_.max_string_bytes) {
    return fail(Code::kInvalid, "max_string_bytes",
                "is longer than max_string_bytes (" + std::to_string(limits_.max_string_bytes) +
                    ")");
  }
  // C hosts would read a NUL as the end of the string.
  if (may_hold_nul_ && std::memchr(text.data(), 0, text.size()) != nullptr) {
    return fail_parse("nul", "a string holds a NUL character (\\u0000)");
  }
  return true;
}

bool JsonReader::enter_depth(uint32_t depth) {
  if (depth <= max_depth_) return true;
  return fail(Code::kInvalid, "max_depth",
              "is nested deeper than max_depth (" + std::to_string(limits_.max_depth) + ")");
}

bool JsonReader::enter_object(od::value& value, uint32_t depth, od::object* out) {
  if (auto error = value.get_object().get(*out)) {
    if (error == simdjson::INCORRECT_TYPE) return fail_type(value, "must be an object");
    return fail_json(error);
  }
  return enter_depth(depth);
}

bool JsonReader::enter_array(od::value& value, uint32_t depth, od::array* out) {
  if (auto error = value.get_array().get(*out)) {
    if (error == simdjson::INCORRECT_TYPE) return fail_type(value, "must be an array");
    return fail_json(error);
  }
  return enter_depth(depth);
}

bool JsonReader::read_string(od::value& value, std::string_view* out) {
  if (auto error = value.get_string().get(*out)) {
    if (error == simdjson::INCORRECT_TYPE) return fail_type(value, "must be a string");
    if (error == simdjson::STRING_ERROR) return fail_bad_string(value.raw_json_token().data() + 1);
    return fail_json(error);
  }
  return check_string(*out);
}

bool JsonReader::read_id(od::value& value, std::string_view* out) {
  if (!read_string(value, out)) return false;
  switch (check_id(*out, limits_.max_id_bytes)) {
    case IdProblem::kNone:
      break;
    case IdProblem::kEmpty:
      return fail(Code::kInvalid, "empty", "must not be empty");
    case IdProblem::kTooLong:
      return fail(Code::kInvalid, "max_id_bytes",
                  "is longer than max_id_bytes (" + std::to_string(limits_.max_id_bytes) + ")");
    case IdProblem::kControl:
      return fail(Code::kInvalid, "control_char", "holds a control character");
  }
  return check_pattern(*out);
}

bool JsonReader::read_int(od::value& value, int64_t* out) {
  // Most integers (seq, ts, attempt) are short: the classification reads
  // their value, and the parser is not asked. Anything else, including every
  // refusal, goes the long way.
  bool small = false;
  const NumberForm form = classify_number(trim_json_space(value.raw_json_token()), out, &small);
  if (small) return true;
  od::json_type type;
  if (auto error = value.type().get(type)) return fail_bad_value(value, error);
  if (type != od::json_type::number) return fail(Code::kInvalid, "type", "must be an integer");
  switch (form) {
    case NumberForm::kMalformed:
      return fail_bad_value(value, simdjson::NUMBER_ERROR);
    case NumberForm::kFloat:
      return fail(Code::kInvalid, "type", "must be an integer");
    case NumberForm::kInteger:
      break;
  }
  if (value.get_int64().get(*out)) {
    return fail(Code::kInvalid, "int64", "is an integer outside the signed 64-bit range");
  }
  return true;
}

bool JsonReader::read_number(od::value& value, double* out) {
  od::json_type type;
  if (auto error = value.type().get(type)) return fail_bad_value(value, error);
  if (type != od::json_type::number) return fail(Code::kInvalid, "type", "must be a number");
  switch (classify_number(trim_json_space(value.raw_json_token()))) {
    case NumberForm::kMalformed:
      return fail_bad_value(value, simdjson::NUMBER_ERROR);
    case NumberForm::kInteger: {
      // Integers must fit int64 wherever they appear, numbers fields included.
      int64_t integer = 0;
      if (value.get_int64().get(integer)) {
        return fail(Code::kInvalid, "int64", "is an integer outside the signed 64-bit range");
      }
      *out = static_cast<double>(integer);
      return true;
    }
    case NumberForm::kFloat:
      break;
  }
  // The grammar is right, so a refusal here is a magnitude past double's.
  if (value.get_double().get(*out) || !std::isfinite(*out)) {
    return fail(Code::kInvalid, "finite", "is a number outside the finite double range");
  }
  return true;
}

bool JsonReader::read_any_number(od::value& value) {
  switch (classify_number(trim_json_space(value.raw_json_token()))) {
    case NumberForm::kMalformed:
      return fail_bad_value(value, simdjson::NUMBER_ERROR);
    case NumberForm::kInteger: {
      int64_t integer = 0;
      if (value.get_int64().get(integer)) {
        return fail(Code::kInvalid, "int64", "is an integer outside the signed 64-bit range");
      }
      return true;
    }
    case NumberForm::kFloat: {
      double number = 0;
      if (value.get_double().get(number) || !std::isfinite(number)) {
        return fail(Code::kInvalid, "finite", "is a number outside the finite double range");
      }
      return true;
    }
  }
  return true;
}

bool JsonReader::read_bool(od::value& value, bool* out) {
  if (auto error = value.get_bool().get(*out)) {
    od::json_type type;
    if (auto type_error = value.type().get(type)) return fail_bad_value(value, type_error);
    if (type != od::json_type::boolean) return fail(Code::kInvalid, "type", "must be a boolean");
    return fail_json(error);
  }
  return true;
}

bool JsonReader::read_null(od::value& value) {
  bool is_null = false;
  if (value.is_null().get(is_null) || !is_null) return fail_json(simdjson::N_ATOM_ERROR);
  return true;
}

bool JsonReader::walk_value(od::value& value, uint32_t depth) {
  od::json_type type;
  if (auto error = value.type().get(type)) return fail_bad_value(value, error);
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (!enter_object(value, depth, &object)) return false;
      return walk_object(object, [this, depth](std::string_view, od::value& member) {
        return walk_value(member, depth + 1);
      });
    }
    case od::json_type::array: {
      od::array array;
      if (!enter_array(value, depth, &array)) return false;
      return walk_array(array, [this, depth](size_t, od::value& item) {
        return walk_value(item, depth + 1);
      });
    }
    case od::json_type::string: {
      std::string_view ignored;
      return read_string(value, &ignored);
    }
    case od::json_type::number:
      return read_any_number(value);
    case od::json_type::boolean: {
      bool ignored;
      return read_bool(value, &ignored);
    }
    case od::json_type::null:
      return read_null(value);
  }
  return fail_json(simdjson::TAPE_ERROR);
}

bool JsonReader::read_key(od::field& field, std::string_view* key) {
  // Unescaping consumes the raw key, so keep it for the error path first.
  const char* raw = field.key().raw();
  if (auto error = field.unescaped_key().get(*key)) {
    if (error == simdjson::STRING_ERROR) return fail_bad_string(raw);
    return fail_json(error);
  }
  if (key->size() > limits_.max_string_bytes) {
    return fail(Code::kInvalid, "max_string_bytes",
                "has a key longer than max_string_bytes (" +
                    std::to_string(limits_.max_string_bytes) + ")");
  }
  if (may_hold_nul_ && std::memchr(key->data(), 0, key->size()) != nullptr) {
    return fail_parse("nul", "a key holds a NUL character (\\u0000)");
  }
  return true;
}

bool JsonReader::check_new_key(size_t first, size_t count, std::string_view key,
                               uint64_t* seen) {
  if (count > limits_.max_keys) {
    return fail(Code::kInvalid, "max_keys",
                "has more than max_keys (" + std::to_string(limits_.max_keys) + ") keys");
  }
  if (count > kLinearKeyCheck) return true;
  // Equal keys have equal lengths and first and last bytes: a key whose
  // bit no earlier key set is new.
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const size_t mix = key.empty() ? 0 : key.size() * 31 + k[0] * 7 + k[key.size() - 1];
  const uint64_t bit = uint64_t{1} << (mix & 63);
  const bool maybe_seen = (*seen & bit) != 0;
  *seen |= bit;
  if (!maybe_seen) return true;
  const auto& keys = scratch_.keys;
  for (size_t i = first; i < keys.size(); ++i) {
    if (keys[i] == key) {
      return fail_member(key, Code::kInvalid, "duplicate_key", "appears twice in one object");
    }
  }
  return true;
}

bool JsonReader::check_sorted_keys(size_t first) {
  auto& keys = scratch_.keys;
  auto begin = keys.begin() + static_cast<std::ptrdiff_t>(first);
  std::sort(begin, keys.end());
  auto duplicate = std::adjacent_find(begin, keys.end());
  if (duplicate == keys.end()) return true;
  return fail_member(*duplicate, Code::kInvalid, "duplicate_key", "appears twice in one object");
}

bool JsonReader::next_item_allowed(size_t index) {
  if (index < limits_.max_array_items) return true;
  return fail(Code::kInvalid, "max_array_items",
              "has more than max_array_items (" + std::to_string(limits_.max_array_items) +
                  ") items");
}

bool JsonReader::require_at_least(int64_t value, int64_t min) {
  if (value >= min) return true;
  return fail(Code::kInvalid, "range", "must be at least " + std::to_string(min));
}

bool JsonReader::require_between(int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return true;
  return fail(Code::kInvalid, "range",
              "must be between " + std::to_string(min) + " and " + std::to_string(max));
}

bool JsonReader::check_pattern(std::string_view text) {
  if (limits_.patterns == PatternPolicy::kOff || !looks_like_injection(text)) return true;
  if (limits_.patterns == PatternPolicy::kReject) {
    return fail(Code::kInvalid, "pattern", "looks like script or SQL injection");
  }
  suspicious_ = true;
  return true;
}

std::string_view JsonReader::span_since(od::value& value, const char* begin) {
  const char* end = text_end_;
  auto location = value.current_location();
  if (!location.error()) end = location.value_unsafe();
  while (end > begin && is_json_space(end[-1])) --end;
  return input_.substr(static_cast<size_t>(begin - text_), static_cast<size_t>(end - begin));
}

}  // namespace baton::validator_internal
