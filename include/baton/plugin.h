// Plugins: filters that may rewrite or refuse an event before it is applied,
// and observers that see every applied (and, in normal/full durability,
// committed) event. Built-in reporters and policies are plugins too; the C
// ABI's baton_plugin_add adapts function pointers to this interface.
//
// Plugins run in registration order. A filter that fails refuses the event
// (fail closed: a broken redaction filter must not leak); an observer that
// fails is counted and timed in stats and never affects ingestion. Plugins of
// one engine are never called concurrently and never re-entered.
#ifndef BATON_PLUGIN_H_
#define BATON_PLUGIN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "baton/event.h"
#include "baton/status.h"

namespace baton {

class EventValidator;

// The event a plugin sees. Borrowed: valid only during the call.
class PluginEvent {
 public:
  PluginEvent(const Event* event, std::string_view json, int64_t seq)
      : event_(event), json_(json), seq_(seq) {}

  EventType type() const { return event_->type; }
  const char* type_name() const { return event_type_name(event_->type); }
  // Typed accessors: run(), id(), status(), ... through the parsed Event.
  const Event& event() const { return *event_; }
  // The message as it will be (or was) stored.
  std::string_view json() const { return json_; }
  // The global sequence number; 0 during the filter stage.
  int64_t seq() const { return seq_; }
  bool in_filter_stage() const { return replacement_ != nullptr; }

  // Filter stage only: replaces the message. The engine validates the new
  // JSON before the next plugin runs; an invalid replacement refuses the event.
  Status replace(std::string_view json) {
    if (replacement_ == nullptr) {
      return Status::error(Code::kInvalidArgument,
                           "an event can be replaced only during the filter stage");
    }
    replacement_->assign(json);
    replaced_ = true;
    return Status::ok();
  }

  // Engine side.
  void set_filter_stage(std::string* replacement) { replacement_ = replacement; replaced_ = false; }
  bool replaced() const { return replaced_; }
  void rebind(const Event* event, std::string_view json) { event_ = event; json_ = json; }

 private:
  const Event* event_;
  std::string_view json_;
  int64_t seq_;
  std::string* replacement_ = nullptr;
  bool replaced_ = false;
};

// What the engine offers plugins: read access to runs and reports, and its log.
class PluginHost {
 public:
  virtual ~PluginHost() = default;
  // A query as baton_query takes it; the answer is JSON.
  virtual Status query(std::string_view request_json, std::string* answer) = 0;
  // An export as baton_export makes it ("json", "junit", "ctrf", "html").
  virtual Status export_run(std::string_view run, std::string_view format, std::string* out) = 0;
  virtual void log(int level, std::string_view message) = 0;
};

class Plugin {
 public:
  virtual ~Plugin() = default;

  // Only events whose type bit is set reach this plugin.
  virtual uint32_t event_mask() const { return kAllEventTypes; }
  virtual bool has_filter() const { return false; }
  virtual bool has_observer() const { return true; }

  // Called once when added to an engine, before any event.
  virtual void attach(PluginHost* host) { (void)host; }
  // ok keeps the event (maybe replaced); kRejected drops it; anything else
  // refuses it too.
  virtual Status filter(PluginEvent& ev) { (void)ev; return Status::ok(); }
  virtual Status observe(const PluginEvent& ev) { (void)ev; return Status::ok(); }
  // Appends reply fields for an accepted event, as `,"key":value` JSON text
  // (the retry policy's `"retry"`, the screenshot policy's `"capture"`).
  // Called after the event is applied, before observers.
  virtual void annotate_reply(const PluginEvent& ev, std::string* fields) {
    (void)ev;
    (void)fields;
  }
  // The engine is closing: write final reports, release resources. Called once.
  virtual void detach() {}
};

// Builds the built-in plugin `name` ("console", "json", "junit", ...) from its
// settings object. kInvalidArgument for an unknown name or bad settings.
Status make_builtin_plugin(std::string_view name, std::string_view settings_json,
                           std::unique_ptr<Plugin>* out);

}  // namespace baton

#endif  // BATON_PLUGIN_H_
