#include "baton/validator.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "validator/event_schema.h"
#include "validator/reader.h"
#include "validator/text_checks.h"

namespace baton {

namespace {

using validator_internal::EventSchemaReader;
using validator_internal::JsonReader;
using validator_internal::ThreadScratch;
using validator_internal::decode_short_string;
using validator_internal::is_json_space;
namespace od = simdjson::ondemand;

constexpr size_t kTextBlock = 4096;
// A thread keeps buffers this large after a bigger message only until the
// next small message arrives; one huge message must not pin its memory.
constexpr size_t kKeptCapacity = size_t{4} << 20;

size_t round_up(size_t n, size_t block) { return (n + block - 1) / block * block; }

// Copies json into the thread's padded buffer, resizing the buffer and the
// parser together so that the parser never reallocates on its own.
simdjson::error_code load_text(ThreadScratch& s, std::string_view json) {
  size_t capacity = s.text_capacity;
  if (json.size() > capacity) {
    capacity = round_up(std::max({json.size(), capacity * 2, kTextBlock}), kTextBlock);
  } else if (capacity > kKeptCapacity && json.size() <= kKeptCapacity / 4) {
    capacity = kKeptCapacity / 4;
  }
  if (capacity != s.text_capacity || !s.text) {
    s.text_capacity = 0;
    s.text.reset(new (std::nothrow) char[capacity + simdjson::SIMDJSON_PADDING]);
    if (!s.text) return simdjson::MEMALLOC;
    if (auto error = s.parser.allocate(capacity)) {
      s.text.reset();
      return error;
    }
    s.text_capacity = capacity;
  }
  std::memcpy(s.text.get(), json.data(), json.size());
  std::memset(s.text.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  return simdjson::SUCCESS;
}

void reset_event(Event* out) {
  std::vector<PlanSpec> plan = std::move(out->plan);
  plan.clear();
  *out = Event();
  out->plan = std::move(plan);
}

// The parser reports a root object that does not end the message as
// unclosed; this tells "closed, then more content" from "never closed".
bool closes_before_end(std::string_view text) {
  int64_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      for (size_t j = i + 1; j < text.size(); ++j) {
        if (!is_json_space(text[j])) return true;
      }
      return false;
    }
  }
  return false;
}

bool fail_trailing(JsonReader& r) {
  return r.fail_message(Code::kParse, "trailing_content", {},
                        "message has content after its JSON object");
}

enum class TypeLookup { kFound, kMissing, kNotString, kUnknown, kBroken, kTrailing };

// Whether `field`'s key is "type" (escaped or not).
bool is_type_key(od::field& field, const char* text_end) {
  char key[4];
  size_t key_size = 0;
  return decode_short_string(field.key().raw(), text_end, key, sizeof key, &key_size) &&
         std::string_view(key, key_size) == "type";
}

// Reads the value of a `type` member without unescaping it into the
// parser's string buffer.
TypeLookup read_type(od::field& field, const char* text_end, EventType* type) {
  std::string_view token = field.value().raw_json_token();
  if (token.empty() || token[0] != '"') return TypeLookup::kNotString;
  char name[24];
  size_t name_size = 0;
  if (!decode_short_string(token.data() + 1, text_end, name, sizeof name, &name_size) ||
      !parse_event_type(std::string_view(name, name_size), type)) {
    return TypeLookup::kUnknown;
  }
  return TypeLookup::kFound;
}

// Finds the `type` member and checks that the root object ends the message,
// skipping over every value: the structure is all this pass looks at. It
// unescapes nothing into the parser's string buffer, which is sized for the
// full walk to unescape every string exactly once.
TypeLookup find_type(od::document& doc, od::object& root, const char* text_end,
                     EventType* type) {
  TypeLookup lookup = TypeLookup::kMissing;
  for (auto member : root) {
    od::field field;
    if (std::move(member).get(field)) return TypeLookup::kBroken;
    if (lookup == TypeLookup::kMissing && is_type_key(field, text_end)) {
      lookup = read_type(field, text_end, type);
    }
  }
  auto location = doc.current_location();
  if (location.error() == simdjson::OUT_OF_BOUNDS) return lookup;
  return location.error() ? TypeLookup::kBroken : TypeLookup::kTrailing;
}

bool walk_untyped(JsonReader& r, od::object& root) {
  return r.walk_object(root, [&r](std::string_view, od::value& member) {
    return r.walk_value(member, 2);
  });
}

bool fail_type_lookup(JsonReader& r, TypeLookup lookup) {
  switch (lookup) {
    case TypeLookup::kMissing:
      return r.fail_message(Code::kInvalid, "required", "type", "field \"type\" is required");
    case TypeLookup::kNotString:
      return r.fail_message(Code::kInvalid, "type", "type", "field \"type\" must be a string");
    default: {
      std::string names;
      for (int i = 0; i < kEventTypeCount; ++i) {
        if (i > 0) names += ", ";
        names += event_type_name(static_cast<EventType>(i));
      }
      return r.fail_message(Code::kInvalid, "enum", "type",
                            "field \"type\" must be one of " + names);
    }
  }
}

// Reads the root object's members by the schema of `type`.
bool read_schema(JsonReader& r, od::object& root, EventType type, Event* out) {
  out->type = type;
  EventSchemaReader schema(r, type, out);
  return r.walk_object(root, [&schema](std::string_view key, od::value& member) {
    return schema.read_member(key, member);
  }) && schema.finish();
}

bool read_event(JsonReader& r, ThreadScratch& s, size_t size, Event* out) {
  const char* text = s.text.get();
  const size_t allocated = s.text_capacity + simdjson::SIMDJSON_PADDING;
  od::document doc;
  if (auto error = s.parser.iterate(text, size, allocated).get(doc)) return r.fail_json(error);
  od::object root;
  if (auto error = doc.get_object().get(root)) {
    if (error == simdjson::INCORRECT_TYPE) {
      return r.fail_message(Code::kParse, "not_object", {},
                            "message must be a single JSON object");
    }
    if (error == simdjson::INCOMPLETE_ARRAY_OR_OBJECT &&
        closes_before_end(std::string_view(text, size))) {
      return fail_trailing(r);
    }
    return r.fail_json(error);
  }

  if (!r.enter_depth(1)) return false;
  EventType type = EventType::kRunStart;
  const TypeLookup lookup = find_type(doc, root, text + size, &type);
  if (lookup == TypeLookup::kTrailing) return fail_trailing(r);
  if (lookup == TypeLookup::kBroken) {
    // The failed scan may have left the document unusable: start over, and
    // let the full walk name the place where the JSON breaks.
    if (auto error = s.parser.iterate(text, size, allocated).get(doc)) return r.fail_json(error);
    if (auto error = doc.get_object().get(root)) return r.fail_json(error);
    if (!walk_untyped(r, root)) return false;
    return r.fail_json(simdjson::TAPE_ERROR);
  }
  if (auto error = root.reset().error()) return r.fail_json(error);
  if (lookup != TypeLookup::kFound) {
    // Malformed JSON and broken limits come before a missing or bad type.
    if (!walk_untyped(r, root)) return false;
    return fail_type_lookup(r, lookup);
  }

  return read_schema(r, root, type, out);
}

// The common shape in one pass: `type` is the first member and names a
// known type, so the schema walk can start at once. Returns true when the
// message is valid; false when this pass cannot vouch for it, whatever the
// reason, and read_event must decide (and word) the verdict: it checks the
// structure and trailing content before the schema, and a failed schema
// walk here says nothing of which refusal comes first.
bool read_typed_first(JsonReader& r, ThreadScratch& s, size_t size, Event* out) {
  const char* text = s.text.get();
  od::document doc;
  if (s.parser.iterate(text, size, s.text_capacity + simdjson::SIMDJSON_PADDING).get(doc)) {
    return false;
  }
  od::object root;
  if (doc.get_object().get(root) || !r.enter_depth(1)) return false;
  EventType type = EventType::kRunStart;
  bool found = false;
  for (auto member : root) {
    od::field field;
    if (std::move(member).get(field) || !is_type_key(field, text + size)) return false;
    found = read_type(field, text + size, &type) == TypeLookup::kFound;
    break;
  }
  if (!found || root.reset().error()) return false;
  if (!read_schema(r, root, type, out)) return false;
  // The walk read the whole object; nothing but space may follow it.
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

}  // namespace

EventValidator::EventValidator(const Limits& limits) : limits_(limits) {}

Status EventValidator::validate(std::string_view json, Event* out, bool* suspicious) const {
  return validator_internal::validate_by_route(limits_, json, out, suspicious,
                                               validator_internal::Route::kAny);
}

namespace validator_internal {

Status validate_by_route(const Limits& limits, std::string_view json, Event* out,
                         bool* suspicious, Route route) {
  if (suspicious != nullptr) *suspicious = false;
  if (out == nullptr) return Status::error(Code::kInvalidArgument, "event output is NULL");
  reset_event(out);
  if (json.size() > limits.max_message_bytes) {
    return Status::error(Code::kInvalid,
                         "message is " + std::to_string(json.size()) +
                             " bytes, more than max_message_bytes (" +
                             std::to_string(limits.max_message_bytes) + ")",
                         {}, "max_message_bytes");
  }
  if (json.empty()) return Status::error(Code::kParse, "message is empty", {}, "syntax");
  if (json.size() >= 3 && json.substr(0, 3) == "\xEF\xBB\xBF") {
    return Status::error(Code::kParse, "message starts with a byte order mark", {}, "bom");
  }
  if (std::memchr(json.data(), 0, json.size()) != nullptr) {
    return Status::error(Code::kParse, "message holds a NUL byte", {}, "nul");
  }

  ThreadScratch& scratch = thread_scratch();
  scratch.keys.clear();
  scratch.path.clear();
  if (auto error = load_text(scratch, json)) {
    if (error == simdjson::MEMALLOC) {
      return Status::error(Code::kInternal, "out of memory for the message", {}, "memory");
    }
    return Status::error(Code::kInvalid, "message is too large to parse", {},
                         "max_message_bytes");
  }
  if (route == Route::kAny) {
    JsonReader fast(limits, scratch, json, scratch.text.get());
    if (read_typed_first(fast, scratch, json.size(), out)) {
      out->raw = json;
      if (suspicious != nullptr) *suspicious = fast.suspicious();
      return Status::ok();
    }
    // Anything else, refusals included, takes the full route from the start.
    reset_event(out);
    scratch.keys.clear();
    scratch.path.clear();
  }
  JsonReader reader(limits, scratch, json, scratch.text.get());
  if (!read_event(reader, scratch, json.size(), out)) return reader.take_status();
  out->raw = json;
  if (suspicious != nullptr) *suspicious = reader.suspicious();
  return Status::ok();
}

}  // namespace validator_internal

}  // namespace baton
