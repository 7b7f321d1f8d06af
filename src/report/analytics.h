// Analytics across runs, answered as query ops: `perf` (duration percentiles
// per run and suite, slowest tests, regressions against earlier runs),
// `flaky` (tests flaky in recent runs, with rates) and `history` (one test's
// recent outcomes and durations across runs).
#ifndef BATON_REPORT_ANALYTICS_H_
#define BATON_REPORT_ANALYTICS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "baton/state.h"
#include "baton/status.h"
#include "baton/store.h"

namespace baton {

// When a test counts as a regression: its duration is more than `factor`
// times the median of its history and more than `min_delta_ms` above it.
struct RegressionRule {
  double factor = 3.0;
  double min_delta_ms = 100.0;
  int64_t history_runs = 20;  // how many earlier runs of the test are looked at
  int64_t min_history = 3;    // fewer earlier durations than this: no verdict
};

struct PerfOptions {
  int64_t slowest = 10;
  RegressionRule rule;
};

// Linear interpolation between closest ranks; `sorted` ascending, non-empty.
double percentile(const std::vector<double>& sorted, double p);

// {"op":"perf","run":ID, "slowest":N, "factor":X, "min_delta_ms":Y}
Status perf_report(EventStore* store, const RunState* live, std::string_view run,
                   const PerfOptions& options, std::string* out);
// {"op":"flaky","limit_runs":20, "limit":N}
Status flaky_report(EventStore* store, int64_t limit_runs, int64_t limit, std::string* out);
// {"op":"history","test":ID,"limit":20}
Status history_report(EventStore* store, std::string_view test, int64_t limit,
                      std::string* out);

// The query ops above, by name; false when `op` is none of them.
bool is_analytics_op(std::string_view op);
// Parses the request's parameters and answers it.
Status analytics_query(EventStore* store, const StateManager& state, std::string_view request_json,
                       std::string* answer);

}  // namespace baton

#endif  // BATON_REPORT_ANALYTICS_H_
