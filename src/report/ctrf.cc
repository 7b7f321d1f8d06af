// Common Test Report Format (CTRF) JSON.
//
// CTRF has five statuses; baton's map onto them as: passed, failed,
// skipped as themselves, timedout -> failed, interrupted -> other,
// running -> pending; `rawStatus` keeps baton's word. `retries` counts the
// attempts before the final one and `retryAttempts` lists them (the final
// attempt is the test itself). Durations are whole milliseconds.
#include <cmath>

#include "baton/version.h"
#include "common/json_writer.h"
#include "report/markup.h"
#include "report/report.h"

namespace baton {

namespace {

std::string_view ctrf_status(std::string_view status) {
  if (status == "passed" || status == "failed" || status == "skipped") return status;
  if (status == "timedout") return "failed";
  if (status == "running") return "pending";
  return "other";
}

int64_t whole_ms(double ms) { return ms < 0 ? 0 : static_cast<int64_t>(std::llround(ms)); }

void lines_field(JsonWriter& w, std::string_view key, std::string_view text) {
  if (text.empty()) return;
  w.key(key).begin_array();
  for (std::string_view line : split_lines(text)) w.value(line);
  w.end_array();
}

void attachments_field(JsonWriter& w, std::string_view attachments_json) {
  std::vector<AttachmentRef> refs = parse_attachments_json(attachments_json);
  if (refs.empty()) return;
  w.key("attachments").begin_array();
  for (const AttachmentRef& a : refs) {
    w.begin_object().field("name", a.name).field("contentType", a.content_type);
    w.field("path", a.path).end_object();
  }
  w.end_array();
}

void error_fields(JsonWriter& w, const AttemptReport& a) {
  ErrorParts e = parse_error_json(a.error_json, a.error_message);
  if (!e.message.empty()) w.field("message", e.message);
  if (!e.stack.empty()) w.field("trace", e.stack);
}

void timing_fields(JsonWriter& w, const AttemptReport& a) {
  if (a.started_at) w.field("start", a.started_at);
  if (a.ended_at) w.field("stop", a.ended_at);
}

}  // namespace

Status render_ctrf(const RunReport& rep, std::string* out) {
  out->clear();
  int64_t passed = 0, failed = 0, skipped = 0, pending = 0, other = 0, flaky = 0;
  for (const TestReport& t : rep.tests) {
    std::string_view s = ctrf_status(t.status);
    if (s == "passed") ++passed;
    else if (s == "failed") ++failed;
    else if (s == "skipped") ++skipped;
    else if (s == "pending") ++pending;
    else ++other;
    if (t.flaky) ++flaky;
  }
  JsonWriter w(out);
  w.begin_object();
  w.field("reportFormat", "CTRF").field("specVersion", "0.1.0");
  w.field("timestamp", rfc3339_utc(rep.ended_at ? rep.ended_at : rep.started_at));
  w.field("generatedBy", "baton");
  w.key("results").begin_object();
  w.key("tool").begin_object().field("name", "baton").field("version", BATON_VERSION_STRING);
  w.end_object();
  w.key("summary").begin_object();
  w.field("tests", static_cast<int64_t>(rep.tests.size())).field("passed", passed);
  w.field("failed", failed).field("skipped", skipped).field("pending", pending);
  w.field("other", other).field("flaky", flaky);
  w.field("suites", static_cast<int64_t>(rep.suites.size()));
  w.field("start", rep.started_at);
  int64_t stop = rep.ended_at;
  if (stop == 0) {
    for (const TestReport& t : rep.tests) {
      for (const AttemptReport& a : t.attempts) stop = std::max(stop, a.ended_at);
    }
    stop = std::max(stop, rep.started_at);
  }
  w.field("stop", stop).field("duration", stop - rep.started_at);
  w.end_object();

  w.key("tests").begin_array();
  for (const TestReport& t : rep.tests) {
    const AttemptReport* last = last_attempt(t);
    w.begin_object();
    w.field("name", t.name.empty() ? t.id : t.name);
    w.field("status", ctrf_status(t.status)).field("rawStatus", t.status);
    w.field("duration", whole_ms(last ? last->duration_ms : -1));
    if (last) timing_fields(w, *last);
    std::string path = suite_path(rep, t.suite);
    if (!path.empty()) {
      w.key("suite").begin_array();
      size_t start = 0;
      const std::string_view sep = " \u203a ";
      for (;;) {
        size_t p = path.find(sep, start);
        w.value(std::string_view(path).substr(start, p == std::string::npos ? p : p - start));
        if (p == std::string::npos) break;
        start = p + sep.size();
      }
      w.end_array();
    }
    if (last) error_fields(w, *last);
    if (!t.file.empty()) w.field("filePath", t.file);
    int64_t retries = t.attempts.empty() ? 0 : static_cast<int64_t>(t.attempts.size()) - 1;
    w.field("retries", retries);
    if (retries > 0) {
      w.key("retryAttempts").begin_array();
      for (size_t i = 0; i + 1 < t.attempts.size(); ++i) {
        const AttemptReport& a = t.attempts[i];
        w.begin_object().field("attempt", a.attempt).field("status", ctrf_status(a.status));
        w.field("duration", whole_ms(a.duration_ms));
        error_fields(w, a);
        lines_field(w, "stdout", a.stdout_text);
        lines_field(w, "stderr", a.stderr_text);
        timing_fields(w, a);
        attachments_field(w, a.attachments_json);
        w.end_object();
      }
      w.end_array();
    }
    w.field("flaky", t.flaky);
    if (last) {
      lines_field(w, "stdout", last->stdout_text);
      lines_field(w, "stderr", last->stderr_text);
      if (!last->worker.empty()) w.field("threadId", last->worker);
      attachments_field(w, last->attachments_json);
    }
    w.key("extra").begin_object().field("id", t.id);
    if (!t.spec.empty()) w.field("spec", t.spec);
    w.field("attempts", static_cast<int64_t>(t.attempts.size()));
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.key("environment").begin_object();
  w.field("reportName", rep.name.empty() ? rep.run : rep.name);
  if (!rep.build.empty()) w.field("buildName", rep.build);
  if (!rep.platform.empty()) w.field("osPlatform", rep.platform);
  w.key("extra").begin_object().field("run", rep.run).field("status", rep.status).end_object();
  w.end_object();
  w.end_object();
  w.end_object();
  return Status::ok();
}

}  // namespace baton
