#include "report/analytics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include <simdjson.h>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "report/report.h"

namespace baton {

namespace {

Status bad_request(std::string message) {
  return Status::error(Code::kInvalidArgument, std::move(message));
}

void percentiles(JsonWriter& w, std::vector<double>& durations) {
  std::sort(durations.begin(), durations.end());
  double total = 0;
  for (double d : durations) total += d;
  w.field("timed", static_cast<int64_t>(durations.size())).field("total_ms", total);
  if (durations.empty()) {
    w.field_null("p50").field_null("p95").field_null("p99").field_null("max_ms");
    return;
  }
  w.field("p50", percentile(durations, 50)).field("p95", percentile(durations, 95));
  w.field("p99", percentile(durations, 99)).field("max_ms", durations.back());
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return percentile(v, 50);
}

int64_t first_seq_of(EventStore* store, std::string_view run, Status* s) {
  int64_t first = 0;
  *s = store->read("SELECT first_seq FROM runs WHERE run = ?", {run}, [&](const Row& r) {
    first = r.int64(0);
    return false;
  });
  return first;
}

}  // namespace

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.size() == 1) return sorted[0];
  double rank = (p / 100.0) * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Status perf_report(EventStore* store, const RunState* live, std::string_view run,
                   const PerfOptions& options, std::string* out) {
  RunReport rep;
  Status s = load_run_report(store, live, run, &rep);
  if (!s) return s;
  int64_t first_seq = first_seq_of(store, run, &s);
  if (!s) return s;

  // Durations of the same test ids in earlier runs, newest first. Passed
  // attempts only: a failure that stops early or hangs is no baseline.
  std::unordered_map<std::string, std::vector<double>> history;
  s = store->read(
      "SELECT a.test, a.duration_ms FROM attempts a JOIN runs r ON r.run = a.run "
      "WHERE r.first_seq < ? AND a.status = 'passed' AND a.duration_ms IS NOT NULL "
      "AND a.test IN (SELECT test FROM attempts WHERE run = ?) "
      "ORDER BY r.first_seq DESC, a.attempt DESC",
      {first_seq, run}, [&](const Row& r) {
        std::vector<double>& h = history[std::string(r.text(0))];
        if (static_cast<int64_t>(h.size()) < options.rule.history_runs) h.push_back(r.real(1));
        return true;
      });
  if (!s) return s;

  out->clear();
  JsonWriter w(out);
  w.begin_object().field("run", rep.run).field("status", rep.status);
  w.field("tests", static_cast<int64_t>(rep.tests.size()));
  std::vector<double> all;
  std::map<std::string, std::vector<double>> by_suite;
  std::vector<const TestReport*> timed;
  for (const TestReport& t : rep.tests) {
    double d = test_duration_ms(t);
    if (d < 0) continue;
    all.push_back(d);
    by_suite[t.suite].push_back(d);
    timed.push_back(&t);
  }
  percentiles(w, all);

  w.key("suites").begin_array();
  for (auto& [suite, durations] : by_suite) {
    w.begin_object().field("id", suite);
    std::string path = suite_path(rep, suite);
    if (!path.empty()) w.field("name", path);
    w.field("tests", static_cast<int64_t>(durations.size()));
    percentiles(w, durations);
    w.end_object();
  }
  w.end_array();

  std::stable_sort(timed.begin(), timed.end(), [](const TestReport* a, const TestReport* b) {
    return test_duration_ms(*a) > test_duration_ms(*b);
  });
  w.key("slowest").begin_array();
  for (size_t i = 0; i < timed.size() && static_cast<int64_t>(i) < options.slowest; ++i) {
    const TestReport& t = *timed[i];
    w.begin_object().field("id", t.id).field("name", t.name);
    if (!t.suite.empty()) w.field("suite", t.suite);
    w.field("status", t.status).field("duration_ms", test_duration_ms(t)).end_object();
  }
  w.end_array();

  w.key("regressions").begin_array();
  for (const TestReport* tp : timed) {
    auto it = history.find(tp->id);
    if (it == history.end() || static_cast<int64_t>(it->second.size()) < options.rule.min_history) {
      continue;
    }
    double d = test_duration_ms(*tp);
    double median = median_of(it->second);
    if (d > options.rule.factor * median && d - median > options.rule.min_delta_ms) {
      w.begin_object().field("id", tp->id).field("name", tp->name);
      w.field("duration_ms", d).field("median_ms", median);
      w.field("ratio", median > 0 ? d / median : 0.0);
      w.field("history", static_cast<int64_t>(it->second.size())).end_object();
    }
  }
  w.end_array();
  w.key("rule").begin_object().field("factor", options.rule.factor);
  w.field("min_delta_ms", options.rule.min_delta_ms).field("min_history", options.rule.min_history);
  w.end_object();
  w.end_object();
  return Status::ok();
}

Status flaky_report(EventStore* store, int64_t limit_runs, int64_t limit, std::string* out) {
  struct Tally {
    std::string name;
    int64_t runs = 0, flaky = 0, failed = 0;
    std::string last_flaky_run;
    int64_t last_flaky_seq = 0;
  };
  std::map<std::string, Tally> tallies;
  int64_t runs_seen = 0;
  Status s = store->read(
      "SELECT COUNT(*) FROM (SELECT run FROM runs ORDER BY first_seq DESC LIMIT ?) AS recent",
      {limit_runs}, [&](const Row& r) {
        runs_seen = r.int64(0);
        return false;
      });
  if (!s) return s;
  // The final attempt of every test of the most recent runs.
  s = store->read(
      "SELECT t.test, t.name, t.status, t.flaky, t.run, r.first_seq FROM tests t "
      "JOIN (SELECT run, first_seq FROM runs ORDER BY first_seq DESC LIMIT ?) r ON r.run = t.run",
      {limit_runs}, [&](const Row& r) {
        Tally& t = tallies[std::string(r.text(0))];
        if (t.name.empty()) t.name.assign(r.text(1));
        ++t.runs;
        std::string_view status = r.text(2);
        if (r.int64(3) != 0) {
          ++t.flaky;
          if (r.int64(5) > t.last_flaky_seq) {
            t.last_flaky_seq = r.int64(5);
            t.last_flaky_run.assign(r.text(4));
          }
        }
        if (is_failure_status(status)) ++t.failed;
        return true;
      });
  if (!s) return s;
  std::vector<std::pair<const std::string*, const Tally*>> flaky;
  for (const auto& [id, t] : tallies) {
    if (t.flaky > 0) flaky.emplace_back(&id, &t);
  }
  auto rate = [](const Tally* t) { return static_cast<double>(t->flaky) / static_cast<double>(t->runs); };
  std::stable_sort(flaky.begin(), flaky.end(), [&](const auto& a, const auto& b) {
    if (rate(a.second) != rate(b.second)) return rate(a.second) > rate(b.second);
    return a.second->flaky > b.second->flaky;
  });
  out->clear();
  JsonWriter w(out);
  w.begin_object().field("runs", runs_seen).key("tests").begin_array();
  for (size_t i = 0; i < flaky.size() && static_cast<int64_t>(i) < limit; ++i) {
    const Tally& t = *flaky[i].second;
    w.begin_object().field("id", *flaky[i].first).field("name", t.name);
    w.field("runs", t.runs).field("flaky", t.flaky).field("failed", t.failed);
    w.field("rate", rate(&t)).field("last_flaky_run", t.last_flaky_run).end_object();
  }
  w.end_array().end_object();
  return Status::ok();
}

Status history_report(EventStore* store, std::string_view test, int64_t limit,
                      std::string* out) {
  struct RunEntry {
    std::string run, run_name, status, error;
    int64_t started_at = 0, attempts = 0;
    bool flaky = false;
    double duration_ms = -1;
    std::vector<std::pair<std::string, double>> per_attempt;
  };
  std::vector<RunEntry> entries;
  Status s = store->read(
      "SELECT a.run, r.name, r.started_at, a.attempt, a.status, a.flaky, a.duration_ms, "
      "a.error_message FROM attempts a JOIN runs r ON r.run = a.run WHERE a.test = ? "
      "ORDER BY r.first_seq DESC, a.attempt",
      {test}, [&](const Row& r) {
        if (entries.empty() || entries.back().run != r.text(0)) {
          if (static_cast<int64_t>(entries.size()) >= limit) return false;
          RunEntry e;
          e.run.assign(r.text(0));
          e.run_name.assign(r.text(1));
          e.started_at = r.int64(2);
          entries.push_back(std::move(e));
        }
        RunEntry& e = entries.back();
        e.attempts = r.int64(3);
        e.status.assign(r.text(4));
        e.flaky = r.int64(5) != 0;
        e.duration_ms = r.is_null(6) ? -1 : r.real(6);
        e.error.assign(r.text(7));
        e.per_attempt.emplace_back(std::string(r.text(4)), e.duration_ms);
        return true;
      });
  if (!s) return s;
  out->clear();
  JsonWriter w(out);
  w.begin_object().field("test", test).key("runs").begin_array();
  for (const RunEntry& e : entries) {
    w.begin_object().field("run", e.run).field("name", e.run_name);
    w.field("started_at", e.started_at).field("status", e.status).field("flaky", e.flaky);
    w.field("attempts", e.attempts);
    if (e.duration_ms >= 0) w.field("duration_ms", e.duration_ms); else w.field_null("duration_ms");
    if (!e.error.empty()) w.field("error", e.error);
    w.key("outcomes").begin_array();
    for (const auto& [status, duration] : e.per_attempt) {
      w.begin_object().field("status", status);
      if (duration >= 0) w.field("duration_ms", duration);
      w.end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().end_object();
  return Status::ok();
}

bool is_analytics_op(std::string_view op) {
  return op == "perf" || op == "flaky" || op == "history";
}

Status analytics_query(EventStore* store, const StateManager& state, std::string_view request_json,
                       std::string* answer) {
  simdjson::dom::parser parser;
  simdjson::dom::object req;
  if (parser.parse(request_json.data(), request_json.size()).get(req) != simdjson::SUCCESS) {
    return bad_request("a query must be a JSON object");
  }
  std::string_view op;
  if (req["op"].get(op) != simdjson::SUCCESS) return bad_request("query field \"op\" is required");
  auto int_field = [&](const char* key, int64_t def, int64_t min, int64_t max,
                       int64_t* dst) -> Status {
    *dst = def;
    simdjson::dom::element e;
    if (req[key].get(e) != simdjson::SUCCESS) return Status::ok();
    if (e.get(*dst) != simdjson::SUCCESS || *dst < min || *dst > max) {
      return bad_request(fmt::format("query field \"{}\" must be an integer {}..{}", key, min, max));
    }
    return Status::ok();
  };
  auto number_field = [&](const char* key, double* dst) -> Status {
    simdjson::dom::element e;
    if (req[key].get(e) != simdjson::SUCCESS) return Status::ok();
    if (e.get(*dst) != simdjson::SUCCESS || !(*dst >= 0)) {
      return bad_request(fmt::format("query field \"{}\" must be a number >= 0", key));
    }
    return Status::ok();
  };
  Status s;
  if (op == "perf") {
    std::string_view run;
    if (req["run"].get(run) != simdjson::SUCCESS) return bad_request("query \"perf\" needs field \"run\"");
    PerfOptions o;
    if (!(s = int_field("slowest", 10, 0, 10000, &o.slowest))) return s;
    if (!(s = number_field("factor", &o.rule.factor))) return s;
    if (!(s = number_field("min_delta_ms", &o.rule.min_delta_ms))) return s;
    if (!(s = int_field("history_runs", 20, 1, 10000, &o.rule.history_runs))) return s;
    if (!(s = int_field("min_history", 3, 1, 10000, &o.rule.min_history))) return s;
    return perf_report(store, state.find(run), run, o, answer);
  }
  if (op == "flaky") {
    int64_t limit_runs = 20, limit = 100;
    if (!(s = int_field("limit_runs", 20, 1, 100000, &limit_runs))) return s;
    if (!(s = int_field("limit", 100, 1, 100000, &limit))) return s;
    return flaky_report(store, limit_runs, limit, answer);
  }
  if (op == "history") {
    std::string_view test;
    if (req["test"].get(test) != simdjson::SUCCESS) {
      return bad_request("query \"history\" needs field \"test\"");
    }
    int64_t limit = 20;
    if (!(s = int_field("limit", 20, 1, 100000, &limit))) return s;
    return history_report(store, test, limit, answer);
  }
  return bad_request(fmt::format("\"{}\" is not an analytics query", op));
}

}  // namespace baton
