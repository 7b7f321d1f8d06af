// Orchestrator: one baton engine. Wires the pipeline of a push
//
//   bytes -> validator -> access -> rate limiter -> dedupe (client, seq)
//         -> filter plugins -> state (+ scheduler) -> store -> observers -> reply
//
// and owns sessions, queries, exports and replay. The C ABI's baton_engine
// wraps one Orchestrator and baton_session one Session.
//
// Thread safety: every method may be called from any thread. Parsing and
// validation run on the caller's thread; applying to the state and plugin
// dispatch are serialized per engine; commits are grouped across threads.
// A Session must be used by one thread at a time.
#ifndef BATON_ORCHESTRATOR_H_
#define BATON_ORCHESTRATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "baton/access.h"
#include "baton/plugin.h"
#include "baton/rate_limiter.h"
#include "baton/status.h"
#include "baton/store.h"
#include "baton/validator.h"

namespace baton {

struct EngineOptions {
  std::string store_kind = "sqlite";  // "sqlite" | "postgresql"
  StoreOptions store;
  bool manual_clock = false;
  Limits limits;
  RateLimitOptions rate_limit;
  std::string access_json;   // empty: open mode
  std::string plugins_json;  // {"name": {settings}, ...}
  int64_t session_grace_ms = 30000;  // leases of a closed session survive this long

  // Parses baton_open's options (CAPI.md). kInvalidArgument naming the key.
  static Status from_json(std::string_view json, EngineOptions* out);
};

class Orchestrator;

class Session {
 public:
  ~Session();
  const Principal& principal() const { return principal_; }
  uint64_t id() const { return id_; }

 private:
  friend class Orchestrator;
  Session(Orchestrator* engine, Principal principal, uint64_t id)
      : engine_(engine), principal_(std::move(principal)), id_(id) {}
  Orchestrator* engine_;
  Principal principal_;
  uint64_t id_;
  bool closed_ = false;
};

using LogFn = std::function<void(int level, std::string_view message)>;
// Return false to stop.
using ReplayFn = std::function<bool(const PluginEvent& ev)>;

class Orchestrator final : public PluginHost {
 public:
  static Status open(const EngineOptions& options, std::unique_ptr<Orchestrator>* out);
  ~Orchestrator() override;
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  // Flushes, detaches every plugin, closes the store. Idempotent.
  Status close();

  Status open_session(std::string_view credentials_json, std::unique_ptr<Session>* out);
  // Leases held by the session are released after the grace period.
  void close_session(Session* session);

  // Pushes one message; *reply always gets the JSON reply (success or refusal).
  Status push(Session* session, std::string_view message, std::string* reply);

  Status query(std::string_view request_json, std::string* answer) override;
  // A query on behalf of a session: needs the viewer or admin role.
  Status query_as(const Session* session, std::string_view request_json, std::string* answer);
  Status export_run(std::string_view run, std::string_view format, std::string* out) override;
  void log(int level, std::string_view message) override;

  Status flush();
  Status clock_set(int64_t now_ms);
  Status access_reload(std::string_view access_json);

  Status add_plugin(std::string_view name, std::unique_ptr<Plugin> plugin, uint64_t* id);
  Status remove_plugin(uint64_t id);
  void set_logger(LogFn fn, int min_level);

  // Streams stored events in sequence order. Filter: {"run", "from_seq", "types"}.
  Status replay(std::string_view filter_json, const ReplayFn& fn);

  int64_t now_ms() const;
  EventStore* store() { return store_.get(); }

  struct Impl;

 private:
  Orchestrator();
  // Logs and applies what the time rules decided at now_ms() (run timeouts,
  // drained cancels); called by the ticker thread and by clock_set.
  void fire_due_events();
  void tick_loop();
  // Shows observers a run.end for a run that completed by itself.
  void observe_run_finished(Impl& im, std::string_view run, std::string_view status,
                            int64_t seq);
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<EventStore> store_;
};

// Replays every event of `log` in order, with its recorded receive time, into
// a fresh state and writes the events and their derived rows into `out` (an
// empty store). The derived tables of `out` then hold what the log alone
// implies; comparing them with `log`'s proves the live tables right.
Status rebuild_from_log(EventStore* log, EventStore* out);

// True while the calling thread is inside a plugin, logger or replay callback.
bool in_engine_callback();

}  // namespace baton

#endif  // BATON_ORCHESTRATOR_H_
