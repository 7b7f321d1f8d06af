// StateManager: the in-memory truth of every unfinished run.
//
// Runs, suites, tests and attempts, with the status rules of EVENTS.md: a
// test's final status is that of its last attempt; a test is flaky when it
// finally passed after an earlier failed or timed-out attempt; run.end with
// tests still running marks them interrupted. Finished runs are dropped from
// memory (their rows live in the store) but their ids are remembered so that
// late messages are refused as `conflict`.
//
// Memory: a test costs its id plus a few bytes of status while it is idle;
// descriptive fields (name, file, ...) are kept only while an attempt runs.
//
// Thread safety: none; the Orchestrator serializes every call.
#ifndef BATON_STATE_H_
#define BATON_STATE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "baton/event.h"
#include "baton/status.h"

namespace baton {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

enum class RunStatus : uint8_t { kRunning, kPassed, kFailed, kCancelled, kInterrupted };
const char* run_status_name(RunStatus status);
bool parse_run_status(std::string_view text, RunStatus* out);

struct Counts {
  int64_t tests = 0;
  int64_t passed = 0;  // includes flaky
  int64_t failed = 0;
  int64_t skipped = 0;
  int64_t timedout = 0;
  int64_t interrupted = 0;
  int64_t flaky = 0;
  int64_t running = 0;
};

// What an attempt in progress needs until its test.end.
struct LiveAttempt {
  std::string name;
  std::string suite;
  std::string file;
  std::string spec;
  std::string worker;
  int64_t started_at = 0;
};

struct TestState {
  TestStatus status = TestStatus::kNone;  // of the last attempt that ended
  uint16_t attempt = 0;                   // highest attempt seen
  bool running = false;
  bool failed_before = false;  // some attempt ended failed or timedout
  bool flaky = false;
  std::unique_ptr<LiveAttempt> live;  // set while an attempt runs
};

struct SuiteState {
  std::string name;
  std::string parent;
  std::string file;
  int64_t started_at = 0;
  int64_t ended_at = 0;
};

struct RunQueue;  // queue mode state, owned by the Scheduler (scheduler.h)

struct RunState {
  std::string id;
  std::string name;
  std::string build;
  std::string platform;
  std::string config_raw;  // run.start config object as sent
  RunConfig config;
  RunStatus status = RunStatus::kRunning;
  int64_t started_at = 0;
  int64_t ended_at = 0;
  int64_t first_seq = 0;  // first event of the run in the log
  Counts counts;
  StringMap<SuiteState> suites;
  StringMap<TestState> tests;
  std::shared_ptr<RunQueue> queue;  // null unless run.start carried a plan
};

// What one applied event changed, for the store's derived rows.
struct ApplyResult {
  RunState* run = nullptr;
  bool run_started = false;   // a new run was created
  bool run_joined = false;    // run.start for a run that already existed
  bool run_aliased = false;   // joined the running run of the same build under another id
  bool run_finished = false;  // the run reached a final status
  const SuiteState* suite = nullptr;  // suite.start / suite.end touched it
  std::string_view suite_id;
  // test.end: the attempt that ended (live info moved out of the test).
  const TestState* test = nullptr;
  std::string_view test_id;
  std::unique_ptr<LiveAttempt> ended_attempt;
  int64_t ended_attempt_no = 0;
  // Tests marked interrupted by run.end / cancel / timeout: (id, attempt info).
  std::vector<std::pair<std::string, std::unique_ptr<LiveAttempt>>> interrupted;
};

class StateManager {
 public:
  StateManager() = default;
  StateManager(const StateManager&) = delete;
  StateManager& operator=(const StateManager&) = delete;

  // Checks `ev` against the current state and applies it. Refuses with
  // kConflict (unknown run, finished run, attempt going backwards, ...) and
  // changes nothing then. `now_ms` is the engine's clock; `seq` the global
  // sequence number the event will have in the log.
  Status apply(const Event& ev, int64_t now_ms, int64_t seq, ApplyResult* result);

  // Ends a run (run.end, run.cancel, queue completion, timeout): every running
  // test becomes interrupted. `status` kRunning means "compute from counts".
  void finish_run(RunState* run, RunStatus status, int64_t now_ms, ApplyResult* result);

  RunState* find(std::string_view run);
  const RunState* find(std::string_view run) const;
  // A run that finished and was dropped from memory.
  // Only the most recent kFinishedRemembered ids are kept: the engine falls
  // back to the store's runs table for older ones, so memory stays bounded.
  bool is_finished(std::string_view run) const { return finished_.count(run) > 0; }
  void mark_finished(std::string_view run);
  // Drops a finished run from memory (after its rows are written).
  void forget(std::string_view run);
  // Takes back an ended attempt's live info once its row is written: the
  // next test.start reuses it, strings' buffers and all, instead of
  // allocating them again. A few are kept; larger ones are freed.
  void recycle(std::unique_ptr<LiveAttempt> live);

  size_t run_count() const { return runs_.size(); }
  // The running run started for CI build `build`, or null.
  RunState* find_build(std::string_view build);
  const RunState* find_build(std::string_view build) const;
  const StringMap<std::unique_ptr<RunState>>& runs() const { return runs_; }
  // Approximate heap bytes held, for stats and the memory benchmark.
  size_t tracked_tests() const;

 private:
  Status apply_run_start(const Event& ev, int64_t now_ms, int64_t seq, ApplyResult* r);
  Status apply_test_start(RunState* run, const Event& ev, int64_t now_ms, ApplyResult* r);
  Status apply_test_end(RunState* run, const Event& ev, int64_t now_ms, ApplyResult* r);
  static void count_out(Counts* c, const TestState& t);
  static void count_in(Counts* c, const TestState& t);
  std::unique_ptr<LiveAttempt> take_live();

  static constexpr size_t kSpareLive = 64;
  static constexpr size_t kSpareLiveBytes = 1024;  // per string, kept capacity
  std::vector<std::unique_ptr<LiveAttempt>> spare_live_;

  StringMap<std::unique_ptr<RunState>> runs_;
  static constexpr size_t kFinishedRemembered = 65536;
  StringSet finished_;
  std::deque<std::string> finished_order_;  // oldest first
  StringMap<std::string> builds_;  // build -> id of its running run
};

}  // namespace baton

#endif  // BATON_STATE_H_
