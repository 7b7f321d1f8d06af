// Queries and exports: read-only views of runs, tests, stats and the audit.
#include <chrono>

#include <simdjson.h>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "orchestrator/engine_impl.h"
#include "report/report.h"
#include "report/analytics.h"
#include "baton/version.h"

namespace baton {

namespace {

Status bad_request(std::string message) {
  return Status::error(Code::kInvalidArgument, std::move(message));
}

void write_counts(JsonWriter& w, const Counts& c) {
  w.key("counts").begin_object();
  w.field("tests", c.tests).field("passed", c.passed).field("failed", c.failed);
  w.field("skipped", c.skipped).field("timedout", c.timedout);
  w.field("interrupted", c.interrupted).field("flaky", c.flaky).field("running", c.running);
  w.end_object();
}

void write_live_run(JsonWriter& w, const RunState& run, int64_t now) {
  w.begin_object();
  w.field("run", run.id).field("name", run.name);
  if (!run.build.empty()) w.field("build", run.build);
  w.field("status", run_status_name(run.status));
  write_counts(w, run.counts);
  SpecCounts specs;
  if (run.queue) specs = Scheduler::counts(*run.queue, now);
  w.key("specs").begin_object();
  w.field("total", specs.total).field("queued", specs.queued).field("leased", specs.leased);
  w.field("done", specs.done);
  w.end_object();
  w.field("started_at", run.started_at).field_null("ended_at").field_null("duration_ms");
  w.end_object();
}

// The spec counts of a stored run come from its specs rows (columns 13..16).
constexpr const char* kRunColumns =
    "SELECT run, name, build, status, started_at, ended_at, tests, passed, failed, skipped, "
    "timedout, interrupted, flaky, "
    "(SELECT COUNT(*) FROM specs s WHERE s.run = runs.run), "
    "(SELECT COUNT(*) FROM specs s WHERE s.run = runs.run AND s.state = 'queued'), "
    "(SELECT COUNT(*) FROM specs s WHERE s.run = runs.run AND s.state = 'leased'), "
    "(SELECT COUNT(*) FROM specs s WHERE s.run = runs.run AND s.state = 'done') FROM runs";

void write_stored_run(JsonWriter& w, const Row& r) {
  w.begin_object();
  w.field("run", r.text(0));
  if (!r.is_null(1)) w.field("name", r.text(1));
  if (!r.is_null(2)) w.field("build", r.text(2));
  w.field("status", r.text(3));
  Counts c;
  c.tests = r.int64(6);
  c.passed = r.int64(7);
  c.failed = r.int64(8);
  c.skipped = r.int64(9);
  c.timedout = r.int64(10);
  c.interrupted = r.int64(11);
  c.flaky = r.int64(12);
  write_counts(w, c);
  w.key("specs").begin_object();
  w.field("total", r.int64(13)).field("queued", r.int64(14)).field("leased", r.int64(15));
  w.field("done", r.int64(16)).end_object();
  w.field("started_at", r.int64(4));
  if (r.is_null(5)) {
    w.field_null("ended_at").field_null("duration_ms");
  } else {
    w.field("ended_at", r.int64(5)).field("duration_ms", r.int64(5) - r.int64(4));
  }
  w.end_object();
}

}  // namespace

Status Orchestrator::query_as(const Session* session, std::string_view request_json,
                              std::string* answer) {
  if (session == nullptr) return bad_request("session is null");
  // The run a query is about decides the scope check; parse it cheaply.
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(request_json.data(), request_json.size()).get(obj) != simdjson::SUCCESS) {
    return bad_request("a query must be a JSON object");
  }
  std::string_view op, run;
  if (obj["op"].get(op)) {}
  if (obj["run"].get(run)) {}
  uint32_t role = (op == "cleanup") ? kRoleAdmin : kRoleViewer;
  Status s = impl_->access.authorize_role(session->principal(), role, run);
  if (!s) return s;
  return query(request_json, answer);
}

Status Orchestrator::query(std::string_view request_json, std::string* answer) {
  Impl& im = *impl_;
  simdjson::dom::parser parser;
  simdjson::dom::object req;
  if (parser.parse(request_json.data(), request_json.size()).get(req) != simdjson::SUCCESS) {
    return bad_request("a query must be a JSON object");
  }
  std::string_view op;
  if (req["op"].get(op) != simdjson::SUCCESS) return bad_request("query field \"op\" is required");
  std::string_view run;
  bool has_run = req["run"].get(run) == simdjson::SUCCESS;
  int64_t limit = 100, offset = 0;
  if (req["limit"].get(limit)) {}
  if (req["offset"].get(offset)) {}
  if (limit < 1 || limit > 100000) return bad_request("query field \"limit\" must be 1..100000");
  if (offset < 0) return bad_request("query field \"offset\" must be >= 0");

  answer->clear();
  JsonWriter w(answer);
  std::lock_guard<BriefRecursiveMutex> lock(im.mu);
  if (im.closed) return Status::error(Code::kClosed, "the engine is closed");
  Status s = store_->flush();
  // A state that a failed commit left to be rebuilt is rebuilt before it is read.
  if (s) s = reload_if_stale(im, store_.get());
  if (s) s = follow_shared_log(im, store_.get());
  if (!s) return s;

  // Analytics ops (perf, flaky, history): answered by src/report/analytics.cc.
  if (is_analytics_op(op)) return analytics_query(store_.get(), *im.state, request_json, answer);
  if (op == "run") {
    if (!has_run) return bad_request("query \"run\" needs field \"run\"");
    if (const RunState* live = im.state->find(run)) {
      write_live_run(w, *live, now_ms());
      return Status::ok();
    }
    bool found = false;
    s = store_->read(std::string(kRunColumns) + " WHERE run = ?", {run}, [&](const Row& r) {
      write_stored_run(w, r);
      found = true;
      return false;
    });
    if (!s) return s;
    if (!found) return Status::error(Code::kNotFound, fmt::format("run \"{}\" is unknown", run));
    return Status::ok();
  }
  if (op == "queue") {
    if (!has_run) return bad_request("query \"queue\" needs field \"run\"");
    if (const RunState* live = im.state->find(run); live && live->queue) {
      Scheduler::write_queue_json(*live, now_ms(), answer);
      return Status::ok();
    }
    // A finished run (or one without a plan): its specs rows.
    std::string status;
    s = store_->read("SELECT status FROM runs WHERE run = ?", {run}, [&](const Row& r) {
      status.assign(r.text(0));
      return false;
    });
    if (!s) return s;
    if (status.empty()) return Status::error(Code::kNotFound, fmt::format("run \"{}\" is unknown", run));
    SpecCounts c;
    std::string rows;
    JsonWriter q(&rows);
    q.begin_array();
    s = store_->read(
        "SELECT spec, state, attempts, failures, worker, lease, lease_deadline, status, "
        "estimate_ms, duration_ms FROM specs WHERE run = ? ORDER BY estimate_ms DESC, spec",
        {run}, [&](const Row& r) {
          ++c.total;
          std::string_view state = r.text(1);
          if (state == "queued") ++c.queued;
          if (state == "leased") ++c.leased;
          if (state == "done") ++c.done;
          q.begin_object().field("id", r.text(0)).field("state", state);
          q.field("attempts", r.int64(2)).field("failures", r.int64(3));
          if (!r.is_null(4)) q.field("worker", r.text(4));
          if (!r.is_null(5)) q.field("lease", r.text(5)).field("lease_deadline", r.int64(6));
          if (!r.is_null(7)) q.field("status", r.text(7));
          if (!r.is_null(8)) q.field("expected_ms", static_cast<int64_t>(r.real(8)));
          if (!r.is_null(9)) q.field("duration_ms", r.real(9));
          q.end_object();
          return true;
        });
    if (!s) return s;
    q.end_array();
    w.begin_object().field("run", run).field("status", status);
    w.key("specs").begin_object().field("total", c.total).field("queued", c.queued);
    w.field("leased", c.leased).field("done", c.done).end_object();
    w.field_raw("queue", rows).end_object();
    return Status::ok();
  }
  if (op == "runs") {
    std::string_view status;
    bool by_status = req["status"].get(status) == simdjson::SUCCESS;
    w.begin_object().key("runs").begin_array();
    s = store_->read(std::string(kRunColumns) +
                         " WHERE (CAST(? AS TEXT) IS NULL OR status = ?) ORDER BY started_at "
                         "DESC, run LIMIT ? OFFSET ?",
                     {by_status ? Value(status) : Value(), by_status ? Value(status) : Value(),
                      limit, offset},
                     [&](const Row& r) {
                       if (const RunState* live = im.state->find(r.text(0))) {
                         write_live_run(w, *live, now_ms());
                       } else {
                         write_stored_run(w, r);
                       }
                       return true;
                     });
    if (!s) return s;
    w.end_array().end_object();
    return Status::ok();
  }
  if (op == "tests") {
    if (!has_run) return bad_request("query \"tests\" needs field \"run\"");
    std::string_view status;
    bool by_status = req["status"].get(status) == simdjson::SUCCESS;
    w.begin_object().field("run", run).key("tests").begin_array();
    s = store_->read(
        "SELECT test, name, suite, file, status, attempt, flaky, duration_ms, error_message "
        "FROM tests WHERE run = ? AND (CAST(? AS TEXT) IS NULL OR status = ?) ORDER BY test "
        "LIMIT ? OFFSET ?",
        {run, by_status ? Value(status) : Value(), by_status ? Value(status) : Value(), limit,
         offset},
        [&](const Row& r) {
          w.begin_object();
          w.field("id", r.text(0)).field("name", r.text(1));
          if (!r.is_null(2)) w.field("suite", r.text(2));
          if (!r.is_null(3)) w.field("file", r.text(3));
          w.field("status", r.text(4)).field("attempts", r.int64(5));
          w.field("flaky", r.int64(6) != 0);
          if (!r.is_null(7)) w.field("duration_ms", r.real(7));
          if (!r.is_null(8)) w.field("error", r.text(8));
          w.end_object();
          return true;
        });
    if (!s) return s;
    // Attempts still running are only in memory.
    if (const RunState* live = im.state->find(run); live && (!by_status || status == "running")) {
      for (const auto& [id, t] : live->tests) {
        if (!t.running) continue;
        w.begin_object().field("id", id);
        if (t.live) {
          w.field("name", t.live->name.empty() ? id : t.live->name);
          if (!t.live->suite.empty()) w.field("suite", t.live->suite);
        }
        w.field("status", "running").field("attempts", int64_t{t.attempt});
        w.field("flaky", false).end_object();
      }
    }
    w.end_array().end_object();
    return Status::ok();
  }
  if (op == "stats") {
    StoreStats st = store_->stats();
    w.begin_object();
    w.field("version", BATON_VERSION_STRING);
    w.field("open_mode", im.access.open_mode());
    w.field("durability", store_->durability() == Durability::kFull     ? "full"
                          : store_->durability() == Durability::kNormal ? "normal"
                                                                        : "async");
    w.field("accepted", im.accepted.load()).field("duplicates", im.duplicates.load());
    w.field("flagged", im.suspicious.load());
    w.key("refused").begin_object();
    int64_t total = 0;
    for (size_t i = 1; i < im.refused.size(); ++i) {
      int64_t n = im.refused[i].load();
      total += n;
      if (n) w.field(code_name(-static_cast<int>(i)), n);
    }
    w.end_object();
    w.field("refused_total", total);
    w.field("sessions_open", im.sessions_open.load());
    w.field("runs_live", static_cast<int64_t>(im.state->run_count()));
    w.field("tests_tracked", static_cast<int64_t>(im.state->tracked_tests()));
    w.field("rate_limited_clients",
            static_cast<int64_t>(im.rate ? im.rate->tracked_clients() : 0));
    w.key("store").begin_object();
    w.field("commits", st.commits).field("rows_written", st.rows_written);
    w.field("failed_commits", st.failed_commits).field("durable_seq", st.durable_seq);
    w.field("pending_rows", st.pending_rows);
    w.field("journal_rows", st.journal_rows).field("deferred_commits", st.deferred_commits);
    w.end_object();
    w.key("plugins").begin_array();
    for (const PluginEntry& p : im.plugins) {
      w.begin_object().field("id", static_cast<int64_t>(p.id)).field("name", p.name);
      w.field("calls", p.calls).field("failures", p.failures);
      w.field("time_ms", static_cast<double>(p.nanos) / 1e6).end_object();
    }
    w.end_array();
    w.field("uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                                 .count() -
                             im.started_at);
    w.end_object();
    return Status::ok();
  }
  if (op == "audit") {
    w.begin_object().key("audit").begin_array();
    s = store_->read(
        "SELECT id, at, client, code, field, rule, detail FROM audit ORDER BY id DESC "
        "LIMIT ? OFFSET ?",
        {limit, offset}, [&](const Row& r) {
          w.begin_object().field("id", r.int64(0)).field("at", r.int64(1));
          if (!r.is_null(2)) w.field("client", r.text(2));
          w.field("code", r.text(3));
          if (!r.is_null(4)) w.field("field", r.text(4));
          if (!r.is_null(5)) w.field("rule", r.text(5));
          if (!r.is_null(6)) w.field("detail", r.text(6));
          w.end_object();
          return true;
        });
    if (!s) return s;
    w.end_array().end_object();
    return Status::ok();
  }
  if (op == "cleanup") {
    int64_t older_than_ms = -1;
    if (req["older_than_ms"].get(older_than_ms) != simdjson::SUCCESS || older_than_ms < 0) {
      return bad_request("query \"cleanup\" needs field \"older_than_ms\" (a non-negative integer)");
    }
    int64_t cutoff = now_ms() - older_than_ms;
    int64_t runs = 0, events = 0, n = 0;
    // Finished runs only: a running run is never cleaned up under a client.
    const char* kDeletes[] = {
        "DELETE FROM events WHERE run IN (SELECT run FROM runs WHERE status != 'running' AND "
        "ended_at < ?)",
        "DELETE FROM attempts WHERE run IN (SELECT run FROM runs WHERE status != 'running' AND "
        "ended_at < ?)",
        "DELETE FROM suites WHERE run IN (SELECT run FROM runs WHERE status != 'running' AND "
        "ended_at < ?)",
        "DELETE FROM specs WHERE run IN (SELECT run FROM runs WHERE status != 'running' AND "
        "ended_at < ?)",
        "DELETE FROM runs WHERE status != 'running' AND ended_at < ?",
        "DELETE FROM spec_history WHERE at < ?",
    };
    for (size_t i = 0; i < std::size(kDeletes); ++i) {
      s = store_->execute(kDeletes[i], {cutoff}, &n);
      if (!s) return s;
      if (i == 0) events = n;
      if (i == 4) runs = n;
    }
    w.begin_object().field("ok", true).field("runs_deleted", runs).field("events_deleted", events);
    w.end_object();
    return Status::ok();
  }
  return bad_request(fmt::format(
      "unknown query op \"{}\" (known: run, runs, tests, queue, stats, audit, cleanup)", op));
}

Status Orchestrator::export_run(std::string_view run, std::string_view format, std::string* out) {
  Impl& im = *impl_;
  RunReport report;
  {
    std::lock_guard<BriefRecursiveMutex> lock(im.mu);
    if (im.closed) return Status::error(Code::kClosed, "the engine is closed");
    Status s = store_->flush();
    if (s) s = follow_shared_log(im, store_.get());
    if (!s) return s;
    s = load_run_report(store_.get(), im.state->find(run), run, &report);
    if (!s) return s;
  }
  return render_report(report, format, out);
}

}  // namespace baton
