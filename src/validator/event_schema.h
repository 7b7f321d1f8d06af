// The message schema of EVENTS.md: which top-level fields each message type
// allows and requires, and how each field's value is read into an Event.
#ifndef BATON_VALIDATOR_EVENT_SCHEMA_H_
#define BATON_VALIDATOR_EVENT_SCHEMA_H_

#include <cstdint>
#include <string_view>

#include "baton/event.h"
#include "validator/reader.h"

namespace baton::validator_internal {

// Reads the top-level members of one message of a known type into an Event.
// The caller walks the root object (so that limits and duplicate keys are
// checked there) and hands each member to read_member, then calls finish.
class EventSchemaReader {
 public:
  EventSchemaReader(JsonReader& reader, EventType type, Event* out)
      : reader_(reader), type_(type), out_(out) {}

  bool read_member(std::string_view key, od::value& value);
  // Refuses the message when a required field was absent.
  bool finish();

 private:
  bool read_field(int field, od::value& value);
  bool read_text(od::value& value, std::string_view* out, bool check_pattern);
  bool read_status(od::value& value);
  bool read_level(od::value& value);
  bool read_meta(od::value& value);
  bool read_error(od::value& value);
  bool read_attachments(od::value& value);
  bool read_attachment(od::value& item);
  bool read_plan(od::value& value);
  bool read_plan_spec(od::value& item);
  bool check_unique_specs();
  bool read_config(od::value& value);

  JsonReader& reader_;
  EventType type_;
  Event* out_;
  uint32_t seen_ = 0;  // one bit per field of the schema
};

}  // namespace baton::validator_internal

#endif  // BATON_VALIDATOR_EVENT_SCHEMA_H_
