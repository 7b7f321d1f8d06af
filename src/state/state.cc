#include "baton/state.h"

#include <array>

#include <fmt/format.h>

namespace baton {

namespace {

constexpr std::array<const char*, 5> kRunStatusNames = {"running", "passed", "failed",
                                                        "cancelled", "interrupted"};

Status conflict(std::string message, std::string field = "run") {
  return Status::error(Code::kConflict, std::move(message), std::move(field), "state");
}

int64_t* bucket(Counts* c, TestStatus s) {
  switch (s) {
    case TestStatus::kPassed: return &c->passed;
    case TestStatus::kFailed: return &c->failed;
    case TestStatus::kSkipped: return &c->skipped;
    case TestStatus::kTimedout: return &c->timedout;
    case TestStatus::kInterrupted: return &c->interrupted;
    case TestStatus::kNone: return nullptr;
  }
  return nullptr;
}

}  // namespace

const char* run_status_name(RunStatus status) {
  auto i = static_cast<size_t>(status);
  return i < kRunStatusNames.size() ? kRunStatusNames[i] : "unknown";
}

bool parse_run_status(std::string_view text, RunStatus* out) {
  for (size_t i = 0; i < kRunStatusNames.size(); ++i) {
    if (text == kRunStatusNames[i]) {
      *out = static_cast<RunStatus>(i);
      return true;
    }
  }
  return false;
}

// A test sits in exactly one bucket: running while an attempt is open, else
// the status of its last ended attempt. Flaky tests are also in `passed`.
void StateManager::count_out(Counts* c, const TestState& t) {
  if (t.running) {
    --c->running;
  } else if (int64_t* b = bucket(c, t.status)) {
    --*b;
  }
  if (t.flaky) --c->flaky;
}

void StateManager::count_in(Counts* c, const TestState& t) {
  if (t.running) {
    ++c->running;
  } else if (int64_t* b = bucket(c, t.status)) {
    ++*b;
  }
  if (t.flaky) ++c->flaky;
}

RunState* StateManager::find(std::string_view run) {
  auto it = runs_.find(run);
  return it == runs_.end() ? nullptr : it->second.get();
}

const RunState* StateManager::find(std::string_view run) const {
  auto it = runs_.find(run);
  return it == runs_.end() ? nullptr : it->second.get();
}

RunState* StateManager::find_build(std::string_view build) {
  if (build.empty()) return nullptr;
  auto it = builds_.find(build);
  return it == builds_.end() ? nullptr : find(it->second);
}

const RunState* StateManager::find_build(std::string_view build) const {
  if (build.empty()) return nullptr;
  auto it = builds_.find(build);
  return it == builds_.end() ? nullptr : find(it->second);
}

void StateManager::forget(std::string_view run) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  if (!it->second->build.empty()) {
    auto b = builds_.find(it->second->build);
    if (b != builds_.end() && b->second == run) builds_.erase(b);
  }
  mark_finished(it->first);
  runs_.erase(it);
}

void StateManager::mark_finished(std::string_view run) {
  if (!finished_.emplace(run).second) return;
  finished_order_.emplace_back(run);
  if (finished_order_.size() > kFinishedRemembered) {
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

size_t StateManager::tracked_tests() const {
  size_t n = 0;
  for (const auto& [id, run] : runs_) n += run->tests.size();
  return n;
}

Status StateManager::apply(const Event& ev, int64_t now_ms, int64_t seq, ApplyResult* r) {
  if (ev.type == EventType::kRunStart) return apply_run_start(ev, now_ms, seq, r);
  if (ev.type == EventType::kWorkerHeartbeat) return Status::ok();

  RunState* run = find(ev.run);
  if (run == nullptr) {
    if (is_finished(ev.run)) {
      return conflict(fmt::format("run \"{}\" has already finished", ev.run));
    }
    return conflict(fmt::format("run \"{}\" is unknown: send run.start first", ev.run));
  }
  if (run->status != RunStatus::kRunning) {
    return conflict(fmt::format("run \"{}\" has already finished ({})", ev.run,
                                run_status_name(run->status)));
  }
  r->run = run;

  switch (ev.type) {
    case EventType::kRunEnd: {
      RunStatus status = RunStatus::kRunning;
      if (!ev.status_text.empty() && !parse_run_status(ev.status_text, &status)) {
        return Status::error(Code::kInvalid,
                             fmt::format("field \"status\" of run.end must be passed, failed, "
                                         "cancelled or interrupted, not \"{}\"",
                                         ev.status_text),
                             "status", "enum");
      }
      finish_run(run, status, now_ms, r);
      return Status::ok();
    }
    case EventType::kRunCancel:
      finish_run(run, RunStatus::kCancelled, now_ms, r);
      return Status::ok();
    case EventType::kSuiteStart: {
      auto [it, inserted] = run->suites.try_emplace(std::string(ev.id));
      SuiteState& s = it->second;
      if (!inserted && s.ended_at == 0) {
        return conflict(fmt::format("suite \"{}\" of run \"{}\" has already started", ev.id,
                                    ev.run),
                        "id");
      }
      s.name.assign(ev.name);
      s.parent.assign(ev.parent);
      s.file.assign(ev.file);
      s.started_at = now_ms;
      s.ended_at = 0;
      r->suite = &s;
      r->suite_id = it->first;
      return Status::ok();
    }
    case EventType::kSuiteEnd: {
      auto it = run->suites.find(ev.id);
      if (it == run->suites.end()) {
        return conflict(fmt::format("suite \"{}\" of run \"{}\" was never started", ev.id, ev.run),
                        "id");
      }
      if (it->second.ended_at != 0) {
        return conflict(fmt::format("suite \"{}\" of run \"{}\" has already ended", ev.id, ev.run),
                        "id");
      }
      it->second.ended_at = now_ms;
      r->suite = &it->second;
      r->suite_id = it->first;
      return Status::ok();
    }
    case EventType::kTestStart:
      return apply_test_start(run, ev, now_ms, r);
    case EventType::kTestEnd:
      return apply_test_end(run, ev, now_ms, r);
    case EventType::kTestLog: {
      if (run->tests.find(ev.id) == run->tests.end()) {
        return conflict(
            fmt::format("test \"{}\" of run \"{}\" is unknown: send test.start first", ev.id,
                        ev.run),
            "id");
      }
      return Status::ok();
    }
    default:
      // Queue messages are the Scheduler's; the run is known and running.
      return Status::ok();
  }
}

Status StateManager::apply_run_start(const Event& ev, int64_t now_ms, int64_t seq,
                                     ApplyResult* r) {
  if (RunState* run = find(ev.run)) {
    if (run->status != RunStatus::kRunning) {
      return conflict(fmt::format("run \"{}\" has already finished ({})", ev.run,
                                  run_status_name(run->status)));
    }
    r->run = run;
    r->run_joined = true;
    return Status::ok();
  }
  if (is_finished(ev.run)) {
    return conflict(fmt::format("run \"{}\" has already finished", ev.run));
  }
  // Every worker of one CI build joins the same run, whatever run id it made up.
  if (RunState* same_build = find_build(ev.build);
      same_build != nullptr && same_build->status == RunStatus::kRunning) {
    r->run = same_build;
    r->run_joined = true;
    r->run_aliased = true;
    return Status::ok();
  }
  auto owned = std::make_unique<RunState>();
  RunState* run = owned.get();
  run->id.assign(ev.run);
  run->name.assign(ev.name.empty() ? ev.run : ev.name);
  run->build.assign(ev.build);
  run->platform.assign(ev.platform);
  run->config_raw.assign(ev.config_raw);
  run->config = ev.config;
  run->started_at = now_ms;
  run->first_seq = seq;
  runs_.emplace(run->id, std::move(owned));
  if (!run->build.empty()) builds_[run->build] = run->id;
  r->run = run;
  r->run_started = true;
  return Status::ok();
}

Status StateManager::apply_test_start(RunState* run, const Event& ev, int64_t now_ms,
                                      ApplyResult* r) {
  int64_t attempt = ev.attempt > 0 ? ev.attempt : 1;
  auto [it, inserted] = run->tests.try_emplace(std::string(ev.id));
  TestState& t = it->second;
  if (!inserted) {
    if (t.running && attempt == t.attempt) {
      return conflict(fmt::format("attempt {} of test \"{}\" has already started", attempt, ev.id),
                      "attempt");
    }
    if (attempt < t.attempt || (attempt == t.attempt && !t.running)) {
      return conflict(fmt::format("attempt {} of test \"{}\" is not after attempt {}", attempt,
                                  ev.id, t.attempt),
                      "attempt");
    }
    count_out(&run->counts, t);
  } else {
    ++run->counts.tests;
  }
  if (attempt > 0xffff) {
    return Status::error(Code::kInvalid, "field \"attempt\" must be at most 65535", "attempt",
                         "range");
  }
  t.attempt = static_cast<uint16_t>(attempt);
  t.running = true;
  t.flaky = false;
  if (!t.live) t.live = take_live();
  LiveAttempt& live = *t.live;
  live.name.assign(ev.name);
  live.suite.assign(ev.suite);
  live.file.assign(ev.file);
  live.spec.assign(ev.spec);
  live.worker.assign(ev.worker);
  live.started_at = now_ms;
  count_in(&run->counts, t);
  r->test = &t;
  r->test_id = it->first;
  return Status::ok();
}

Status StateManager::apply_test_end(RunState* run, const Event& ev, int64_t now_ms,
                                    ApplyResult* r) {
  auto it = run->tests.find(ev.id);
  int64_t attempt = ev.attempt;
  if (it == run->tests.end()) {
    // A test reported only by its end (skipped tests often are) still counts.
    if (attempt == 0) attempt = 1;
    if (attempt > 0xffff) {
      return Status::error(Code::kInvalid, "field \"attempt\" must be at most 65535", "attempt",
                           "range");
    }
    it = run->tests.try_emplace(std::string(ev.id)).first;
    ++run->counts.tests;
    TestState& t = it->second;
    t.attempt = static_cast<uint16_t>(attempt);
    t.live = take_live();
    t.live->name.assign(ev.id);
    t.live->suite.assign(ev.suite);
    t.live->started_at = now_ms;
    t.running = true;
    ++run->counts.running;
  }
  TestState& t = it->second;
  if (attempt == 0) attempt = t.attempt;
  if (!t.running || attempt != t.attempt) {
    return conflict(fmt::format("attempt {} of test \"{}\" is not running", attempt, ev.id),
                    "attempt");
  }
  count_out(&run->counts, t);
  t.running = false;
  t.status = ev.status;
  bool failed = ev.status == TestStatus::kFailed || ev.status == TestStatus::kTimedout;
  t.flaky = ev.status == TestStatus::kPassed && t.failed_before;
  if (failed) t.failed_before = true;
  count_in(&run->counts, t);
  r->test = &t;
  r->test_id = it->first;
  r->ended_attempt = std::move(t.live);
  if (!r->ended_attempt) r->ended_attempt = std::make_unique<LiveAttempt>();
  if (!ev.suite.empty()) r->ended_attempt->suite.assign(ev.suite);
  r->ended_attempt_no = attempt;
  (void)now_ms;
  return Status::ok();
}

std::unique_ptr<LiveAttempt> StateManager::take_live() {
  if (spare_live_.empty()) return std::make_unique<LiveAttempt>();
  std::unique_ptr<LiveAttempt> live = std::move(spare_live_.back());
  spare_live_.pop_back();
  return live;
}

void StateManager::recycle(std::unique_ptr<LiveAttempt> live) {
  if (!live || spare_live_.size() >= kSpareLive) return;
  for (std::string* s : {&live->name, &live->suite, &live->file, &live->spec, &live->worker}) {
    if (s->capacity() > kSpareLiveBytes) return;
    s->clear();
  }
  live->started_at = 0;
  spare_live_.push_back(std::move(live));
}

void StateManager::finish_run(RunState* run, RunStatus status, int64_t now_ms, ApplyResult* r) {
  for (auto& [id, t] : run->tests) {
    if (!t.running) continue;
    count_out(&run->counts, t);
    t.running = false;
    t.status = TestStatus::kInterrupted;
    t.flaky = false;
    count_in(&run->counts, t);
    std::unique_ptr<LiveAttempt> live = std::move(t.live);
    if (!live) live = std::make_unique<LiveAttempt>();
    r->interrupted.emplace_back(id, std::move(live));
  }
  if (status == RunStatus::kRunning) {
    const Counts& c = run->counts;
    status = (c.failed + c.timedout + c.interrupted) > 0 ? RunStatus::kFailed : RunStatus::kPassed;
  }
  run->status = status;
  run->ended_at = now_ms;
  r->run = run;
  r->run_finished = true;
}

}  // namespace baton
