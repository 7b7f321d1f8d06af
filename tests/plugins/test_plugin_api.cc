// The C++ plugin interface: masks, registration order, isolation of failing
// plugins, fail-closed filters, rewrites, per-plugin stats; and the policy
// plugins that answer in replies (retry, screenshot).
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "core/helpers.h"

using baton::Code;
using baton::EventType;
using baton::Plugin;
using baton::PluginEvent;
using baton::Status;
using baton::testing::Engine;

namespace {

struct Log {
  std::vector<std::string> lines;
};

class Recorder : public Plugin {
 public:
  Recorder(std::string name, Log* log, uint32_t mask = baton::kAllEventTypes, bool filter = false)
      : name_(std::move(name)), log_(log), mask_(mask), filter_(filter) {}
  uint32_t event_mask() const override { return mask_; }
  bool has_filter() const override { return filter_; }
  Status filter(PluginEvent& ev) override {
    log_->lines.push_back(name_ + ":filter:" + ev.type_name());
    return Status::ok();
  }
  Status observe(const PluginEvent& ev) override {
    log_->lines.push_back(name_ + ":observe:" + ev.type_name());
    return Status::ok();
  }

 private:
  std::string name_;
  Log* log_;
  uint32_t mask_;
  bool filter_;
};

class Throwing : public Plugin {
 public:
  Status observe(const PluginEvent&) override { throw std::runtime_error("boom"); }
};

class Failing : public Plugin {
 public:
  Status observe(const PluginEvent&) override { return Status::error(Code::kInternal, "nope"); }
};

class FilterReturning : public Plugin {
 public:
  explicit FilterReturning(Code code) : code_(code) {}
  bool has_filter() const override { return true; }
  bool has_observer() const override { return false; }
  Status filter(PluginEvent&) override { return Status::error(code_, "no"); }

 private:
  Code code_;
};

class Renamer : public Plugin {
 public:
  bool has_filter() const override { return true; }
  bool has_observer() const override { return false; }
  uint32_t event_mask() const override { return baton::event_type_bit(EventType::kTestStart); }
  Status filter(PluginEvent& ev) override {
    std::string json(ev.json());
    size_t at = json.find("\"secret name\"");
    if (at != std::string::npos) json.replace(at, 13, "\"public name\"");
    return ev.replace(json);
  }
};

class Slow : public Plugin {
 public:
  Status observe(const PluginEvent&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Status::ok();
  }
};

uint64_t add(Engine& e, const std::string& name, std::unique_ptr<Plugin> p) {
  uint64_t id = 0;
  Status s = e.engine->add_plugin(name, std::move(p), &id);
  REQUIRE(s.message() == "");
  return id;
}

const std::string kStart = R"({"type":"run.start","run":"r1"})";
const std::string kTestStart = R"({"type":"test.start","run":"r1","id":"t1","name":"secret name"})";
const std::string kTestEnd = R"({"type":"test.end","run":"r1","id":"t1","status":"passed"})";

simdjson::dom::element plugin_stats(simdjson::dom::parser& parser, const std::string& stats,
                                    const std::string& name) {
  for (auto p : parser.parse(stats)["plugins"].get_array()) {
    if (std::string_view(p["name"]) == name) return p;
  }
  FAIL("no stats for plugin " << name);
  return {};
}

}  // namespace

TEST_CASE("plugins see only the event types of their mask") {
  Engine e;
  Log log;
  add(e, "ends", std::make_unique<Recorder>("ends", &log,
                                            baton::event_type_bit(EventType::kTestEnd) |
                                                baton::event_type_bit(EventType::kRunEnd)));
  e.push("c", kStart);
  e.push("c", kTestStart);
  e.push("c", kTestEnd);
  e.push("c", R"({"type":"run.end","run":"r1"})");
  CHECK(log.lines == std::vector<std::string>{"ends:observe:test.end", "ends:observe:run.end"});
}

TEST_CASE("plugins run in registration order, filters before observers") {
  Engine e;
  Log log;
  add(e, "a", std::make_unique<Recorder>("a", &log, baton::kAllEventTypes, true));
  add(e, "b", std::make_unique<Recorder>("b", &log, baton::kAllEventTypes, true));
  add(e, "c", std::make_unique<Recorder>("c", &log));
  e.push("c", kStart);
  CHECK(log.lines == std::vector<std::string>{"a:filter:run.start", "b:filter:run.start",
                                              "a:observe:run.start", "b:observe:run.start",
                                              "c:observe:run.start"});
}

TEST_CASE("failing and throwing observers are isolated, counted and timed") {
  Engine e;
  Log log;
  add(e, "thrower", std::make_unique<Throwing>());
  add(e, "failer", std::make_unique<Failing>());
  add(e, "slow", std::make_unique<Slow>());
  add(e, "after", std::make_unique<Recorder>("after", &log));
  Code code;
  e.push("c", kStart, &code);
  CHECK(code == Code::kOk);
  e.push("c", kTestStart, &code);
  CHECK(code == Code::kOk);
  // Ingestion went on and later plugins still ran.
  CHECK(log.lines.size() == 2);
  std::string stats = e.query(R"({"op":"stats"})");
  simdjson::dom::parser parser;
  CHECK(int64_t(plugin_stats(parser, stats, "thrower")["failures"]) == 2);
  CHECK(int64_t(plugin_stats(parser, stats, "failer")["failures"]) == 2);
  CHECK(int64_t(plugin_stats(parser, stats, "after")["failures"]) == 0);
  auto slow = plugin_stats(parser, stats, "slow");
  CHECK(int64_t(slow["calls"]) >= 2);
  CHECK(double(slow["time_ms"]) >= 10.0);
  CHECK(std::string(e.query(R"({"op":"run","run":"r1"})")).find("\"running\":1") != std::string::npos);
}

TEST_CASE("filters fail closed: a rejecting or failing filter refuses the event") {
  Engine e;
  Log log;
  e.push("c", kStart);
  uint64_t rejecting = add(e, "gate", std::make_unique<FilterReturning>(Code::kRejected));
  add(e, "watch", std::make_unique<Recorder>("watch", &log));
  Code code;
  std::string reply = e.push("c", kTestStart, &code);
  CHECK(code == Code::kRejected);
  CHECK(reply.find("\"code\":\"rejected\"") != std::string::npos);
  CHECK(reply.find("gate") != std::string::npos);
  CHECK(log.lines.empty());  // nobody observed a refused event
  REQUIRE(e.engine->remove_plugin(rejecting).message() == "");
  add(e, "broken", std::make_unique<FilterReturning>(Code::kInternal));
  reply = e.push("c", kTestStart, &code);
  CHECK(code == Code::kRejected);
  CHECK(reply.find("broken") != std::string::npos);
  CHECK(e.query(R"({"op":"tests","run":"r1"})").find("t1") == std::string::npos);
}

TEST_CASE("a rewriting filter changes what is stored and what later plugins see") {
  Engine e;
  add(e, "renamer", std::make_unique<Renamer>());
  std::string seen;
  class Capture : public Plugin {
   public:
    explicit Capture(std::string* out) : out_(out) {}
    Status observe(const PluginEvent& ev) override {
      if (ev.type() == EventType::kTestStart) out_->assign(ev.event().name);
      return Status::ok();
    }
   private:
    std::string* out_;
  };
  add(e, "capture", std::make_unique<Capture>(&seen));
  e.push("c", kStart);
  e.push("c", kTestStart);
  e.push("c", kTestEnd);
  CHECK(seen == "public name");
  std::string tests = e.query(R"({"op":"tests","run":"r1"})");
  CHECK(tests.find("public name") != std::string::npos);
  CHECK(tests.find("secret name") == std::string::npos);
  bool logged_secret = false;
  e.engine->replay("{}", [&](const PluginEvent& ev) {
    logged_secret = logged_secret || ev.json().find("secret name") != std::string_view::npos;
    return true;
  });
  CHECK_FALSE(logged_secret);
}

TEST_CASE("built-in plugins are created from the plugins option, and bad settings are refused") {
  baton::EngineOptions o;
  std::unique_ptr<baton::Orchestrator> engine;
  auto open_with = [&](const std::string& plugins) {
    Status s = baton::EngineOptions::from_json(R"({"plugins":)" + plugins + "}", &o);
    if (!s) return s;
    return baton::Orchestrator::open(o, &engine);
  };
  Status s = open_with(R"({"nope":{}})");
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("unknown plugin \"nope\"") != std::string::npos);
  s = open_with(R"({"junit":{"paht":"x.xml"}})");
  CHECK(s.message().find("unknown setting \"paht\"") != std::string::npos);
  s = open_with(R"({"console":{"stream":"stdlog"}})");
  CHECK(s.message().find("\"stream\"") != std::string::npos);
  s = open_with(R"({"retry":{"max_retries":-1}})");
  CHECK(s.message().find("max_retries") != std::string::npos);
  s = open_with(R"({"retry":{"patterns":["("]}})");
  CHECK(s.message().find("patterns") != std::string::npos);
  s = open_with(R"({"retry":{"statuses":["skipped"]}})");
  CHECK(s.code() == Code::kInvalidArgument);
  // Registration follows the option's order.
  s = open_with(R"({"redact":{},"retry":{},"screenshot":{},"junit":{"dir":"x"}})");
  REQUIRE(s.message() == "");
  std::string stats;
  REQUIRE(engine->query(R"({"op":"stats"})", &stats).message() == "");
  size_t a = stats.find("\"redact\""), b = stats.find("\"retry\""), c = stats.find("\"screenshot\""),
         d = stats.find("\"junit\"");
  CHECK(a < b);
  CHECK(b < c);
  CHECK(c < d);
}

TEST_CASE("retry policy answers in the reply to test.end") {
  Engine e(R"({"plugins":{"retry":{"max_retries":2,"errors":["ECONNRESET"],"patterns":["5\\d\\d from"]}}})");
  e.push("c", kStart);
  auto end = [&](const std::string& id, int attempt, const std::string& status,
                 const std::string& message) {
    e.push("c", fmt::format(R"({{"type":"test.start","run":"r1","id":"{}","name":"n","attempt":{}}})",
                            id, attempt));
    std::string error = message.empty() ? "" : fmt::format(R"(,"error":{{"message":"{}"}})", message);
    return e.push("c", fmt::format(R"({{"type":"test.end","run":"r1","id":"{}","status":"{}","attempt":{}{}}})",
                                   id, status, attempt, error));
  };
  CHECK(end("a", 1, "failed", "read ECONNRESET").find(R"("retry":{"attempt":2})") != std::string::npos);
  CHECK(end("a", 2, "failed", "read ECONNRESET").find(R"("retry":{"attempt":3})") != std::string::npos);
  // Out of retries.
  CHECK(end("a", 3, "failed", "read ECONNRESET").find("retry") == std::string::npos);
  // Only matching errors: substring or regular expression.
  CHECK(end("b", 1, "failed", "expected 1 to be 2").find("retry") == std::string::npos);
  CHECK(end("c", 1, "timedout", "got 503 from upstream").find(R"("retry":{"attempt":2})") !=
        std::string::npos);
  // Never skipped or passed.
  CHECK(end("d", 1, "skipped", "ECONNRESET").find("retry") == std::string::npos);
  CHECK(end("e", 1, "passed", "").find("retry") == std::string::npos);
  // A run's config.retries wins over the setting.
  e.push("c", R"({"type":"run.start","run":"r2","config":{"retries":0}})");
  e.push("c", R"({"type":"test.start","run":"r2","id":"a","name":"n"})");
  std::string reply = e.push("c", R"({"type":"test.end","run":"r2","id":"a","status":"failed","error":{"message":"ECONNRESET"}})");
  CHECK(reply.find("retry") == std::string::npos);
  CHECK(reply.find("\"ok\":true") != std::string::npos);
}

TEST_CASE("screenshot policy asks for a capture, and the attachment is stored with its attempt") {
  Engine e(R"({"plugins":{"screenshot":{}}})");
  e.push("c", kStart);
  e.push("c", R"({"type":"test.start","run":"r1","id":"ui/cart","name":"cart"})");
  std::string reply = e.push("c", R"({"type":"test.end","run":"r1","id":"ui/cart","status":"failed",)"
                                  R"("error":{"message":"no button"},)"
                                  R"("attachments":[{"name":"screenshot","content_type":"image/png","path":"shots/cart-1.png"}]})");
  simdjson::dom::parser parser;
  auto capture = parser.parse(reply)["capture"];
  CHECK(std::string_view(capture["test"]) == "ui/cart");
  CHECK(int64_t(capture["attempt"]) == 1);
  CHECK(std::string_view(capture["kind"]) == "screenshot");
  CHECK(std::string_view(capture["path"]) == "screenshots/ui_cart-1.png");
  e.push("c", R"({"type":"test.start","run":"r1","id":"ui/cart","name":"cart","attempt":2})");
  reply = e.push("c", R"({"type":"test.end","run":"r1","id":"ui/cart","status":"passed","attempt":2})");
  CHECK(reply.find("capture") == std::string::npos);
  std::string report;
  REQUIRE(e.engine->export_run("r1", "json", &report).message() == "");
  auto attempts = parser.parse(report)["tests"].at(0)["attempts"];
  CHECK(int64_t(attempts.at(0)["attempt"]) == 1);
  CHECK(std::string_view(attempts.at(0)["attachments"].at(0)["path"]) == "shots/cart-1.png");
  CHECK(attempts.at(1)["attachments"].error() == simdjson::NO_SUCH_FIELD);
  std::string junit;
  REQUIRE(e.engine->export_run("r1", "junit", &junit).message() == "");
  CHECK(junit.find("[[ATTACHMENT|shots/cart-1.png]]") != std::string::npos);
}
