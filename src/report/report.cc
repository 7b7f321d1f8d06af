#include "report/report.h"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "common/json_writer.h"

namespace baton {

Status load_run_report(EventStore* store, const RunState* live, std::string_view run,
                       RunReport* out) {
  *out = RunReport();
  out->run.assign(run);
  bool found = false;
  Status s = store->read(
      "SELECT name, build, platform, status, started_at, ended_at, tests, passed, failed, "
      "skipped, timedout, interrupted, flaky FROM runs WHERE run = ?",
      {run}, [&](const Row& r) {
        found = true;
        out->name.assign(r.text(0));
        out->build.assign(r.text(1));
        out->platform.assign(r.text(2));
        out->status.assign(r.text(3));
        out->started_at = r.int64(4);
        out->ended_at = r.is_null(5) ? 0 : r.int64(5);
        Counts& c = out->counts;
        c.tests = r.int64(6);
        c.passed = r.int64(7);
        c.failed = r.int64(8);
        c.skipped = r.int64(9);
        c.timedout = r.int64(10);
        c.interrupted = r.int64(11);
        c.flaky = r.int64(12);
        return false;
      });
  if (!s) return s;
  if (!found) return Status::error(Code::kNotFound, fmt::format("run \"{}\" is unknown", run));
  if (live != nullptr) {
    out->status = run_status_name(live->status);
    out->counts = live->counts;
  }
  s = store->read(
      "SELECT suite, name, parent, file, started_at, ended_at FROM suites WHERE run = ? "
      "ORDER BY started_at, suite",
      {run}, [&](const Row& r) {
        SuiteReport su;
        su.id.assign(r.text(0));
        su.name.assign(r.text(1));
        su.parent.assign(r.text(2));
        su.file.assign(r.text(3));
        su.started_at = r.int64(4);
        su.ended_at = r.is_null(5) ? 0 : r.int64(5);
        out->suites.push_back(std::move(su));
        return true;
      });
  if (!s) return s;
  std::unordered_map<std::string, size_t> index;
  s = store->read(
      "SELECT test, attempt, name, suite, file, spec, worker, status, flaky, started_at, "
      "ended_at, duration_ms, error_message, error, stdout, stderr, attachments "
      "FROM attempts WHERE run = ? ORDER BY started_at, test, attempt",
      {run}, [&](const Row& r) {
        std::string id(r.text(0));
        auto [it, inserted] = index.try_emplace(id, out->tests.size());
        if (inserted) {
          TestReport t;
          t.id = id;
          out->tests.push_back(std::move(t));
        }
        TestReport& t = out->tests[it->second];
        // The last attempt decides name, status and flakiness.
        t.name.assign(r.text(2));
        t.suite.assign(r.text(3));
        t.file.assign(r.text(4));
        t.spec.assign(r.text(5));
        t.status.assign(r.text(7));
        t.flaky = r.int64(8) != 0;
        AttemptReport a;
        a.attempt = r.int64(1);
        a.worker.assign(r.text(6));
        a.status.assign(r.text(7));
        a.started_at = r.int64(9);
        a.ended_at = r.int64(10);
        a.duration_ms = r.is_null(11) ? -1 : r.real(11);
        a.error_message.assign(r.text(12));
        a.error_json.assign(r.text(13));
        a.stdout_text.assign(r.text(14));
        a.stderr_text.assign(r.text(15));
        a.attachments_json.assign(r.text(16));
        t.attempts.push_back(std::move(a));
        return true;
      });
  if (!s) return s;
  for (TestReport& t : out->tests) {
    std::sort(t.attempts.begin(), t.attempts.end(),
              [](const AttemptReport& a, const AttemptReport& b) { return a.attempt < b.attempt; });
    if (!t.attempts.empty()) {
      // Name/status come from the highest attempt even if rows came in another order.
      t.status = t.attempts.back().status;
    }
  }
  if (live != nullptr) {
    for (const auto& [id, ts] : live->tests) {
      if (!ts.running) continue;
      auto [it, inserted] = index.try_emplace(id, out->tests.size());
      if (inserted) {
        TestReport t;
        t.id = id;
        out->tests.push_back(std::move(t));
      }
      TestReport& t = out->tests[it->second];
      t.status = "running";
      t.flaky = false;
      if (ts.live) {
        t.name = ts.live->name.empty() ? id : ts.live->name;
        t.suite = ts.live->suite;
        t.file = ts.live->file;
        t.spec = ts.live->spec;
        AttemptReport a;
        a.attempt = ts.attempt;
        a.status = "running";
        a.worker = ts.live->worker;
        a.started_at = ts.live->started_at;
        t.attempts.push_back(std::move(a));
      }
    }
  }
  return Status::ok();
}

Status render_json(const RunReport& rep, std::string* out) {
  out->clear();
  JsonWriter w(out);
  w.begin_object();
  w.field("run", rep.run).field("name", rep.name);
  if (!rep.build.empty()) w.field("build", rep.build);
  if (!rep.platform.empty()) w.field("platform", rep.platform);
  w.field("status", rep.status).field("started_at", rep.started_at);
  if (rep.ended_at) {
    w.field("ended_at", rep.ended_at).field("duration_ms", rep.ended_at - rep.started_at);
  } else {
    w.field_null("ended_at").field_null("duration_ms");
  }
  const Counts& c = rep.counts;
  w.key("counts").begin_object();
  w.field("tests", c.tests).field("passed", c.passed).field("failed", c.failed);
  w.field("skipped", c.skipped).field("timedout", c.timedout);
  w.field("interrupted", c.interrupted).field("flaky", c.flaky).field("running", c.running);
  w.end_object();
  w.key("suites").begin_array();
  for (const SuiteReport& s : rep.suites) {
    w.begin_object().field("id", s.id).field("name", s.name);
    if (!s.parent.empty()) w.field("parent", s.parent);
    if (!s.file.empty()) w.field("file", s.file);
    w.field("started_at", s.started_at);
    if (s.ended_at) w.field("ended_at", s.ended_at); else w.field_null("ended_at");
    w.end_object();
  }
  w.end_array();
  w.key("tests").begin_array();
  for (const TestReport& t : rep.tests) {
    w.begin_object().field("id", t.id).field("name", t.name);
    if (!t.suite.empty()) w.field("suite", t.suite);
    if (!t.file.empty()) w.field("file", t.file);
    if (!t.spec.empty()) w.field("spec", t.spec);
    w.field("status", t.status).field("flaky", t.flaky);
    w.key("attempts").begin_array();
    for (const AttemptReport& a : t.attempts) {
      w.begin_object().field("attempt", a.attempt).field("status", a.status);
      if (!a.worker.empty()) w.field("worker", a.worker);
      w.field("started_at", a.started_at);
      if (a.ended_at) w.field("ended_at", a.ended_at);
      if (a.duration_ms >= 0) w.field("duration_ms", a.duration_ms);
      if (!a.error_json.empty()) w.field_raw("error", a.error_json);
      if (!a.stdout_text.empty()) w.field("stdout", a.stdout_text);
      if (!a.stderr_text.empty()) w.field("stderr", a.stderr_text);
      if (!a.attachments_json.empty()) w.field_raw("attachments", a.attachments_json);
      w.end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().end_object();
  return Status::ok();
}

}  // namespace baton
