// RunReport: everything known about one run, loaded from the store (plus the
// live state of a run still going), and the renderers that turn it into the
// export formats: json, junit, ctrf, html.
#ifndef BATON_REPORT_REPORT_H_
#define BATON_REPORT_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "baton/state.h"
#include "baton/status.h"
#include "baton/store.h"

namespace baton {

struct AttemptReport {
  int64_t attempt = 1;
  std::string status;  // passed, failed, ...
  std::string worker;
  int64_t started_at = 0;
  int64_t ended_at = 0;
  double duration_ms = -1;  // -1: unknown
  std::string error_message;
  std::string error_json;  // raw error object, or empty
  std::string stdout_text;
  std::string stderr_text;
  std::string attachments_json;  // raw array, or empty
};

struct TestReport {
  std::string id;
  std::string name;
  std::string suite;
  std::string file;
  std::string spec;
  std::string status;  // final: status of the last attempt, "running" while one runs
  bool flaky = false;
  std::vector<AttemptReport> attempts;  // in attempt order
};

struct SuiteReport {
  std::string id;
  std::string name;
  std::string parent;
  std::string file;
  int64_t started_at = 0;
  int64_t ended_at = 0;
};

struct RunReport {
  std::string run;
  std::string name;
  std::string build;
  std::string platform;
  std::string status;
  int64_t started_at = 0;
  int64_t ended_at = 0;  // 0: still running
  Counts counts;
  std::vector<SuiteReport> suites;  // in start order
  std::vector<TestReport> tests;    // in first-start order
};

// Loads `run` (kNotFound when unknown). `live` is the run's in-memory state
// when it is still running (its running attempts are added), else null.
Status load_run_report(EventStore* store, const RunState* live, std::string_view run,
                       RunReport* out);

// format: "json" | "junit" | "ctrf" | "html". kInvalidArgument for others.
Status render_report(const RunReport& report, std::string_view format, std::string* out);

Status render_json(const RunReport& report, std::string* out);
// JUnit XML the way Maven Surefire writes it (flakyFailure / rerunFailure for
// retries), which Jenkins, GitLab and GitHub's JUnit readers accept.
Status render_junit(const RunReport& report, std::string* out);
// Common Test Report Format (CTRF) JSON.
Status render_ctrf(const RunReport& report, std::string* out);
// One self-contained HTML page: inline CSS and JS, no network.
Status render_html(const RunReport& report, std::string* out);

// Shared by the renderers.
const AttemptReport* last_attempt(const TestReport& test);
// The last attempt's duration; -1 when unknown.
double test_duration_ms(const TestReport& test);
// A suite's name with its parents' ("outer › inner"); empty for an unknown id.
std::string suite_path(const RunReport& report, std::string_view suite_id);
// True for the statuses that count as a failed attempt (failed, timedout).
bool is_failure_status(std::string_view status);

}  // namespace baton

#endif  // BATON_REPORT_REPORT_H_
