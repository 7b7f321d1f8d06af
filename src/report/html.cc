// The HTML report: one self-contained page per run.
//
// The summary, failures, flaky and slowest tests are rendered here as
// escaped markup, so the page reads without JavaScript. The timeline (which
// worker ran what, when) and the test filter are drawn by the inline script
// from a JSON island (escaped for <script>). Nothing is fetched: no external
// CSS, fonts, scripts or images, and a Content-Security-Policy that forbids
// any network access says so to the browser.
#include <algorithm>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "report/markup.h"
#include "report/report.h"

namespace baton {

namespace {

constexpr size_t kSlowest = 10;

constexpr const char* kStyle = R"css(
:root{--fg:#1f2328;--muted:#656d76;--bg:#fff;--line:#d0d7de;--pass:#1a7f37;--fail:#cf222e;
--flaky:#9a6700;--skip:#6e7781;--err:#8250df}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;
color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}.meta{color:var(--muted)}.cards{display:flex;flex-wrap:wrap;gap:8px;margin:16px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:96px}
.card b{display:block;font-size:20px}.passed{color:var(--pass)}.failed{color:var(--fail)}
.flaky{color:var(--flaky)}.skipped{color:var(--skip)}.timedout,.interrupted{color:var(--err)}
.failure{border:1px solid var(--line);border-left:4px solid var(--fail);border-radius:6px;
padding:8px 12px;margin:8px 0}.failure .title{font-weight:600}.where{color:var(--muted);font-size:12px}
pre{background:#f6f8fa;padding:8px;border-radius:6px;overflow:auto;max-height:320px;font-size:12px;
white-space:pre-wrap;word-break:break-word}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.lane{display:flex;align-items:center;margin:2px 0}.lane .who{width:140px;flex:none;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap;font-size:12px;color:var(--muted)}
.track{position:relative;flex:1;height:18px;background:#f6f8fa;border-radius:3px}
.bar{position:absolute;top:2px;height:14px;border-radius:2px;min-width:2px;background:var(--pass)}
.bar.failed,.bar.timedout{background:var(--fail)}.bar.skipped{background:var(--skip)}
.bar.interrupted,.bar.running{background:var(--err)}#filter{padding:4px 8px;width:280px;margin:4px 0}
)css";

constexpr const char* kScript = R"js(
(function(){
  var data = JSON.parse(document.getElementById('baton-data').textContent);
  var tl = document.getElementById('timeline');
  var t0 = data.start, t1 = data.end;
  data.attempts.forEach(function(a){ if (a.start < t0) t0 = a.start; if (a.end > t1) t1 = a.end; });
  var span = Math.max(1, t1 - t0);
  var lanes = {};
  var order = [];
  data.attempts.forEach(function(a){
    var who = a.worker || '(no worker)';
    if (!lanes[who]) { lanes[who] = []; order.push(who); }
    lanes[who].push(a);
  });
  order.sort();
  order.forEach(function(who){
    var lane = document.createElement('div'); lane.className = 'lane';
    var name = document.createElement('div'); name.className = 'who'; name.textContent = who;
    name.title = who;
    var track = document.createElement('div'); track.className = 'track';
    lanes[who].forEach(function(a){
      var bar = document.createElement('div'); bar.className = 'bar ' + a.status;
      bar.style.left = (100 * (a.start - t0) / span) + '%';
      bar.style.width = (100 * Math.max(0, a.end - a.start) / span) + '%';
      bar.title = a.name + ' (attempt ' + a.attempt + ', ' + a.status + ', ' +
                  (a.end - a.start) + ' ms)';
      track.appendChild(bar);
    });
    lane.appendChild(name); lane.appendChild(track); tl.appendChild(lane);
  });
  tl.setAttribute('data-lanes', String(order.length));
  var note = document.getElementById('timeline-note');
  note.textContent = order.length + ' worker' + (order.length === 1 ? '' : 's') + ', ' +
                     data.attempts.length + ' attempts over ' + (span / 1000).toFixed(1) + ' s';
  var filter = document.getElementById('filter');
  var rows = document.querySelectorAll('#all-tests tbody tr');
  filter.addEventListener('input', function(){
    var q = filter.value.toLowerCase();
    rows.forEach(function(r){ r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none'; });
  });
  document.body.setAttribute('data-ready', '1');
})();
)js";

struct Html {
  std::string* out;
  Html& raw(std::string_view s) {
    out->append(s);
    return *this;
  }
  Html& text(std::string_view s) {
    append_xml_escaped(out, s, false);
    return *this;
  }
  Html& attr_value(std::string_view s) {
    append_xml_escaped(out, s, true);
    return *this;
  }
};

std::string ms_text(double ms) {
  if (ms < 0) return "–";
  if (ms < 1000) return fmt::format("{:.0f} ms", ms);
  return fmt::format("{:.2f} s", ms / 1000);
}

std::string test_title(const RunReport& rep, const TestReport& t) {
  std::string path = suite_path(rep, t.suite);
  std::string name = t.name.empty() ? t.id : t.name;
  return path.empty() ? name : path + " \u203a " + name;
}

void card(Html& h, std::string_view cls, std::string_view label, int64_t n) {
  h.raw("<div class=\"card ").raw(cls).raw("\" data-count=\"").raw(label).raw("\"><b>");
  h.raw(std::to_string(n)).raw("</b>").raw(label).raw("</div>");
}

}  // namespace

Status render_html(const RunReport& rep, std::string* out) {
  out->clear();
  Html h{out};
  std::string title = rep.name.empty() ? rep.run : rep.name;
  h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
  h.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">");
  h.raw("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
  h.raw("<title>").text(title).raw(" \u2013 baton report</title><style>").raw(kStyle);
  h.raw("</style></head><body>\n");

  h.raw("<h1>").text(title).raw(" <span class=\"").attr_value(rep.status).raw("\" id=\"run-status\">");
  h.text(rep.status).raw("</span></h1>\n<div class=\"meta\">run <code>").text(rep.run).raw("</code>");
  if (!rep.build.empty()) h.raw(" · build <code>").text(rep.build).raw("</code>");
  if (!rep.platform.empty()) h.raw(" · ").text(rep.platform);
  h.raw(" · started ").text(rfc3339_utc(rep.started_at));
  if (rep.ended_at) h.raw(" · took ").text(ms_text(static_cast<double>(rep.ended_at - rep.started_at)));
  h.raw("</div>\n");

  const Counts& c = rep.counts;
  h.raw("<div class=\"cards\" id=\"summary\">");
  card(h, "", "tests", c.tests);
  card(h, "passed", "passed", c.passed - c.flaky);
  card(h, "failed", "failed", c.failed);
  card(h, "flaky", "flaky", c.flaky);
  card(h, "skipped", "skipped", c.skipped);
  if (c.timedout) card(h, "timedout", "timedout", c.timedout);
  if (c.interrupted) card(h, "interrupted", "interrupted", c.interrupted);
  if (c.running) card(h, "running", "running", c.running);
  h.raw("</div>\n");

  std::vector<const TestReport*> failures, flaky, timed;
  for (const TestReport& t : rep.tests) {
    if (is_failure_status(t.status) || t.status == "interrupted") failures.push_back(&t);
    if (t.flaky) flaky.push_back(&t);
    if (test_duration_ms(t) >= 0) timed.push_back(&t);
  }

  h.raw("<h2>Failures (").raw(std::to_string(failures.size())).raw(")</h2>\n<div id=\"failures\">");
  if (failures.empty()) h.raw("<p class=\"meta\">No test failed.</p>");
  for (const TestReport* t : failures) {
    const AttemptReport* last = last_attempt(*t);
    ErrorParts e = last ? parse_error_json(last->error_json, last->error_message) : ErrorParts();
    h.raw("<div class=\"failure\"><div class=\"title\">").text(test_title(rep, *t));
    h.raw(" <span class=\"").attr_value(t->status).raw("\">").text(t->status).raw("</span></div>");
    h.raw("<div class=\"where\">");
    if (!t->file.empty()) h.text(t->file).raw(" · ");
    h.raw("attempt ").raw(std::to_string(last ? last->attempt : 1));
    if (last && !last->worker.empty()) h.raw(" · worker ").text(last->worker);
    h.raw("</div>");
    if (!e.message.empty()) h.raw("<pre class=\"message\">").text(e.message).raw("</pre>");
    if (!e.stack.empty()) h.raw("<pre class=\"stack\">").text(e.stack).raw("</pre>");
    if (last && !last->stderr_text.empty()) {
      h.raw("<details><summary>stderr</summary><pre>").text(last->stderr_text).raw("</pre></details>");
    }
    if (last) {
      for (const AttachmentRef& a : parse_attachments_json(last->attachments_json)) {
        h.raw("<div class=\"where\">attachment: ").text(a.name).raw(" (").text(a.content_type);
        h.raw(") <code>").text(a.path).raw("</code></div>");
      }
    }
    h.raw("</div>\n");
  }
  h.raw("</div>\n");

  h.raw("<h2>Flaky (").raw(std::to_string(flaky.size())).raw(")</h2>\n<div id=\"flaky\">");
  if (flaky.empty()) {
    h.raw("<p class=\"meta\">No flaky test.</p>");
  } else {
    h.raw("<table><thead><tr><th>test</th><th class=\"num\">attempts</th><th>first error</th>"
          "</tr></thead><tbody>");
    for (const TestReport* t : flaky) {
      std::string first_error;
      for (const AttemptReport& a : t->attempts) {
        if (is_failure_status(a.status)) {
          first_error = std::string(first_line(parse_error_json(a.error_json, a.error_message).message));
          break;
        }
      }
      h.raw("<tr><td>").text(test_title(rep, *t)).raw("</td><td class=\"num\">");
      h.raw(std::to_string(t->attempts.size())).raw("</td><td>").text(first_error).raw("</td></tr>");
    }
    h.raw("</tbody></table>");
  }
  h.raw("</div>\n");

  std::sort(timed.begin(), timed.end(), [](const TestReport* a, const TestReport* b) {
    return test_duration_ms(*a) > test_duration_ms(*b);
  });
  if (timed.size() > kSlowest) timed.resize(kSlowest);
  h.raw("<h2>Slowest tests</h2>\n<table id=\"slowest\"><thead><tr><th>test</th>"
        "<th class=\"num\">duration</th><th>status</th></tr></thead><tbody>");
  for (const TestReport* t : timed) {
    h.raw("<tr><td>").text(test_title(rep, *t)).raw("</td><td class=\"num\">");
    h.text(ms_text(test_duration_ms(*t))).raw("</td><td class=\"").attr_value(t->status).raw("\">");
    h.text(t->status).raw("</td></tr>");
  }
  h.raw("</tbody></table>\n");

  h.raw("<h2>Timeline</h2>\n<div class=\"meta\" id=\"timeline-note\">The timeline needs "
        "JavaScript.</div><div id=\"timeline\"></div>\n");

  h.raw("<h2>All tests (").raw(std::to_string(rep.tests.size())).raw(")</h2>\n");
  h.raw("<input id=\"filter\" type=\"search\" placeholder=\"filter by name, status, file…\">");
  h.raw("<table id=\"all-tests\"><thead><tr><th>test</th><th>status</th><th class=\"num\">"
        "attempts</th><th class=\"num\">duration</th></tr></thead><tbody>");
  for (const TestReport& t : rep.tests) {
    std::string status = t.flaky ? "flaky" : t.status;
    h.raw("<tr><td>").text(test_title(rep, t));
    if (!t.file.empty()) h.raw(" <span class=\"where\">").text(t.file).raw("</span>");
    h.raw("</td><td class=\"").attr_value(status).raw("\">").text(status).raw("</td>");
    h.raw("<td class=\"num\">").raw(std::to_string(t.attempts.size())).raw("</td>");
    h.raw("<td class=\"num\">").text(ms_text(test_duration_ms(t))).raw("</td></tr>");
  }
  h.raw("</tbody></table>\n");

  // The timeline's data: every attempt with a start, as [start, end) in ms.
  std::string data;
  JsonWriter w(&data);
  int64_t run_end = rep.ended_at ? rep.ended_at : rep.started_at;
  w.begin_object().field("start", rep.started_at).field("end", run_end);
  w.key("attempts").begin_array();
  for (const TestReport& t : rep.tests) {
    for (const AttemptReport& a : t.attempts) {
      if (a.started_at == 0) continue;
      int64_t end = a.ended_at ? a.ended_at : std::max(a.started_at, run_end);
      w.begin_object().field("name", test_title(rep, t)).field("worker", a.worker);
      w.field("attempt", a.attempt).field("status", a.status);
      w.field("start", a.started_at).field("end", end).end_object();
    }
  }
  w.end_array().end_object();
  h.raw("<script type=\"application/json\" id=\"baton-data\">").raw(json_for_script(data));
  h.raw("</script>\n<script>").raw(kScript).raw("</script>\n</body></html>\n");
  return Status::ok();
}

}  // namespace baton
