// StateManager on its own: the status rules, with events built by hand.
#include <catch2/catch.hpp>

#include "baton/state.h"

using namespace baton;

namespace {

Event make(EventType type, std::string_view run, std::string_view id = {},
           TestStatus status = TestStatus::kNone, int64_t attempt = 0) {
  Event ev;
  ev.type = type;
  ev.run = run;
  ev.id = id;
  ev.name = id;
  ev.status = status;
  ev.attempt = attempt;
  return ev;
}

Status apply(StateManager& st, const Event& ev, int64_t now = 1) {
  ApplyResult r;
  return st.apply(ev, now, 1, &r);
}

}  // namespace

TEST_CASE("counts keep every test in exactly one bucket") {
  StateManager st;
  REQUIRE(apply(st, make(EventType::kRunStart, "r")).is_ok());
  RunState* run = st.find("r");
  REQUIRE(run != nullptr);
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "t")).is_ok());
  CHECK(run->counts.running == 1);
  CHECK(run->counts.tests == 1);
  REQUIRE(apply(st, make(EventType::kTestEnd, "r", "t", TestStatus::kTimedout)).is_ok());
  CHECK(run->counts.running == 0);
  CHECK(run->counts.timedout == 1);
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "t", TestStatus::kNone, 2)).is_ok());
  CHECK(run->counts.timedout == 0);
  CHECK(run->counts.running == 1);
  REQUIRE(apply(st, make(EventType::kTestEnd, "r", "t", TestStatus::kPassed, 2)).is_ok());
  CHECK(run->counts.passed == 1);
  CHECK(run->counts.flaky == 1);  // passed after a timed-out attempt
  CHECK(run->tests.at("t").flaky);
  // A third attempt failing makes it failed and no longer flaky.
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "t", TestStatus::kNone, 3)).is_ok());
  REQUIRE(apply(st, make(EventType::kTestEnd, "r", "t", TestStatus::kFailed, 3)).is_ok());
  CHECK(run->counts.flaky == 0);
  CHECK(run->counts.passed == 0);
  CHECK(run->counts.failed == 1);
  CHECK(run->counts.tests == 1);
}

TEST_CASE("a skipped test passing later is not flaky") {
  StateManager st;
  REQUIRE(apply(st, make(EventType::kRunStart, "r")).is_ok());
  REQUIRE(apply(st, make(EventType::kTestEnd, "r", "t", TestStatus::kSkipped)).is_ok());
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "t", TestStatus::kNone, 2)).is_ok());
  REQUIRE(apply(st, make(EventType::kTestEnd, "r", "t", TestStatus::kPassed, 2)).is_ok());
  CHECK(st.find("r")->counts.flaky == 0);
}

TEST_CASE("finishing a run interrupts running tests and forgets the run") {
  StateManager st;
  REQUIRE(apply(st, make(EventType::kRunStart, "r")).is_ok());
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "a")).is_ok());
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "b")).is_ok());
  REQUIRE(apply(st, make(EventType::kTestEnd, "r", "b", TestStatus::kPassed)).is_ok());
  ApplyResult r;
  REQUIRE(st.apply(make(EventType::kRunEnd, "r"), 9, 2, &r).is_ok());
  CHECK(r.run_finished);
  REQUIRE(r.interrupted.size() == 1);
  CHECK(r.interrupted[0].first == "a");
  CHECK(r.run->status == RunStatus::kFailed);
  CHECK(r.run->counts.interrupted == 1);
  CHECK(r.run->ended_at == 9);
  st.forget("r");
  CHECK(st.find("r") == nullptr);
  CHECK(st.is_finished("r"));
  Status s = apply(st, make(EventType::kTestStart, "r", "c"));
  CHECK(s.code() == Code::kConflict);
}

TEST_CASE("attempts never go backwards") {
  StateManager st;
  REQUIRE(apply(st, make(EventType::kRunStart, "r")).is_ok());
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "t", TestStatus::kNone, 2)).is_ok());
  REQUIRE(apply(st, make(EventType::kTestEnd, "r", "t", TestStatus::kFailed)).is_ok());
  CHECK(apply(st, make(EventType::kTestStart, "r", "t", TestStatus::kNone, 1)).code() ==
        Code::kConflict);
  CHECK(apply(st, make(EventType::kTestStart, "r", "t", TestStatus::kNone, 2)).code() ==
        Code::kConflict);
  CHECK(apply(st, make(EventType::kTestStart, "r", "t", TestStatus::kNone, 3)).is_ok());
}

TEST_CASE("an ended attempt's live info, given back, starts the next test clean") {
  StateManager st;
  REQUIRE(apply(st, make(EventType::kRunStart, "r")).is_ok());
  Event start = make(EventType::kTestStart, "r", "a");
  start.suite = "suite-a";
  start.file = "a.spec.ts";
  start.spec = "spec-a";
  start.worker = "w1";
  REQUIRE(apply(st, start, 5).is_ok());
  ApplyResult ended;
  REQUIRE(st.apply(make(EventType::kTestEnd, "r", "a", TestStatus::kPassed), 6, 3, &ended).is_ok());
  REQUIRE(ended.ended_attempt != nullptr);
  CHECK(ended.ended_attempt->file == "a.spec.ts");
  CHECK(ended.ended_attempt->worker == "w1");
  CHECK(ended.ended_attempt->started_at == 5);
  st.recycle(std::move(ended.ended_attempt));

  // A test reported only by its end: nothing of "a" may show.
  ApplyResult only_end;
  REQUIRE(st.apply(make(EventType::kTestEnd, "r", "b", TestStatus::kSkipped), 7, 4, &only_end)
              .is_ok());
  REQUIRE(only_end.ended_attempt != nullptr);
  const LiveAttempt& b = *only_end.ended_attempt;
  CHECK(b.name == "b");
  CHECK(b.suite.empty());
  CHECK(b.file.empty());
  CHECK(b.spec.empty());
  CHECK(b.worker.empty());
  CHECK(b.started_at == 7);
  st.recycle(std::move(only_end.ended_attempt));

  // A started test gets exactly what its test.start says.
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "c"), 8).is_ok());
  ApplyResult c_end;
  REQUIRE(st.apply(make(EventType::kTestEnd, "r", "c", TestStatus::kPassed), 9, 5, &c_end).is_ok());
  REQUIRE(c_end.ended_attempt != nullptr);
  CHECK(c_end.ended_attempt->name == "c");
  CHECK(c_end.ended_attempt->file.empty());
  CHECK(c_end.ended_attempt->worker.empty());
  CHECK(c_end.ended_attempt->started_at == 8);

  // Large buffers are not kept.
  std::unique_ptr<LiveAttempt> big = std::make_unique<LiveAttempt>();
  big->name.assign(1 << 20, 'x');
  st.recycle(std::move(big));
  REQUIRE(apply(st, make(EventType::kTestStart, "r", "d"), 10).is_ok());
  CHECK(st.find("r")->tests.at("d").live->name.capacity() < (1u << 20));
}
