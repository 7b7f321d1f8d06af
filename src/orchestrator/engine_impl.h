// The Orchestrator's private state, shared by its implementation files.
#ifndef BATON_ORCHESTRATOR_ENGINE_IMPL_H_
#define BATON_ORCHESTRATOR_ENGINE_IMPL_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "baton/orchestrator.h"
#include "baton/scheduler.h"
#include "baton/state.h"
#include "common/brief_mutex.h"

namespace baton {

struct PluginEntry {
  uint64_t id = 0;
  std::string name;
  std::unique_ptr<Plugin> plugin;
  uint32_t mask = kAllEventTypes;
  bool filter = false;
  bool observer = false;
  int64_t calls = 0;
  int64_t failures = 0;
  int64_t nanos = 0;
};

// Marks the calling thread as inside an engine callback for its lifetime.
class CallbackScope {
 public:
  CallbackScope();
  ~CallbackScope();
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
};

struct Orchestrator::Impl {
  explicit Impl(const EngineOptions& o)
      : options(o), validator(o.limits), replay_validator(permissive_limits()) {}

  static Limits permissive_limits() {
    Limits l;
    l.max_message_bytes = SIZE_MAX / 4;
    l.max_depth = 1024;
    l.max_string_bytes = SIZE_MAX / 4;
    l.max_array_items = SIZE_MAX / 4;
    l.max_keys = SIZE_MAX / 4;
    l.max_id_bytes = SIZE_MAX / 4;
    l.reject_unknown_fields = false;
    l.allow_absolute_paths = true;
    l.patterns = PatternPolicy::kOff;
    return l;
  }

  EngineOptions options;
  EventValidator validator;
  EventValidator replay_validator;  // stored events were valid when written
  AccessController access;
  std::unique_ptr<RateLimiter> rate;

  // Guards everything below it. Recursive so that a plugin may query the
  // engine from inside its callback; pushing from there is refused instead.
  // Held briefly by every push, so its waiters spin before they sleep.
  BriefRecursiveMutex mu;
  std::unique_ptr<StateManager> state = std::make_unique<StateManager>();
  Scheduler scheduler;
  StringMap<int64_t> client_sessions;  // open sessions per client: leases outlive all but the last
  StringMap<int64_t> client_hw;  // exactly-once high-water marks
  int64_t next_seq = 1;
  std::vector<PluginEntry> plugins;
  uint64_t next_plugin_id = 1;
  LogFn logger;
  int log_min_level = 4;
  int64_t seen_failed_commits = 0;
  std::atomic<int64_t> audit_since_commit{0};  // refusals happen outside `mu` too
  bool closed = false;

  std::atomic<int64_t> manual_now{0};
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> duplicates{0};
  std::atomic<int64_t> suspicious{0};
  std::array<std::atomic<int64_t>, 13> refused{};  // by -code
  std::atomic<int64_t> sessions_open{0};
  std::atomic<uint64_t> next_session_id{1};
  int64_t started_at = 0;

  // With the system clock, time rules (run timeouts) fire from this thread
  // even when no message arrives; with the manual clock, from clock_set.
  std::thread ticker;
  std::mutex ticker_mu;
  std::condition_variable ticker_cv;
  bool ticker_stop = false;  // ticker_mu
};

// Writes the derived rows for one applied event (shared by ingestion and by
// the rebuild that proves the tables equal the log).
void write_derived_rows(EventStore* store, const Event& ev, const ApplyResult& r, int64_t seq,
                        int64_t now_ms);

// Rebuilds `state`, the scheduler's queues and the exactly-once marks from the
// store: unfinished runs are replayed from the log, with the queue decisions
// recorded in it. Used on open and after a failed commit.
Status load_state(EventStore* store, const EventValidator& validator, StateManager* state,
                  Scheduler* scheduler, StringMap<int64_t>* client_hw, int64_t* next_seq);

// Shared stores: applies the events other engines appended to the log from
// *next_seq on, as recovery would, and moves *next_seq past them. A refusal
// means this engine's state no longer follows the log (reload it).
Status catch_up(EventStore* store, const EventValidator& validator, StateManager* state,
                Scheduler* scheduler, StringMap<int64_t>* client_hw, int64_t* next_seq);

// im.mu held. Rebuilds the engine's state from the store (after a failed
// commit, or on open); sync_shared_log() takes a shared log's lock and
// applies other engines' events (the caller commits to release it);
// follow_shared_log() applies them without the lock (no-op when unshared).
Status reload_state(Orchestrator::Impl& im, EventStore* store);
// im.mu held. reload_state() when a commit failed since the last rebuild
// (its events are in the state but not in the log); `*reloaded` (optional)
// says whether it ran.
Status reload_if_stale(Orchestrator::Impl& im, EventStore* store, bool* reloaded = nullptr);
Status sync_shared_log(Orchestrator::Impl& im, EventStore* store);
Status follow_shared_log(Orchestrator::Impl& im, EventStore* store);

// The log record of a session whose client held leases closing: not a client
// message, so the validator never sees it; recovery and rebuild apply it.
inline constexpr std::string_view kSessionCloseType = "session.close";

// Appends `{"ok":false,...}` for a refusal.
void refusal_reply(const Status& s, std::string* reply);

}  // namespace baton

#endif  // BATON_ORCHESTRATOR_ENGINE_IMPL_H_
