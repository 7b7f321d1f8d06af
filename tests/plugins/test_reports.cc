// Exports of a run with failures, skips, flaky retries and hostile text:
// JUnit, CTRF, HTML and JSON. The sample files written here are what the
// schema checks (xmllint against tests/data/junit.xsd, the CTRF checker
// against tests/data/ctrf.schema.json) validate; the HTML page is opened in
// headless Chromium when it is installed.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plugins/sample_run.h"

using baton::Code;
using baton::testing::Engine;

namespace {

std::string export_of(Engine& e, const std::string& run, const std::string& format) {
  std::string out;
  baton::Status s = e.engine->export_run(run, format, &out);
  REQUIRE(s.message() == "");
  return out;
}

std::string out_dir() {
  std::string dir = std::string(BATON_BINARY_DIR) + "/plugins-reports";
  std::filesystem::create_directories(dir);
  return dir;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

std::string run_command(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *status = pclose(p);
  return out;
}

}  // namespace

TEST_CASE("JUnit export: suites, outcomes, Surefire reruns, escaping") {
  Engine e(R"({"clock":"manual"})");
  baton::testing::push_sample_run(e, "nightly-1");
  std::string xml = export_of(e, "nightly-1", "junit");
  write(out_dir() + "/sample.junit.xml", xml);

  CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0) == 0);
  CHECK(xml.find("name=\"nightly &lt;main&gt; &amp; co\" tests=\"6\" failures=\"2\" errors=\"1\" "
                 "skipped=\"1\"") != std::string::npos);
  // One testsuite per suite holding tests, nested names carry their parent.
  CHECK(count(xml, "<testsuite ") == 3);
  CHECK(xml.find("<testsuite name=\"auth \u203a login\" tests=\"2\"") != std::string::npos);
  CHECK(xml.find("<testsuite name=\"cart\" tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"1\"") !=
        std::string::npos);
  // Tests without a suite go into a suite named after the run; classname is the file.
  CHECK(xml.find("classname=\"tests/catalogue.spec.ts\"") != std::string::npos);
  CHECK(xml.find("<testcase name=\"adds an item &lt;b&gt;twice&lt;/b&gt;\" classname=\"cart\" "
                 "file=\"tests/cart.spec.ts\" time=\"0.350\">") != std::string::npos);
  CHECK(xml.find("<failure message=\"expected 2 items, got 1  [31m &amp; &lt;cart&gt;&#10;second "
                 "line\" type=\"AssertionError\">AssertionError: expected 2 items\n    at "
                 "cart.spec.ts:12:5 </failure>") != std::string::npos);
  CHECK(xml.find("<skipped message=\"gift cards are off in this build\"/>") != std::string::npos);
  CHECK(xml.find("<error message=\"Timeout of 5000ms exceeded\" type=\"timedout\">") !=
        std::string::npos);
  // Retries the Surefire way.
  CHECK(count(xml, "<flakyFailure ") == 1);
  CHECK(xml.find("<flakyFailure message=\"timer fired late\" type=\"AssertionError\" "
                 "time=\"0.100\">\n        <stackTrace>Error: timer fired late\n    at "
                 "idle.ts:3</stackTrace>\n        <system-out>idle 1\n</system-out>") !=
        std::string::npos);
  CHECK(count(xml, "<rerunFailure ") == 1);
  CHECK(xml.find("<rerunFailure message=\"coupon rejected: 500\"") != std::string::npos);
  CHECK(xml.find("<failure message=\"coupon rejected: 502\"") != std::string::npos);
  // Output, attachments, and nothing XML cannot carry.
  CHECK(xml.find("<system-out>step 1 ok\nstep 2 ]]&gt; failed\n[[ATTACHMENT|artifacts/t-fail-1.png]]"
                 "\n</system-out>") != std::string::npos);
  CHECK(xml.find("<system-err>warn: slow network\n</system-err>") != std::string::npos);
  CHECK(xml.find('\x01') == std::string::npos);
  CHECK(xml.find('\x1b') == std::string::npos);
  CHECK(xml.find("\xef\xbf\xbf") == std::string::npos);
}

TEST_CASE("CTRF export: summary, statuses, retries, attempts") {
  Engine e(R"({"clock":"manual"})");
  baton::testing::push_sample_run(e, "nightly-1");
  std::string json = export_of(e, "nightly-1", "ctrf");
  write(out_dir() + "/sample.ctrf.json", json);

  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  CHECK(std::string_view(doc["reportFormat"]) == "CTRF");
  auto summary = doc["results"]["summary"];
  CHECK(int64_t(summary["tests"]) == 6);
  CHECK(int64_t(summary["passed"]) == 2);
  CHECK(int64_t(summary["failed"]) == 3);  // failed twice + the timeout
  CHECK(int64_t(summary["skipped"]) == 1);
  CHECK(int64_t(summary["flaky"]) == 1);
  CHECK(int64_t(summary["start"]) == 1764140000000);
  CHECK(int64_t(summary["stop"]) == 1764140006000);
  bool saw_flaky = false, saw_timeout = false;
  for (auto t : doc["results"]["tests"].get_array()) {
    std::string_view name = t["name"];
    if (name == "logs out after idle") {
      saw_flaky = true;
      CHECK(bool(t["flaky"]));
      CHECK(std::string_view(t["status"]) == "passed");
      CHECK(int64_t(t["retries"]) == 1);
      auto attempts = t["retryAttempts"].get_array();
      CHECK(attempts.size() == 1);
      CHECK(std::string_view(attempts.at(0)["status"]) == "failed");
      CHECK(std::string_view(attempts.at(0)["message"]) == "timer fired late");
      CHECK(std::string_view(t["suite"].at(0)) == "auth");
      CHECK(std::string_view(t["suite"].at(1)) == "login");
    }
    if (name == "loads the catalogue") {
      saw_timeout = true;
      CHECK(std::string_view(t["status"]) == "failed");
      CHECK(std::string_view(t["rawStatus"]) == "timedout");
      CHECK(int64_t(t["duration"]) == 5000);
    }
  }
  CHECK(saw_flaky);
  CHECK(saw_timeout);
}

TEST_CASE("exports of a run still going, and of tests a run.end interrupted") {
  Engine e(R"({"clock":"manual"})");
  e.engine->clock_set(1764140000000);
  e.push("c", R"({"type":"run.start","run":"live-1","name":"live"})");
  e.push("c", R"({"type":"test.start","run":"live-1","id":"a","name":"done already","worker":"w1"})");
  e.engine->clock_set(1764140000100);
  e.push("c", R"({"type":"test.end","run":"live-1","id":"a","status":"passed","duration_ms":100})");
  e.push("c", R"({"type":"test.start","run":"live-1","id":"b","name":"still going","worker":"w2"})");
  std::string junit = export_of(e, "live-1", "junit");
  std::string ctrf = export_of(e, "live-1", "ctrf");
  write(out_dir() + "/sample.live.junit.xml", junit);
  write(out_dir() + "/sample.live.ctrf.json", ctrf);
  CHECK(junit.find("<skipped message=\"still running when the report was made\"/>") != std::string::npos);
  simdjson::dom::parser parser;
  auto doc = parser.parse(ctrf);
  CHECK(int64_t(doc["results"]["summary"]["pending"]) == 1);
  CHECK(int64_t(doc["results"]["summary"]["stop"]) == 1764140000100);

  e.engine->clock_set(1764140000500);
  e.push("c", R"({"type":"run.end","run":"live-1"})");
  junit = export_of(e, "live-1", "junit");
  write(out_dir() + "/sample.interrupted.junit.xml", junit);
  CHECK(junit.find("<error message=\"the run ended while the test was running\" type=\"interrupted\">") !=
        std::string::npos);
  CHECK(junit.find("errors=\"1\"") != std::string::npos);
  std::string html = export_of(e, "live-1", "html");
  CHECK(html.find("Failures (1)") != std::string::npos);
  ctrf = export_of(e, "live-1", "ctrf");
  CHECK(int64_t(parser.parse(ctrf)["results"]["summary"]["other"]) == 1);
}

TEST_CASE("JSON export is unchanged by the new formats, and unknown formats are refused") {
  Engine e(R"({"clock":"manual"})");
  baton::testing::push_sample_run(e, "nightly-1");
  std::string json = export_of(e, "nightly-1", "json");
  write(out_dir() + "/sample.json", json);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  CHECK(int64_t(doc["counts"]["flaky"]) == 1);
  std::string out;
  baton::Status s = e.engine->export_run("nightly-1", "xunit", &out);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("json, junit, ctrf, html") != std::string::npos);
}

TEST_CASE("HTML export: self-contained, escaped, with every section") {
  Engine e(R"({"clock":"manual"})");
  baton::testing::push_sample_run(e, "nightly-1");
  std::string html = export_of(e, "nightly-1", "html");
  std::string path = out_dir() + "/sample.html";
  write(path, html);

  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  // No network: nothing refers to another document or host.
  for (const char* ref : {"http://", "https://", "src=", "href=", "@import", "url("}) {
    INFO(ref);
    CHECK(html.find(ref) == std::string::npos);
  }
  CHECK(html.find("default-src 'none'") != std::string::npos);
  // Everything from events is escaped: the test name's markup shows as text.
  CHECK(html.find("<b>twice</b>") == std::string::npos);
  CHECK(html.find("adds an item &lt;b&gt;twice&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("nightly &lt;main&gt; &amp; co") != std::string::npos);
  // The JSON island cannot close its <script>.
  size_t island = html.find("id=\"baton-data\">");
  REQUIRE(island != std::string::npos);
  size_t island_end = html.find("</script>", island);
  CHECK(html.substr(island, island_end - island).find('<') == std::string::npos);
  CHECK(html.find("Failures (3)") != std::string::npos);
  CHECK(html.find("Flaky (1)") != std::string::npos);
  CHECK(html.find("coupon rejected: 502") != std::string::npos);
}

TEST_CASE("HTML export in headless Chromium: the page shows failures, counts and the timeline") {
  const char* chromium = nullptr;
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (std::filesystem::exists(candidate)) {
      chromium = candidate;
      break;
    }
  }
  if (chromium == nullptr) {
    WARN("SKIPPED: chromium is not installed (/usr/bin/chromium); the HTML report was not opened "
         "in a browser");
    return;
  }
  Engine e(R"({"clock":"manual"})");
  baton::testing::push_sample_run(e, "nightly-1");
  std::string html = export_of(e, "nightly-1", "html");
  std::string path = out_dir() + "/browser.html";
  write(path, html);
  std::string profile = out_dir() + "/chromium-profile";
  std::filesystem::remove_all(profile);
  std::string cmd = std::string(chromium) +
                    " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                    "--disable-background-networking --disable-component-update --disable-sync "
                    "--user-data-dir=" + profile + " --dump-dom file://" + path + " 2>/dev/null";
  int status = 0;
  std::string dom = run_command(cmd, &status);
  std::filesystem::remove_all(profile);
  INFO(dom.substr(0, 2000));
  REQUIRE(status == 0);
  // The script ran: it marks the body and draws one lane per worker.
  CHECK(dom.find("data-ready=\"1\"") != std::string::npos);
  CHECK(dom.find("data-lanes=\"2\"") != std::string::npos);
  CHECK(dom.find("2 workers, 8 attempts") != std::string::npos);
  CHECK(count(dom, "class=\"bar ") == 8);
  // Failure names and counts as a reader sees them.
  CHECK(dom.find("adds an item &lt;b&gt;twice&lt;/b&gt;") != std::string::npos);
  CHECK(dom.find("applies a coupon") != std::string::npos);
  CHECK(dom.find("loads the catalogue") != std::string::npos);
  CHECK(dom.find("data-count=\"failed\"><b>2</b>") != std::string::npos);
  CHECK(dom.find("data-count=\"flaky\"><b>1</b>") != std::string::npos);
  CHECK(dom.find("data-count=\"tests\"><b>6</b>") != std::string::npos);
  // Markup from events stayed text: no <b> element was created.
  CHECK(dom.find("<b>twice</b>") == std::string::npos);
}
