// Derived rows: what each applied event writes beside the log.
//
// Rows are written when something is final (a run starts or ends, a suite
// starts or ends, an attempt ends), so a running test costs no row writes;
// after a crash, unfinished runs are rebuilt by replaying their events.
#include "orchestrator/engine_impl.h"

namespace baton {

namespace {

void write_run(EventStore* store, const RunState& run, int64_t seq) {
  const Counts& c = run.counts;
  bool ended = run.status != RunStatus::kRunning;
  store->write(Stmt::kUpsertRun,
               {run.id, run.name, Value::text_or_null(run.build),
                Value::text_or_null(run.platform), run_status_name(run.status), run.started_at,
                ended ? Value(run.ended_at) : Value(), run.first_seq,
                ended ? Value(seq) : Value(), c.tests, c.passed, c.failed, c.skipped,
                c.timedout, c.interrupted, c.flaky, Value::text_or_null(run.config_raw)},
               seq);
}

void write_attempt(EventStore* store, std::string_view run, std::string_view test,
                   int64_t attempt, const LiveAttempt& live, TestStatus status, bool flaky,
                   int64_t ended_at, const Event* ev, int64_t seq) {
  Value duration, error_message, error, out, err, attachments;
  if (ev != nullptr) {
    if (ev->duration_ms >= 0) duration = Value(ev->duration_ms);
    error_message = Value::text_or_null(ev->error_message);
    error = Value::text_or_null(ev->error);
    out = Value::text_or_null(ev->stdout_text);
    err = Value::text_or_null(ev->stderr_text);
    attachments = Value::text_or_null(ev->attachments);
  }
  std::string_view name = live.name.empty() ? test : std::string_view(live.name);
  store->write(Stmt::kUpsertAttempt,
               {run, test, attempt, name, Value::text_or_null(live.suite),
                Value::text_or_null(live.file), Value::text_or_null(live.spec),
                Value::text_or_null(live.worker), test_status_name(status), flaky ? 1 : 0,
                live.started_at, ended_at, duration, error_message, error, out, err,
                attachments},
               seq);
}

}  // namespace

void write_derived_rows(EventStore* store, const Event& ev, const ApplyResult& r, int64_t seq,
                        int64_t now_ms) {
  if (r.run == nullptr) return;
  if (r.run_started) write_run(store, *r.run, seq);
  if (r.suite != nullptr) {
    const SuiteState& s = *r.suite;
    store->write(Stmt::kUpsertSuite,
                 {r.run->id, r.suite_id, Value::text_or_null(s.name),
                  Value::text_or_null(s.parent), Value::text_or_null(s.file), s.started_at,
                  s.ended_at ? Value(s.ended_at) : Value()},
                 seq);
  }
  if (r.ended_attempt && r.test != nullptr) {
    write_attempt(store, r.run->id, r.test_id, r.ended_attempt_no, *r.ended_attempt,
                  r.test->status, r.test->flaky, now_ms, &ev, seq);
  }
  for (const auto& [test_id, live] : r.interrupted) {
    auto it = r.run->tests.find(test_id);
    int64_t attempt = it == r.run->tests.end() ? 1 : it->second.attempt;
    write_attempt(store, r.run->id, test_id, attempt, *live, TestStatus::kInterrupted, false,
                  now_ms, nullptr, seq);
  }
  if (r.run_finished) write_run(store, *r.run, seq);
}

}  // namespace baton
