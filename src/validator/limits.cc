#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "baton/validator.h"
#include "validator/reader.h"

namespace baton {

namespace {

namespace od = simdjson::ondemand;

// simdjson indexes documents of up to 4 GiB; one message is far below that.
constexpr int64_t kMaxMessageBytes = int64_t{1} << 30;

Status bad_key(std::string_view key, std::string what, const char* rule) {
  return Status::error(Code::kInvalidArgument,
                       "limits option \"" + std::string(key) + "\" " + std::move(what),
                       std::string(key), rule);
}

Status read_positive(od::value& value, std::string_view key, int64_t max, int64_t* out) {
  const std::string range = "must be an integer between 1 and " + std::to_string(max);
  od::json_type type;
  if (value.type().get(type) || type != od::json_type::number) return bad_key(key, range, "type");
  if (value.get_int64().get(*out)) return bad_key(key, range, "type");
  if (*out < 1 || *out > max) return bad_key(key, range, "range");
  return Status::ok();
}

Status read_choice(od::value& value, std::string_view key, std::string_view first,
                   std::string_view second, std::string_view third, std::string_view* out) {
  std::string expected = "must be \"" + std::string(first) + "\" or \"" + std::string(second) + "\"";
  if (!third.empty()) {
    expected = "must be \"" + std::string(first) + "\", \"" + std::string(second) + "\" or \"" +
               std::string(third) + "\"";
  }
  if (value.get_string().get(*out)) return bad_key(key, expected, "type");
  if (*out != first && *out != second && (third.empty() || *out != third)) {
    return bad_key(key, expected, "enum");
  }
  return Status::ok();
}

Status read_member(std::string_view key, od::value& value, Limits* limits) {
  using validator_internal::kMaxSupportedDepth;
  constexpr int64_t kMaxSize = std::numeric_limits<int32_t>::max();
  int64_t number = 0;
  Status status;
  if (key == "max_message_bytes") {
    status = read_positive(value, key, kMaxMessageBytes, &number);
    if (status) limits->max_message_bytes = static_cast<size_t>(number);
  } else if (key == "max_depth") {
    status = read_positive(value, key, kMaxSupportedDepth, &number);
    if (status) limits->max_depth = static_cast<uint32_t>(number);
  } else if (key == "max_string_bytes") {
    status = read_positive(value, key, kMaxMessageBytes, &number);
    if (status) limits->max_string_bytes = static_cast<size_t>(number);
  } else if (key == "max_array_items") {
    status = read_positive(value, key, kMaxSize, &number);
    if (status) limits->max_array_items = static_cast<size_t>(number);
  } else if (key == "max_keys") {
    status = read_positive(value, key, kMaxSize, &number);
    if (status) limits->max_keys = static_cast<size_t>(number);
  } else if (key == "max_id_bytes") {
    status = read_positive(value, key, kMaxMessageBytes, &number);
    if (status) limits->max_id_bytes = static_cast<size_t>(number);
  } else if (key == "unknown_fields") {
    std::string_view choice;
    status = read_choice(value, key, "reject", "ignore", {}, &choice);
    if (status) limits->reject_unknown_fields = choice == "reject";
  } else if (key == "allow_absolute_paths") {
    bool allow = false;
    if (value.get_bool().get(allow)) return bad_key(key, "must be true or false", "type");
    limits->allow_absolute_paths = allow;
  } else if (key == "patterns") {
    std::string_view choice;
    status = read_choice(value, key, "off", "flag", "reject", &choice);
    if (status) {
      limits->patterns = choice == "off"    ? PatternPolicy::kOff
                         : choice == "flag" ? PatternPolicy::kFlag
                                            : PatternPolicy::kReject;
    }
  } else {
    return bad_key(key, "is not a known limit", "unknown_key");
  }
  return status;
}

Status not_json(std::string_view detail) {
  return Status::error(Code::kInvalidArgument,
                       "limits option is not a valid JSON object: " + std::string(detail), {},
                       "parse");
}

}  // namespace

Status Limits::from_json(std::string_view json, Limits* out) {
  if (out == nullptr) return Status::error(Code::kInvalidArgument, "limits output is NULL");
  Limits limits = *out;
  simdjson::padded_string text(json);
  od::parser parser;
  od::document doc;
  if (auto error = parser.iterate(text).get(doc)) return not_json(simdjson::error_message(error));
  od::object object;
  if (auto error = doc.get_object().get(object)) return not_json(simdjson::error_message(error));
  uint32_t seen = 0;
  for (auto member : object) {
    od::field field;
    if (auto error = std::move(member).get(field)) return not_json(simdjson::error_message(error));
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) {
      return not_json(simdjson::error_message(error));
    }
    static constexpr std::string_view kKeys[] = {
        "max_message_bytes", "max_depth",            "max_string_bytes",
        "max_array_items",   "max_keys",             "max_id_bytes",
        "unknown_fields",    "allow_absolute_paths", "patterns"};
    for (size_t i = 0; i < std::size(kKeys); ++i) {
      if (kKeys[i] != key) continue;
      if (seen & (1u << i)) return bad_key(key, "appears twice", "duplicate_key");
      seen |= 1u << i;
    }
    Status status = read_member(key, field.value(), &limits);
    if (!status) return status;
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return not_json("content follows the object");
  }
  *out = limits;
  return Status::ok();
}

}  // namespace baton
