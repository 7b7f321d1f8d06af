// JsonReader: the strict walk over simdjson's on-demand values that every
// validation step shares. It enforces the limits (depth, string, array and
// object sizes), refuses duplicate keys at any depth, checks every number
// and string it meets, keeps the path of the value being read, and records
// the first refusal as a Status naming that path and the rule.
//
// Every method returns false after recording a refusal; the caller stops and
// returns false too, so that only the first refusal is reported.
#ifndef BATON_VALIDATOR_READER_H_
#define BATON_VALIDATOR_READER_H_

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "baton/status.h"
#include "baton/validator.h"

namespace baton::validator_internal {

namespace od = simdjson::ondemand;

// Deepest nesting the walk supports whatever the limits say: the walk
// recurses once per level, and this bounds the stack one message can take.
inline constexpr uint32_t kMaxSupportedDepth = 256;

struct PathSegment {
  std::string_view key;
  size_t index = 0;
  bool is_index = false;
};

// What one thread keeps between validate() calls: the parser (its string
// buffer holds the unescaped strings an Event points to), the padded copy of
// the message, and scratch vectors that only grow.
struct ThreadScratch {
  od::parser parser;
  std::unique_ptr<char[]> text;
  size_t text_capacity = 0;  // usable bytes; SIMDJSON_PADDING more are allocated
  std::vector<std::string_view> keys;  // keys of the objects being walked, outermost first
  std::vector<PathSegment> path;
  std::vector<std::pair<std::string_view, size_t>> ids;  // for uniqueness checks
};
ThreadScratch& thread_scratch();

// How EventValidator::validate reads a message. kAny: in one pass when the
// message leads with a known `type` and is valid, else by the full route.
// kFull: always the full route, which checks the structure and trailing
// content before the schema. Both give the same verdict on every message;
// kFull exists so that tests can hold them to it.
enum class Route { kAny, kFull };
Status validate_by_route(const Limits& limits, std::string_view json, Event* out,
                         bool* suspicious, Route route);

class JsonReader {
 public:
  // input: the message as given; text: its padded copy, which the parser reads.
  JsonReader(const Limits& limits, ThreadScratch& scratch, std::string_view input,
             const char* text);

  const Limits& limits() const { return limits_; }
  bool suspicious() const { return suspicious_; }
  Status take_status() { return std::move(status_); }

  // --- refusals -------------------------------------------------------------
  // At the current path: `field "<path>" <what>`.
  bool fail(Code code, const char* rule, std::string_view what);
  // At the current path extended by key (a missing member, for instance).
  bool fail_member(std::string_view key, Code code, const char* rule, std::string_view what);
  // A refusal that no path explains, with its whole sentence.
  bool fail_message(Code code, const char* rule, std::string field, std::string message);
  // A JSON error reported by the parser.
  bool fail_json(simdjson::error_code error);
  // Not well-formed JSON, at the current path.
  bool fail_parse(const char* rule, std::string_view detail);

  // --- path -------------------------------------------------------------------
  void push(std::string_view key) { scratch_.path.push_back({key, 0, false}); }
  void push(size_t index) { scratch_.path.push_back({{}, index, true}); }
  void pop() { scratch_.path.pop_back(); }
  std::string path_string() const;

  // --- values -----------------------------------------------------------------
  // Walks any value: every limit and well-formedness rule, no schema.
  // depth: the nesting the value has if it is an object or array.
  bool walk_value(od::value& value, uint32_t depth);

  // Calls on_field(key, value) for each member, after the limit and
  // duplicate checks; the path holds the key during the call.
  template <typename OnField>
  bool walk_object(od::object& object, OnField&& on_field);
  // Calls on_item(index, value) for each item; the path holds the index.
  template <typename OnItem>
  bool walk_array(od::array& array, OnItem&& on_item);

  // Refuses a container at this depth when it is past max_depth.
  bool enter_depth(uint32_t depth);
  // Type checks: a value of another type is refused with rule "type".
  bool enter_object(od::value& value, uint32_t depth, od::object* out);
  bool enter_array(od::value& value, uint32_t depth, od::array* out);
  bool read_string(od::value& value, std::string_view* out);
  // A string that must be an identifier (1..max_id_bytes, printable).
  bool read_id(od::value& value, std::string_view* out);
  bool read_int(od::value& value, int64_t* out);
  bool read_number(od::value& value, double* out);
  bool read_bool(od::value& value, bool* out);

  bool require_at_least(int64_t value, int64_t min);
  bool require_between(int64_t value, int64_t min, int64_t max);
  // Applies the pattern policy to text read at the current path.
  bool check_pattern(std::string_view text);

  // Raw JSON of a value: take value_begin before reading it and span_since
  // after; the view points into the message as given.
  const char* value_begin(od::value& value) { return value.raw_json_token().data(); }
  std::string_view span_since(od::value& value, const char* begin);

 private:
  bool fail_type(od::value& value, const char* what);
  bool fail_bad_value(od::value& value, simdjson::error_code error);
  bool fail_bad_string(const char* raw);
  bool check_string(std::string_view text);
  bool read_any_number(od::value& value);
  bool read_null(od::value& value);
  bool read_key(od::field& field, std::string_view* key);
  // `seen`: a 64-bit filter of the object's keys so far, so that most new
  // keys are known new without comparing them with each earlier one.
  bool check_new_key(size_t first, size_t count, std::string_view key, uint64_t* seen);
  bool check_sorted_keys(size_t first);
  bool next_item_allowed(size_t index);

  const Limits& limits_;
  ThreadScratch& scratch_;
  std::string_view input_;
  const char* text_;
  const char* text_end_;
  uint32_t max_depth_;
  // Only a \u0000 escape puts a NUL in a string (raw NULs are refused
  // before parsing), so strings are searched for one only when the message
  // holds that escape.
  bool may_hold_nul_;
  bool suspicious_ = false;
  Status status_;
};

// Objects with up to this many keys are checked for duplicates key by key;
// larger ones are sorted once when they end.
inline constexpr size_t kLinearKeyCheck = 16;

template <typename OnField>
bool JsonReader::walk_object(od::object& object, OnField&& on_field) {
  auto& keys = scratch_.keys;
  const size_t first = keys.size();
  size_t count = 0;
  uint64_t seen = 0;
  for (auto member : object) {
    od::field field;
    if (auto error = std::move(member).get(field)) return fail_json(error);
    std::string_view key;
    if (!read_key(field, &key)) return false;
    ++count;
    if (!check_new_key(first, count, key, &seen)) return false;
    keys.push_back(key);
    push(key);
    if (!on_field(key, field.value())) return false;
    pop();
  }
  if (count > kLinearKeyCheck && !check_sorted_keys(first)) return false;
  keys.resize(first);
  return true;
}

template <typename OnItem>
bool JsonReader::walk_array(od::array& array, OnItem&& on_item) {
  size_t index = 0;
  for (auto element : array) {
    od::value item;
    if (auto error = std::move(element).get(item)) return fail_json(error);
    if (!next_item_allowed(index)) return false;
    push(index);
    if (!on_item(index, item)) return false;
    pop();
    ++index;
  }
  return true;
}

}  // namespace baton::validator_internal

#endif  // BATON_VALIDATOR_READER_H_
