// JUnit XML, Maven Surefire flavour.
//
// One <testsuite> per suite that holds tests directly (nested suites are
// flattened; the name carries the path), one <testcase> per test. The final
// attempt decides the outcome element: failed -> <failure>, timedout and
// interrupted -> <error>, skipped -> <skipped>. Earlier attempts are recorded
// the way Surefire records reruns: <flakyFailure>/<flakyError> when the test
// finally passed, <rerunFailure>/<rerunError> when it did not. A testcase's
// time is its final attempt's. Attachments of every attempt are listed in
// <system-out> as [[ATTACHMENT|path]] lines (the Jenkins attachments
// convention).
#include <map>

#include <fmt/format.h>

#include "report/markup.h"
#include "report/report.h"

namespace baton {

namespace {

struct SuiteCounts {
  int64_t tests = 0, failures = 0, errors = 0, skipped = 0;
  double time_ms = 0;
};

std::string seconds(double ms) { return fmt::format("{:.3f}", ms < 0 ? 0.0 : ms / 1000.0); }

void attr(std::string* out, std::string_view name, std::string_view value) {
  out->push_back(' ');
  out->append(name);
  out->append("=\"");
  append_xml_escaped(out, value, true);
  out->push_back('"');
}

void text_element(std::string* out, std::string_view indent, std::string_view tag,
                  std::string_view text) {
  if (text.empty()) return;
  fmt::format_to(std::back_inserter(*out), "{}<{}>", indent, tag);
  append_xml_escaped(out, text, false);
  fmt::format_to(std::back_inserter(*out), "</{}>\n", tag);
}

enum class Outcome { kPassed, kFailure, kError, kSkipped };

Outcome outcome_of(std::string_view status) {
  if (status == "failed") return Outcome::kFailure;
  if (status == "timedout" || status == "interrupted") return Outcome::kError;
  if (status == "skipped" || status == "running") return Outcome::kSkipped;
  return Outcome::kPassed;
}

std::string failure_type(const ErrorParts& e, std::string_view status) {
  if (!e.type.empty()) return e.type;
  return std::string(status == "failed" ? "AssertionError" : status);
}

std::string failure_message(const ErrorParts& e, std::string_view status) {
  if (!e.message.empty()) return e.message;
  if (status == "timedout") return "the test timed out";
  if (status == "interrupted") return "the run ended while the test was running";
  return std::string("the test ") + std::string(status);
}

// <failure>/<error> of the final attempt: message and type as attributes,
// the stack (or the message) as text.
void outcome_element(std::string* out, std::string_view tag, const AttemptReport& a) {
  ErrorParts e = parse_error_json(a.error_json, a.error_message);
  fmt::format_to(std::back_inserter(*out), "      <{}", tag);
  attr(out, "message", failure_message(e, a.status));
  attr(out, "type", failure_type(e, a.status));
  out->push_back('>');
  append_xml_escaped(out, e.stack.empty() ? e.message : e.stack, false);
  fmt::format_to(std::back_inserter(*out), "</{}>\n", tag);
}

// A rerun/flaky element for an earlier failed attempt, with its own output.
void rerun_element(std::string* out, std::string_view tag, const AttemptReport& a) {
  ErrorParts e = parse_error_json(a.error_json, a.error_message);
  fmt::format_to(std::back_inserter(*out), "      <{}", tag);
  attr(out, "message", failure_message(e, a.status));
  attr(out, "type", failure_type(e, a.status));
  attr(out, "time", seconds(a.duration_ms));
  out->append(">\n");
  text_element(out, "        ", "stackTrace", e.stack.empty() ? e.message : e.stack);
  text_element(out, "        ", "system-out", a.stdout_text);
  text_element(out, "        ", "system-err", a.stderr_text);
  fmt::format_to(std::back_inserter(*out), "      </{}>\n", tag);
}

void testcase(std::string* out, const TestReport& t, std::string_view classname) {
  const AttemptReport* last = last_attempt(t);
  out->append("    <testcase");
  attr(out, "name", t.name.empty() ? t.id : t.name);
  attr(out, "classname", classname);
  if (!t.file.empty()) attr(out, "file", t.file);
  attr(out, "time", seconds(last ? last->duration_ms : -1));
  out->append(">\n");
  Outcome outcome = outcome_of(t.status);
  if (last != nullptr) {
    if (outcome == Outcome::kFailure) outcome_element(out, "failure", *last);
    if (outcome == Outcome::kError) outcome_element(out, "error", *last);
    if (outcome == Outcome::kSkipped) {
      out->append("      <skipped");
      std::string message = t.status == "running"
                                ? std::string("still running when the report was made")
                                : parse_error_json(last->error_json, last->error_message).message;
      if (!message.empty()) attr(out, "message", message);
      out->append("/>\n");
    }
  }
  bool passed = outcome == Outcome::kPassed;
  for (size_t i = 0; i + 1 < t.attempts.size(); ++i) {
    const AttemptReport& a = t.attempts[i];
    if (a.status == "failed") rerun_element(out, passed ? "flakyFailure" : "rerunFailure", a);
    if (a.status == "timedout" || a.status == "interrupted") {
      rerun_element(out, passed ? "flakyError" : "rerunError", a);
    }
  }
  std::string system_out = last ? last->stdout_text : std::string();
  for (const AttemptReport& a : t.attempts) {
    for (const AttachmentRef& ref : parse_attachments_json(a.attachments_json)) {
      if (!system_out.empty() && system_out.back() != '\n') system_out.push_back('\n');
      system_out += "[[ATTACHMENT|" + ref.path + "]]\n";
    }
  }
  text_element(out, "      ", "system-out", system_out);
  text_element(out, "      ", "system-err", last ? last->stderr_text : std::string());
  out->append("    </testcase>\n");
}

}  // namespace

Status render_junit(const RunReport& rep, std::string* out) {
  out->clear();
  // Tests grouped by suite, suites in start order, tests without a suite last.
  std::map<std::string, size_t> suite_order;
  for (size_t i = 0; i < rep.suites.size(); ++i) suite_order.emplace(rep.suites[i].id, i);
  std::vector<std::vector<const TestReport*>> groups(rep.suites.size() + 1);
  for (const TestReport& t : rep.tests) {
    auto it = suite_order.find(t.suite);
    groups[it == suite_order.end() ? rep.suites.size() : it->second].push_back(&t);
  }

  SuiteCounts total;
  std::string body;
  int suite_no = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].empty()) continue;
    const SuiteReport* suite = g < rep.suites.size() ? &rep.suites[g] : nullptr;
    std::string name = suite ? suite_path(rep, suite->id) : std::string();
    if (name.empty()) name = rep.name.empty() ? rep.run : rep.name;
    SuiteCounts c;
    for (const TestReport* t : groups[g]) {
      ++c.tests;
      switch (outcome_of(t->status)) {
        case Outcome::kFailure: ++c.failures; break;
        case Outcome::kError: ++c.errors; break;
        case Outcome::kSkipped: ++c.skipped; break;
        case Outcome::kPassed: break;
      }
      double d = test_duration_ms(*t);
      if (d > 0) c.time_ms += d;
    }
    total.tests += c.tests;
    total.failures += c.failures;
    total.errors += c.errors;
    total.skipped += c.skipped;
    total.time_ms += c.time_ms;
    body.append("  <testsuite");
    attr(&body, "name", name);
    attr(&body, "tests", std::to_string(c.tests));
    attr(&body, "failures", std::to_string(c.failures));
    attr(&body, "errors", std::to_string(c.errors));
    attr(&body, "skipped", std::to_string(c.skipped));
    attr(&body, "time", seconds(c.time_ms));
    int64_t started = suite && suite->started_at ? suite->started_at : rep.started_at;
    attr(&body, "timestamp", iso_utc_seconds(started));
    attr(&body, "id", std::to_string(suite_no++));
    if (suite && !suite->file.empty()) attr(&body, "file", suite->file);
    body.append(">\n");
    body.append("    <properties>\n      <property name=\"baton.run\"");
    attr(&body, "value", rep.run);
    body.append("/>\n");
    if (suite) {
      body.append("      <property name=\"baton.suite\"");
      attr(&body, "value", suite->id);
      body.append("/>\n");
    }
    body.append("    </properties>\n");
    for (const TestReport* t : groups[g]) {
      std::string classname = name;
      if (!suite && !t->file.empty()) classname = t->file;
      testcase(&body, *t, classname);
    }
    body.append("  </testsuite>\n");
  }

  out->append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
  attr(out, "name", rep.name.empty() ? rep.run : rep.name);
  attr(out, "tests", std::to_string(total.tests));
  attr(out, "failures", std::to_string(total.failures));
  attr(out, "errors", std::to_string(total.errors));
  attr(out, "skipped", std::to_string(total.skipped));
  double run_ms = rep.ended_at ? static_cast<double>(rep.ended_at - rep.started_at) : total.time_ms;
  attr(out, "time", seconds(run_ms));
  attr(out, "timestamp", iso_utc_seconds(rep.started_at));
  out->append(">\n");
  out->append(body);
  out->append("</testsuites>\n");
  return Status::ok();
}

}  // namespace baton
