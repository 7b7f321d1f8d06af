// EventValidator: bytes -> Event, or a refusal that names the field and rule.
//
// Parsing uses simdjson's on-demand API with one reused parser and one padded
// buffer per thread. Validation is strict: one JSON object, no trailing content,
// no duplicate keys at any depth, strict UTF-8, every field of EVENTS.md checked
// for presence and type, and every limit below enforced.
//
// Thread safety: a validator is immutable after construction; validate() may
// be called from any number of threads at once.
#ifndef BATON_VALIDATOR_H_
#define BATON_VALIDATOR_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "baton/event.h"
#include "baton/status.h"

namespace baton {

// Content that looks like script or SQL injection (`<script`, `' OR 1=1`, ...).
enum class PatternPolicy : uint8_t { kOff, kFlag, kReject };

struct Limits {
  size_t max_message_bytes = 1048576;
  uint32_t max_depth = 32;          // nesting of objects/arrays; the message itself is 1
  size_t max_string_bytes = 65536;  // any one string, after unescaping
  size_t max_array_items = 10000;
  size_t max_keys = 1000;           // keys of any one object
  size_t max_id_bytes = 128;        // run, id, suite, spec, client, lease, ...
  bool reject_unknown_fields = true;   // "unknown_fields": "reject" | "ignore"
  bool allow_absolute_paths = false;   // attachments[].path
  PatternPolicy patterns = PatternPolicy::kFlag;

  // Reads the `limits` option object (CAPI.md); keys absent keep their default.
  // Unknown keys and bad values are kInvalidArgument naming the key.
  static Status from_json(std::string_view json, Limits* out);
};

class EventValidator {
 public:
  explicit EventValidator(const Limits& limits = Limits());

  // Parses and validates one message. On success fills *out (see event.h for
  // how long its views live) and sets *suspicious when the pattern policy is
  // kFlag and a string looks like injection. On failure returns kParse (not
  // JSON, not UTF-8, trailing content) or kInvalid (schema or limit), with
  // field() and rule() set and a message naming both.
  Status validate(std::string_view json, Event* out, bool* suspicious = nullptr) const;

  const Limits& limits() const { return limits_; }

 private:
  Limits limits_;
};

}  // namespace baton

#endif  // BATON_VALIDATOR_H_
