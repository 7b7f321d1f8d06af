// A Catch2 v2 event listener that records the harness's own run into baton,
// in-process, through the C ABI, and writes the run's JUnit at the end.
//
// The run is one baton run; each source file is a suite; each test case is a
// test with its status, duration and first failure message.
//
// Environment:
//   BATON_RUN    run id (default catch2-<epoch ms>)
//   BATON_DB     engine store (default ":memory:"; a file keeps the history)
//   BATON_JUNIT  where the JUnit XML goes (default catch2-junit.xml)
#include <baton/baton.h>

// Outside the file with CATCH_CONFIG_MAIN, the listener base classes are only
// declared when the external interfaces are asked for.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// A JSON string literal. Test names, file paths and failure messages are
// arbitrary text, so everything JSON cannot carry raw is escaped.
std::string quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// "/src/examples/catch2_listener/text_test.cc" -> "text_test.cc"
std::string file_name(const char* path) {
  std::string p = path ? path : "(unknown)";
  return p.substr(p.find_last_of('/') + 1);
}

class BatonListener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;

  void testRunStarting(Catch::TestRunInfo const& info) override {
    TestEventListenerBase::testRunStarting(info);
    run_ = env_or("BATON_RUN", "catch2-" + std::to_string(now_ms()));
    std::string options = "{\"path\":" + quote(env_or("BATON_DB", ":memory:")) + "}";
    if (baton_open(options.c_str(), &engine_) != BATON_OK ||
        baton_session_open(engine_, "{\"client\":\"catch2\"}", &session_) != BATON_OK) {
      std::fprintf(stderr, "baton listener: cannot open baton: %s\n", baton_last_error());
      return;
    }
    send("\"type\":\"run.start\",\"name\":" + quote(info.name));
  }

  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    TestEventListenerBase::testCaseStarting(info);
    suite_ = file_name(info.lineInfo.file);
    if (suites_.insert(suite_).second) {
      send("\"type\":\"suite.start\",\"id\":" + quote(suite_) + ",\"name\":" + quote(suite_) +
           ",\"file\":" + quote(suite_));
    }
    test_id_ = suite_ + "::" + info.name;
    failure_.clear();
    started_ = std::chrono::steady_clock::now();
    send("\"type\":\"test.start\",\"id\":" + quote(test_id_) + ",\"name\":" + quote(info.name) +
         ",\"suite\":" + quote(suite_) + ",\"file\":" + quote(suite_));
  }

  bool assertionEnded(Catch::AssertionStats const& stats) override {
    const auto& result = stats.assertionResult;
    if (!result.isOk() && failure_.empty()) {
      // The first failure is the one worth reading: later ones often follow from it.
      failure_ = result.hasExpression() ? result.getExpressionInMacro() : std::string();
      if (result.hasExpandedExpression()) failure_ += " with expansion " + result.getExpandedExpression();
      if (result.hasMessage()) failure_ += (failure_.empty() ? "" : ": ") + result.getMessage();
      for (const auto& info : stats.infoMessages) failure_ += "\n" + info.message;
      auto where = result.getSourceInfo();
      failure_ += "\nat " + file_name(where.file) + ":" + std::to_string(where.line);
    }
    return TestEventListenerBase::assertionEnded(stats);
  }

  void testCaseEnded(Catch::TestCaseStats const& stats) override {
    auto elapsed = std::chrono::steady_clock::now() - started_;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
    bool failed = stats.totals.assertions.failed > 0 || stats.aborting;
    std::string end = "\"type\":\"test.end\",\"id\":" + quote(test_id_) + ",\"status\":" +
                      quote(failed ? "failed" : "passed") + ",\"duration_ms\":" + std::to_string(ms);
    if (failed) end += ",\"error\":{\"message\":" + quote(failure_.empty() ? "failed" : failure_) + "}";
    if (!stats.stdOut.empty()) end += ",\"stdout\":" + quote(stats.stdOut);
    if (!stats.stdErr.empty()) end += ",\"stderr\":" + quote(stats.stdErr);
    send(end);
    failed_ += failed ? 1 : 0;
    TestEventListenerBase::testCaseEnded(stats);
  }

  void testRunEnded(Catch::TestRunStats const& stats) override {
    for (const auto& suite : suites_) send("\"type\":\"suite.end\",\"id\":" + quote(suite));
    const char* status = stats.aborting ? "interrupted" : failed_ > 0 ? "failed" : "passed";
    send("\"type\":\"run.end\",\"status\":" + quote(status));
    write_junit();
    baton_session_close(session_);
    baton_close(engine_);
    session_ = nullptr;
    engine_ = nullptr;
    TestEventListenerBase::testRunEnded(stats);
  }

 private:
  // Adds the run id, the client's seq and the time, then pushes; a refusal is
  // reported, never fatal: the tests themselves decide the exit code.
  void send(const std::string& fields) {
    if (!session_) return;
    std::string msg = "{" + fields + ",\"run\":" + quote(run_) + ",\"client\":\"catch2\",\"seq\":" +
                      std::to_string(++seq_) + ",\"ts\":" + std::to_string(now_ms()) + "}";
    char* reply = nullptr;
    if (baton_push(session_, msg.data(), msg.size(), &reply, nullptr) != BATON_OK) {
      std::fprintf(stderr, "baton listener: refused %s -> %s\n", msg.c_str(), reply ? reply : "");
    }
    baton_free(reply);
  }

  void write_junit() {
    char* xml = nullptr;
    size_t len = 0;
    if (baton_export(engine_, run_.c_str(), "junit", &xml, &len) != BATON_OK) {
      std::fprintf(stderr, "baton listener: JUnit export failed: %s\n", baton_last_error());
      return;
    }
    std::string path = env_or("BATON_JUNIT", "catch2-junit.xml");
    std::ofstream(path, std::ios::binary).write(xml, static_cast<std::streamsize>(len));
    baton_free(xml);
    std::fprintf(stderr, "baton listener: run %s recorded, JUnit written to %s\n", run_.c_str(),
                 path.c_str());
  }

  baton_engine* engine_ = nullptr;
  baton_session* session_ = nullptr;
  std::string run_;
  int64_t seq_ = 0;
  std::set<std::string> suites_;
  std::string suite_;
  std::string test_id_;
  std::string failure_;
  int failed_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

CATCH_REGISTER_LISTENER(BatonListener)
