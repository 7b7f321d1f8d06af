// Built-in reporters: console output, report files written at run end, and
// the analytics queries (perf, flaky, history) with the performance plugin.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "plugins/sample_run.h"

using baton::Code;
using baton::testing::Engine;

namespace {

std::string fresh_dir(const std::string& name) {
  std::string dir = fmt::format("{}/plugins-{}-{}", BATON_BINARY_DIR, name, ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void simple_run(Engine& e, const std::string& run, double slow_ms, int64_t t0) {
  e.engine->clock_set(t0);
  e.push("c", fmt::format(R"({{"type":"run.start","run":"{}"}})", run));
  for (int i = 0; i < 5; ++i) {
    e.push("c", fmt::format(R"({{"type":"test.start","run":"{}","id":"t{}","name":"test {}","suite":"s"}})",
                            run, i, i));
    double d = i == 4 ? slow_ms : 10.0 * (i + 1);
    e.push("c", fmt::format(R"({{"type":"test.end","run":"{}","id":"t{}","status":"passed","duration_ms":{}}})",
                            run, i, d));
  }
  e.push("c", fmt::format(R"({{"type":"run.end","run":"{}"}})", run));
}

}  // namespace

TEST_CASE("console: plain lines while the run goes, then a summary") {
  std::string dir = fresh_dir("console");
  std::string log = dir + "/console.log";
  {
    Engine e(fmt::format(R"({{"clock":"manual","plugins":{{"console":{{"path":"{}","slowest":2}}}}}})", log));
    baton::testing::push_sample_run(e, "nightly-1");
    e.close();
  }
  std::string out = slurp(log);
  INFO(out);
  CHECK(out.find("Running nightly <main> & co") != std::string::npos);
  // One line per finished attempt, the suite path before the name.
  CHECK(out.find("\u2713 auth \u203a login \u203a accepts a valid password (120ms)") != std::string::npos);
  CHECK(out.find("\u2718 cart \u203a adds an item <b>twice</b> (350ms)\n      expected 2 items, got 1") !=
        std::string::npos);
  CHECK(out.find("logs out after idle (passed on attempt 2, flaky)") != std::string::npos);
  // No color outside a terminal.
  CHECK(out.find("\x1b[") == std::string::npos);
  // The summary.
  CHECK(out.find("  3 failed\n") != std::string::npos);
  CHECK(out.find("cart \u203a applies a coupon (2 attempts)\n        coupon rejected: 502") != std::string::npos);
  CHECK(out.find("loads the catalogue [timedout]") != std::string::npos);
  CHECK(out.find("  1 flaky\n    \u21bb auth \u203a login \u203a logs out after idle (2 attempts)") !=
        std::string::npos);
  CHECK(out.find("  1 skipped\n") != std::string::npos);
  CHECK(out.find("  1 passed\n") != std::string::npos);
  CHECK(out.find("Slowest tests:\n        5.0s  loads the catalogue\n       350ms  cart \u203a adds an item") !=
        std::string::npos);
  CHECK(out.find("Run nightly <main> & co failed: 6 tests (3 failed, 1 flaky, 1 skipped, 1 passed) in 6.0s") !=
        std::string::npos);
}

TEST_CASE("console on a terminal: a progress line redrawn in place, colors, failures above it") {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  REQUIRE(master >= 0);
  REQUIRE(grantpt(master) == 0);
  REQUIRE(unlockpt(master) == 0);
  std::string slave = ptsname(master);
  // Held open for the whole test: a terminal whose last user left reads as
  // hung up. Raw mode passes bytes through as the plugin wrote them.
  int hold = open(slave.c_str(), O_RDWR | O_NOCTTY);
  REQUIRE(hold >= 0);
  termios t{};
  tcgetattr(hold, &t);
  cfmakeraw(&t);
  tcsetattr(hold, TCSANOW, &t);
  std::string out;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      pollfd pfd{master, POLLIN, 0};
      int ready = poll(&pfd, 1, 50);
      if (ready > 0 && (pfd.revents & POLLIN)) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
      } else if (stop) {
        break;  // written and drained
      }
    }
  });
  {
    Engine e(fmt::format(R"({{"clock":"manual","plugins":{{"console":{{"path":"{}","color":true}}}}}})", slave));
    baton::testing::push_sample_run(e, "nightly-1");
    e.close();
  }
  stop = true;
  reader.join();
  close(hold);
  close(master);
  INFO(out);
  // The progress line: cleared and redrawn, with its bar and counts.
  CHECK(out.find("\r\x1b[2K") != std::string::npos);
  CHECK(out.find("\u2588") != std::string::npos);
  CHECK(out.find("8/8") != std::string::npos);  // attempts finished / started
  // Failures print above it, in red; passes do not get a line of their own.
  CHECK(out.find("\x1b[31m\u2718\x1b[0m cart \u203a adds an item <b>twice</b>") != std::string::npos);
  CHECK(out.find("accepts a valid password (") == std::string::npos);
  CHECK(out.find("\x1b[1;31mfailed\x1b[0m: 6 tests") != std::string::npos);
  // The escape sequence inside the error message was not passed through.
  CHECK(out.find("got 1  [31m") != std::string::npos);
}

TEST_CASE("report plugins write their files when the run ends") {
  std::string dir = fresh_dir("files");
  Engine e(fmt::format(R"({{"clock":"manual","plugins":{{)"
                       R"("json":{{"dir":"{0}/json"}},"junit":{{"path":"{0}/junit/{{run}}.xml"}},)"
                       R"("ctrf":{{"path":"{0}/ctrf.json"}},"html":{{"dir":"{0}/html"}},)"
                       R"("performance":{{"dir":"{0}/perf"}}}}}})",
                       dir));
  e.push("c", R"({"type":"run.start","run":"nightly/2"})");
  CHECK_FALSE(std::filesystem::exists(dir + "/ctrf.json"));
  e.push("c", R"({"type":"run.end","run":"nightly/2"})");
  baton::testing::push_sample_run(e, "nightly-1", 1764150000000);
  std::string json = slurp(dir + "/json/nightly-1.json");
  std::string exported;
  REQUIRE(e.engine->export_run("nightly-1", "json", &exported).message() == "");
  CHECK(json == exported);
  CHECK(std::filesystem::exists(dir + "/json/nightly_2.json"));
  CHECK(slurp(dir + "/junit/nightly-1.xml").find("<testsuites") != std::string::npos);
  CHECK(slurp(dir + "/ctrf.json").find("\"reportFormat\":\"CTRF\"") != std::string::npos);
  CHECK(slurp(dir + "/html/nightly-1.html").rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(slurp(dir + "/perf/nightly-1.perf.json").find("\"p95\"") != std::string::npos);
  // A cancelled run gets its reports too.
  e.push("c", R"({"type":"run.start","run":"r-cancel"})");
  e.push("c", R"({"type":"run.cancel","run":"r-cancel","reason":"superseded"})");
  CHECK(std::filesystem::exists(dir + "/html/r-cancel.html"));
}

TEST_CASE("report plugins see the whole run in async durability too") {
  std::string dir = fresh_dir("async");
  std::string db = baton::testing::temp_db("plugins-async");
  Engine e(fmt::format(R"({{"path":"{}","durability":"async","clock":"manual","plugins":{{"junit":{{"dir":"{}"}}}}}})",
                       db, dir));
  baton::testing::push_sample_run(e, "nightly-1");
  std::string xml = slurp(dir + "/nightly-1.xml");
  CHECK(xml.find("tests=\"6\" failures=\"2\" errors=\"1\" skipped=\"1\"") != std::string::npos);
}

TEST_CASE("a report that cannot be written is a counted plugin failure, not a refused event") {
  std::string dir = fresh_dir("unwritable");
  std::ofstream(dir + "/blocker") << "a file where a directory should be";
  std::vector<std::string> warnings;
  Engine e(fmt::format(R"({{"plugins":{{"junit":{{"path":"{}/blocker/junit.xml"}}}}}})", dir));
  e.engine->set_logger([&](int level, std::string_view m) {
    // Only what plugins say: the engine warns about other things too (open access).
    if (level >= 2 && (m.find("plugin") != std::string_view::npos ||
                       m.rfind("performance:", 0) == 0)) {
      warnings.emplace_back(m);
    }
  }, 0);
  Code code;
  e.push("c", R"({"type":"run.start","run":"r1"})", &code);
  e.push("c", R"({"type":"run.end","run":"r1"})", &code);
  CHECK(code == Code::kOk);
  simdjson::dom::parser parser;
  auto junit = parser.parse(e.query(R"({"op":"stats"})"))["plugins"].at(0);
  CHECK(std::string_view(junit["name"]) == "junit");
  CHECK(int64_t(junit["failures"]) == 1);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("plugin \"junit\" failed") != std::string::npos);
  CHECK(warnings[0].find("blocker") != std::string::npos);
}

TEST_CASE("perf query: percentiles per run and suite, slowest tests, regressions against history") {
  std::vector<std::string> warnings;
  Engine e(R"({"clock":"manual"})");
  e.engine->set_logger([&](int level, std::string_view m) {
    // Only what plugins say: the engine warns about other things too (open access).
    if (level >= 2 && (m.find("plugin") != std::string_view::npos ||
                       m.rfind("performance:", 0) == 0)) {
      warnings.emplace_back(m);
    }
  }, 0);
  for (int r = 0; r < 4; ++r) simple_run(e, fmt::format("base-{}", r), 50, 1000000 + r * 100000);
  simple_run(e, "now", 900, 2000000);
  simdjson::dom::parser parser;
  std::string answer = e.query(R"({"op":"perf","run":"now","slowest":2})");
  INFO(answer);
  auto doc = parser.parse(answer);
  CHECK(int64_t(doc["timed"]) == 5);
  // durations 10, 20, 30, 40, 900
  CHECK(double(doc["p50"]) == Approx(30));
  CHECK(double(doc["p95"]) == Approx(40 + 0.8 * 860));
  CHECK(double(doc["p99"]) == Approx(40 + 0.96 * 860));
  CHECK(double(doc["max_ms"]) == 900);
  CHECK(std::string_view(doc["suites"].at(0)["id"]) == "s");
  CHECK(doc["slowest"].get_array().size() == 2);
  CHECK(std::string_view(doc["slowest"].at(0)["id"]) == "t4");
  auto regressions = doc["regressions"].get_array();
  REQUIRE(regressions.size() == 1);
  CHECK(std::string_view(regressions.at(0)["id"]) == "t4");
  CHECK(double(regressions.at(0)["median_ms"]) == 50);
  CHECK(int64_t(regressions.at(0)["history"]) == 4);
  // The earlier runs are not regressions of anything (not enough history).
  CHECK(parser.parse(e.query(R"({"op":"perf","run":"base-1"})"))["regressions"].get_array().size() == 0);
  // 3x but not 100 ms over is no regression.
  simple_run(e, "small", 140, 3000000);
  CHECK(parser.parse(e.query(R"({"op":"perf","run":"small"})"))["regressions"].get_array().size() == 0);
  CHECK(e.query(R"({"op":"perf"})").find("needs field \"run\"") != std::string::npos);
  CHECK(e.query(R"({"op":"perf","run":"nope"})").find("unknown") != std::string::npos);
}

TEST_CASE("performance plugin logs regressions") {
  std::string dir = fresh_dir("perf");
  std::vector<std::string> warnings;
  Engine e(fmt::format(R"({{"clock":"manual","plugins":{{"performance":{{"dir":"{}"}}}}}})", dir));
  e.engine->set_logger([&](int level, std::string_view m) {
    // Only what plugins say: the engine warns about other things too (open access).
    if (level >= 2 && (m.find("plugin") != std::string_view::npos ||
                       m.rfind("performance:", 0) == 0)) {
      warnings.emplace_back(m);
    }
  }, 0);
  for (int r = 0; r < 3; ++r) simple_run(e, fmt::format("base-{}", r), 50, 1000000 + r * 100000);
  CHECK(warnings.empty());
  simple_run(e, "now", 900, 2000000);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("test \"t4\" took 900 ms in run \"now\", its median is 50 ms") != std::string::npos);
}

TEST_CASE("flaky and history queries across runs") {
  Engine e(R"({"clock":"manual"})");
  // Test "f" is flaky in 2 of 3 runs, "g" fails once, "h" always passes.
  for (int r = 0; r < 3; ++r) {
    std::string run = fmt::format("r{}", r);
    e.engine->clock_set(1000000 + r * 10000);
    e.push("c", fmt::format(R"({{"type":"run.start","run":"{}"}})", run));
    for (const char* id : {"f", "g", "h"}) {
      e.push("c", fmt::format(R"({{"type":"test.start","run":"{}","id":"{}","name":"test {}"}})", run, id, id));
      bool flaky_now = std::string(id) == "f" && r != 1;
      if (flaky_now) {
        e.push("c", fmt::format(R"({{"type":"test.end","run":"{}","id":"{}","status":"failed","duration_ms":5,"error":{{"message":"flake"}}}})", run, id));
        e.push("c", fmt::format(R"({{"type":"test.start","run":"{}","id":"{}","name":"test {}","attempt":2}})", run, id, id));
        e.push("c", fmt::format(R"({{"type":"test.end","run":"{}","id":"{}","status":"passed","attempt":2,"duration_ms":7}})", run, id));
      } else {
        const char* status = std::string(id) == "g" && r == 2 ? "failed" : "passed";
        e.push("c", fmt::format(R"({{"type":"test.end","run":"{}","id":"{}","status":"{}","duration_ms":{}}})", run, id, status, 10 + r));
      }
    }
    e.push("c", fmt::format(R"({{"type":"run.end","run":"{}"}})", run));
  }
  simdjson::dom::parser parser;
  std::string flaky = e.query(R"({"op":"flaky","limit_runs":20})");
  INFO(flaky);
  auto doc = parser.parse(flaky);
  CHECK(int64_t(doc["runs"]) == 3);
  auto tests = doc["tests"].get_array();
  REQUIRE(tests.size() == 1);
  CHECK(std::string_view(tests.at(0)["id"]) == "f");
  CHECK(int64_t(tests.at(0)["flaky"]) == 2);
  CHECK(int64_t(tests.at(0)["runs"]) == 3);
  CHECK(double(tests.at(0)["rate"]) == Approx(2.0 / 3));
  CHECK(std::string_view(tests.at(0)["last_flaky_run"]) == "r2");
  // Only the latest run: f is flaky in it, rate 1.
  auto latest = parser.parse(e.query(R"({"op":"flaky","limit_runs":1})"));
  CHECK(double(latest["tests"].at(0)["rate"]) == 1.0);

  std::string history = e.query(R"({"op":"history","test":"g","limit":2})");
  INFO(history);
  auto h = parser.parse(history);
  auto runs = h["runs"].get_array();
  REQUIRE(runs.size() == 2);
  CHECK(std::string_view(runs.at(0)["run"]) == "r2");
  CHECK(std::string_view(runs.at(0)["status"]) == "failed");
  CHECK(double(runs.at(0)["duration_ms"]) == 12);
  CHECK(std::string_view(runs.at(1)["run"]) == "r1");
  auto f = parser.parse(e.query(R"({"op":"history","test":"f"})"));
  auto f0 = f["runs"].at(0);
  CHECK(int64_t(f0["attempts"]) == 2);
  CHECK(bool(f0["flaky"]));
  CHECK(f0["outcomes"].get_array().size() == 2);
  CHECK(e.query(R"({"op":"history"})").find("needs field \"test\"") != std::string::npos);
  CHECK(e.query(R"({"op":"flaky","limit_runs":0})").find("limit_runs") != std::string::npos);
}
