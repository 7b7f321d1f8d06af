// Scheduler: queue mode. A run.start with a plan queues its specs; workers
// claim them under leases, report them with spec.end, and the run completes by
// itself when every spec is done (docs/queue.md has the protocol).
//
// Ordering is longest expected duration first (LPT), the expectation taken
// from spec history in the store (median of the last few passed durations on
// the run's platform), else the plan's estimate_ms, else the median of the
// known ones; specs that finally failed in the previous run of the same build
// name go first unless config.failed_first is false.
//
// Determinism is what makes the queue survive a restart. Every rule is a pure
// function of the logged events and their receive times, except two inputs
// that are logged with the event that used them: the expected durations of a
// new plan (appended to the stored run.start as "scheduled") and the specs a
// claim handed out (appended to the stored queue.claim as "granted"). Replay
// applies those recorded decisions instead of deciding again. Lease expiry is
// never a mutation of its own: a lease whose deadline has passed simply counts
// as queued, so it needs no log record; the holder's messages extend its
// leases. Time rules that change a run's outcome with no message (run timeout,
// a cancelled run whose last leases expired) are logged as ordinary run.end /
// run.cancel events that the engine synthesizes (see due_events).
//
// Thread safety: none; the Orchestrator serializes every call, as for the
// StateManager whose RunStates hold the queues.
#ifndef BATON_SCHEDULER_H_
#define BATON_SCHEDULER_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "baton/event.h"
#include "baton/state.h"
#include "baton/status.h"

namespace baton {

class EventStore;

enum class SpecState : uint8_t { kQueued, kLeased, kDone };
// "queued", "leased", "done".
const char* spec_state_name(SpecState state);

struct SpecEntry {
  std::string id;
  int64_t estimate_ms = -1;  // from the plan, -1: absent
  int64_t expected_ms = 0;   // the expectation the order used
  bool failed_last = false;  // finally failed in the previous run of the build name
  uint32_t rank = 0;         // position in claim order (0 first)
  SpecState state = SpecState::kQueued;
  TestStatus status = TestStatus::kNone;  // last ended attempt; final once done
  bool flaky = false;
  int64_t attempts = 0;  // grants so far
  int64_t failures = 0;  // attempts that ended failed, timedout or interrupted
  uint32_t holder = 0;   // interned client holding the lease (0: none)
  uint32_t worker_id = 0;  // interned worker label of the last grant
  uint32_t avoid = 0;    // interned worker a retry prefers not to go to
  uint32_t leased_pos = 0;  // index in RunQueue::leased while leased
  std::string worker;    // worker label of the last grant
  std::string platform;  // platform of the last grant
  std::string lease;
  int64_t granted_at = 0;
  int64_t grant_seq = 0;  // the claim event that granted the lease
  int64_t lease_ms = 0;
  int64_t deadline = 0;        // extended by the holder's messages
  int64_t grant_deadline = 0;  // the deadline set by the grant (the stored row's)
  double duration_ms = -1;
};

struct SpecCounts {
  int64_t total = 0, queued = 0, leased = 0, done = 0;
};

// One run's queue. Lives in RunState::queue.
struct RunQueue {
  std::vector<SpecEntry> specs;   // plan order
  StringMap<uint32_t> index;      // spec id -> position in specs
  std::vector<uint32_t> by_rank;  // rank -> position in specs
  std::set<uint32_t> ready;       // ranks of queued specs
  std::vector<uint32_t> leased;   // positions of leased specs (some may be past deadline)
  uint64_t plan_hash = 0;         // of the sorted spec ids: a joining plan must match
  int64_t lease_ms = 60000;
  int64_t retries = 0;
  int64_t max_failures = 0;  // 0: never auto-cancel
  int64_t final_failures = 0;
  int64_t done = 0;
  bool draining = false;  // auto-cancelled: no more claims, leased specs may finish
  bool ended = false;     // every spec is done and the run finished
};

// What the engine passes along with an event.
struct QueueContext {
  std::string_view client;  // the session's client: who holds the leases it gets
  int64_t now_ms = 0;
  int64_t seq = 0;
  // Replay: the stored payload, whose recorded decisions are applied as they
  // were made. Empty: a live push, decisions are made now.
  std::string_view recorded;
};

struct SchedulerOptions {
  int64_t default_lease_ms = 60000;
  int64_t max_wait_ms = 2000;  // cap of a claim's wait_ms
  int history_window = 3;      // passed durations whose median is the expectation
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options = SchedulerOptions()) : options_(options) {}

  // With "unknown_fields":"ignore" a client could send the fields the engine
  // records its decisions in; then admit() refuses such claims and plans.
  void set_lenient_fields(bool lenient) { lenient_fields_ = lenient; }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Forgets every client and lease count (the state is being rebuilt).
  void reset();

  // A claim for a run that has finished is answered `done` without being
  // applied or logged. True when `reply` holds that answer.
  bool answer_finished(const Event& ev, const StateManager& state, std::string* reply) const;

  // Before the state applies `ev`: refuses what the queue does not allow (a
  // differing plan, a stale lease, queue messages for a run without a plan)
  // and, for a new plan, reads the history its order needs (from `store`, or
  // from the recorded payload on replay). Changes nothing the log would not.
  Status admit(const Event& ev, const StateManager& state, const QueueContext& ctx,
               EventStore* store);

  // After the state applied `ev`: makes the queue's decisions, writes the
  // specs and spec_history rows with ctx.seq (none when `store` is null:
  // recovery, whose rows are stored already), and may finish the run through
  // `state`. Then log_fields() holds what to append to the stored payload and
  // reply_fields() what to append to the reply (both `,"key":value` text).
  void apply(const Event& ev, StateManager& state, ApplyResult* applied,
             const QueueContext& ctx, EventStore* store);
  const std::string& log_fields() const { return log_fields_; }
  const std::string& reply_fields() const { return reply_fields_; }

  // Any accepted message of `client` extends the leases it holds (that have
  // not expired). Cheap when the client holds none.
  void touch(std::string_view client, int64_t now_ms);
  // The client's last session closed: its leases end at most `grace_ms` from
  // now unless a message of the client extends them first.
  void session_closed(std::string_view client, int64_t now_ms, int64_t grace_ms);
  bool holds_leases(std::string_view client) const;
  // For a claim that is a duplicate (same client seq): appends the live leases
  // of `client` in the run from its latest claim there, as that claim's reply
  // had them (`,"spec":{...}` or `,"specs":[...]`).
  void regranted_reply(const StateManager& state, std::string_view client, const Event& ev,
                       int64_t now_ms, std::string* reply) const;

  // Messages the engine must log now because a time rule fired with no
  // message: a run.end (interrupted) for a run past config.run_timeout_ms, a
  // run.cancel for an auto-cancelled run whose remaining leases all expired.
  void due_events(const StateManager& state, int64_t now_ms,
                  std::vector<std::string>* messages) const;

  // Counts with expired leases counted as queued.
  static SpecCounts counts(const RunQueue& q, int64_t now_ms);
  // The query op `queue` for a live run: {"run","status","specs":{counts},"queue":[...]}.
  static void write_queue_json(const RunState& run, int64_t now_ms, std::string* out);

 private:
  // Drops the queues of runs that ended.
  const std::vector<std::shared_ptr<RunQueue>>& live_queues();
  uint32_t intern(std::string_view name);
  uint32_t find_id(std::string_view name) const;
  Status prepare_plan(const Event& ev, const QueueContext& ctx, EventStore* store);
  bool check_reserved(const Event& ev, const QueueContext& ctx);
  static Status reserved_field();
  bool read_recorded(std::string_view payload, const char* key, simdjson::dom::element* out);
  void create_queue(const Event& ev, RunState* run, const QueueContext& ctx, EventStore* store);
  void claim(const Event& ev, RunState* run, const QueueContext& ctx, EventStore* store);
  void replay_claim(RunState* run, const QueueContext& ctx, EventStore* store);
  void grant(RunState* run, uint32_t pos, std::string_view lease, uint32_t holder,
             std::string_view worker, uint32_t worker_id, std::string_view platform, int64_t now_ms,
             int64_t lease_ms, int64_t attempt, int64_t seq, EventStore* store);
  void spec_end(const Event& ev, StateManager& state, ApplyResult* applied,
                const QueueContext& ctx, EventStore* store);
  void release(RunQueue& q, uint32_t pos);
  void requeue(RunQueue& q, uint32_t pos);
  void finish_spec(RunState* run, uint32_t pos, TestStatus status, int64_t seq,
                   EventStore* store);
  void start_draining(RunState* run, int64_t seq, EventStore* store);
  void normalize(RunQueue& q, int64_t now_ms);
  void end_run(RunState* run, bool cancelled, int64_t seq, EventStore* store);
  void maybe_complete(RunState* run, StateManager& state, ApplyResult* applied,
                      const QueueContext& ctx, EventStore* store);
  void write_spec(const RunState& run, const SpecEntry& spec, int64_t seq, EventStore* store);

  SchedulerOptions options_;
  bool lenient_fields_ = false;
  // Interned client and worker names; lease counts per interned client.
  StringMap<uint32_t> ids_;
  std::vector<int64_t> held_;  // by id; [0] unused
  int64_t leases_total_ = 0;
  // Queues of running runs: what a lease holder's message has to look at.
  std::vector<std::shared_ptr<RunQueue>> live_queues_;

  // A new plan's expectations, between admit and apply.
  std::vector<int64_t> pending_expected_;
  std::vector<uint8_t> pending_failed_last_;

  std::string log_fields_;
  std::string reply_fields_;
  simdjson::dom::parser parser_;
};

}  // namespace baton

#endif  // BATON_SCHEDULER_H_
