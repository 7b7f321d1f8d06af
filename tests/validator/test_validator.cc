// EventValidator and Limits::from_json: every message type, every rule, and
// hostile input. Refusals are checked by code, field and rule, the parts a
// client and the security audit see.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "baton/event.h"
#include "baton/validator.h"
#include "validator/reader.h"

using baton::Code;
using baton::Event;
using baton::EventType;
using baton::EventValidator;
using baton::Limits;
using baton::PatternPolicy;
using baton::Status;
using baton::TestStatus;

namespace {

struct Outcome {
  Status status;
  bool suspicious = false;
};

Outcome check(const EventValidator& v, std::string_view json, Event* event) {
  Outcome outcome;
  outcome.status = v.validate(json, event, &outcome.suspicious);
  return outcome;
}

Outcome check(std::string_view json, Event* event) {
  static const EventValidator validator;
  return check(validator, json, event);
}

Limits with_limits(void (*edit)(Limits&)) {
  Limits limits;
  edit(limits);
  return limits;
}

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

}  // namespace

// A refusal with its code, field and rule; the message is printed on failure.
#define REQUIRE_REFUSED_BY(validator, json, code_, field_, rule_)      \
  do {                                                                 \
    Event refused_event;                                               \
    const std::string refused_json(json);                              \
    Outcome refused = check(validator, refused_json, &refused_event);  \
    INFO("message: " << refused_json.substr(0, 300));                  \
    INFO("refusal: " << refused.status.message());                     \
    CHECK(refused.status.code() == (code_));                           \
    CHECK(refused.status.field() == (field_));                         \
    CHECK(refused.status.rule() == (rule_));                           \
    CHECK_FALSE(refused.status.message().empty());                     \
  } while (0)

#define REQUIRE_REFUSED(json, code_, field_, rule_) \
  REQUIRE_REFUSED_BY(EventValidator(), json, code_, field_, rule_)

// Raw views of an Event point into the message, so the accepted message is
// kept until the next one: the lifetime the validator promises.
#define REQUIRE_VALID_BY(validator, json, event)                           \
  do {                                                                     \
    static std::string accepted_json;                                      \
    accepted_json = (json);                                                \
    const Outcome accepted = check(validator, accepted_json, &(event));    \
    INFO("message: " << accepted_json.substr(0, 300));                     \
    INFO("refusal: " << accepted.status.message());                        \
    REQUIRE(accepted.status.is_ok());                                      \
  } while (0)

#define REQUIRE_VALID(json, event) REQUIRE_VALID_BY(EventValidator(), json, event)

// ---------------------------------------------------------------------------
// Every message type, valid.

TEST_CASE("run.start with every field", "[validator][types]") {
  Event e;
  const std::string json = R"({"type":"run.start","run":"r1","client":"ci-3","seq":7,"ts":1700000000000,
    "meta":{"branch":"main","n":[1,2,{"x":null}]},"name":"nightly","build":"b-42","platform":"linux",
    "plan":{"specs":[{"id":"a.spec","estimate_ms":1200},{"id":"b.spec"}]},
    "config":{"retries":2,"lease_ms":30000,"max_failures":5,"run_timeout_ms":600000,
              "failed_first":true,"custom":{"k":"v"}}})";
  REQUIRE_VALID(json, e);
  CHECK(e.type == EventType::kRunStart);
  CHECK(e.raw == json);
  CHECK(e.run == "r1");
  CHECK(e.client == "ci-3");
  CHECK(e.seq == 7);
  CHECK(e.has_ts);
  CHECK(e.ts == 1700000000000);
  CHECK(e.meta == R"({"branch":"main","n":[1,2,{"x":null}]})");
  CHECK(e.name == "nightly");
  CHECK(e.build == "b-42");
  CHECK(e.platform == "linux");
  CHECK(e.has_plan);
  REQUIRE(e.plan.size() == 2);
  CHECK(e.plan[0].id == "a.spec");
  CHECK(e.plan[0].estimate_ms == 1200);
  CHECK(e.plan[1].id == "b.spec");
  CHECK(e.plan[1].estimate_ms == -1);
  CHECK(e.config.retries == 2);
  CHECK(e.config.lease_ms == 30000);
  CHECK(e.config.max_failures == 5);
  CHECK(e.config.run_timeout_ms == 600000);
  CHECK(e.config.failed_first == 1);
  CHECK(e.config_raw.substr(0, 12) == R"({"retries":2)");
  CHECK(e.config_raw.back() == '}');
  CHECK(e.config_raw.find(R"("custom":{"k":"v"})") != std::string_view::npos);
}

TEST_CASE("run.start minimal leaves optional fields absent", "[validator][types]") {
  Event e;
  REQUIRE_VALID(R"({"type":"run.start","run":"r1"})", e);
  CHECK(e.run == "r1");
  CHECK_FALSE(e.has_plan);
  CHECK(e.plan.empty());
  CHECK(e.config.retries == -1);
  CHECK(e.config.failed_first == -1);
  CHECK(e.config_raw.empty());
  CHECK(e.meta.empty());
  CHECK(e.seq == 0);
  CHECK_FALSE(e.has_ts);
}

TEST_CASE("run.end, run.cancel", "[validator][types]") {
  Event e;
  REQUIRE_VALID(R"({"type":"run.end","run":"r1","status":"cancelled"})", e);
  CHECK(e.type == EventType::kRunEnd);
  CHECK(e.status_text == "cancelled");
  REQUIRE_VALID(R"({"type":"run.end","run":"r1"})", e);
  CHECK(e.status_text.empty());
  for (const char* status : {"passed", "failed", "cancelled", "interrupted"}) {
    REQUIRE_VALID(std::string(R"({"type":"run.end","run":"r","status":")") + status + "\"}", e);
    CHECK(e.status_text == status);
  }
  REQUIRE_VALID(R"({"type":"run.cancel","run":"r1","reason":"too many failures"})", e);
  CHECK(e.type == EventType::kRunCancel);
  CHECK(e.reason == "too many failures");
}

TEST_CASE("suite.start, suite.end", "[validator][types]") {
  Event e;
  REQUIRE_VALID(
      R"({"type":"suite.start","run":"r","id":"s1","name":"Login","parent":"s0","file":"login.spec.ts"})",
      e);
  CHECK(e.type == EventType::kSuiteStart);
  CHECK(e.id == "s1");
  CHECK(e.name == "Login");
  CHECK(e.parent == "s0");
  CHECK(e.file == "login.spec.ts");
  REQUIRE_VALID(R"({"type":"suite.end","run":"r","id":"s1"})", e);
  CHECK(e.type == EventType::kSuiteEnd);
  CHECK(e.id == "s1");
}

TEST_CASE("test.start", "[validator][types]") {
  Event e;
  REQUIRE_VALID(R"({"type":"test.start","run":"r","id":"t1","name":"logs in","suite":"s1",
      "file":"a.ts","spec":"a.spec","attempt":2,"worker":"w-1"})",
                e);
  CHECK(e.type == EventType::kTestStart);
  CHECK(e.id == "t1");
  CHECK(e.name == "logs in");
  CHECK(e.suite == "s1");
  CHECK(e.file == "a.ts");
  CHECK(e.spec == "a.spec");
  CHECK(e.attempt == 2);
  CHECK(e.worker == "w-1");
  REQUIRE_VALID(R"({"type":"test.start","run":"r","id":"t1","name":"x"})", e);
  CHECK(e.attempt == 0);
}

TEST_CASE("test.end with every field", "[validator][types]") {
  Event e;
  const std::string json = R"J({"type":"test.end","run":"r","id":"t1","status":"failed","attempt":1,
    "duration_ms":12.5,"suite":"s1","error":{"message":"expected 1 to be 2","stack":"at x (a.ts:1:2)",
    "type":"AssertionError","actual":1},"stdout":"out\nline","stderr":"err",
    "attachments":[{"name":"shot","content_type":"image/png","path":"shots/a.png"}]})J";
  REQUIRE_VALID(json, e);
  CHECK(e.type == EventType::kTestEnd);
  CHECK(e.status == TestStatus::kFailed);
  CHECK(e.attempt == 1);
  CHECK(e.duration_ms == 12.5);
  CHECK(e.suite == "s1");
  CHECK(e.error_message == "expected 1 to be 2");
  CHECK(e.error_type == "AssertionError");
  CHECK(e.error.front() == '{');
  CHECK(e.error.back() == '}');
  CHECK(e.error.find("\"actual\":1") != std::string_view::npos);
  CHECK(e.stdout_text == "out\nline");
  CHECK(e.stderr_text == "err");
  CHECK(e.attachments == R"([{"name":"shot","content_type":"image/png","path":"shots/a.png"}])");
  for (const char* status : {"passed", "failed", "skipped", "timedout", "interrupted"}) {
    REQUIRE_VALID(std::string(R"({"type":"test.end","run":"r","id":"t","status":")") + status +
                      "\"}",
                  e);
    CHECK(baton::test_status_name(e.status) == std::string(status));
  }
  REQUIRE_VALID(R"({"type":"test.end","run":"r","id":"t","status":"passed","duration_ms":0})", e);
  CHECK(e.duration_ms == 0);
  CHECK(e.error.empty());
  CHECK(e.attachments.empty());
}

TEST_CASE("test.log", "[validator][types]") {
  Event e;
  REQUIRE_VALID(
      R"({"type":"test.log","run":"r","id":"t1","message":"hello","level":"warn","attempt":3})", e);
  CHECK(e.type == EventType::kTestLog);
  CHECK(e.message == "hello");
  CHECK(e.level == "warn");
  CHECK(e.attempt == 3);
  for (const char* level : {"debug", "info", "warn", "error"}) {
    REQUIRE_VALID(std::string(R"({"type":"test.log","run":"r","id":"t","message":"m","level":")") +
                      level + "\"}",
                  e);
    CHECK(e.level == level);
  }
}

TEST_CASE("queue.claim, spec.end, worker.heartbeat", "[validator][types]") {
  Event e;
  REQUIRE_VALID(R"({"type":"queue.claim","run":"r"})", e);
  CHECK(e.type == EventType::kQueueClaim);
  CHECK(e.count == 1);
  CHECK(e.lease_ms == -1);
  REQUIRE_VALID(
      R"({"type":"queue.claim","run":"r","count":1000,"lease_ms":5000,"worker":"w1","platform":"linux"})",
      e);
  CHECK(e.count == 1000);
  CHECK(e.lease_ms == 5000);
  CHECK(e.worker == "w1");
  CHECK(e.platform == "linux");

  REQUIRE_VALID(R"({"type":"spec.end","run":"r","spec":"a.spec","lease":"L1","status":"passed",
      "duration_ms":3,"attempt":2,"error":{"message":"boom"}})",
                e);
  CHECK(e.type == EventType::kSpecEnd);
  CHECK(e.spec == "a.spec");
  CHECK(e.lease == "L1");
  CHECK(e.status == TestStatus::kPassed);
  CHECK(e.duration_ms == 3);
  CHECK(e.attempt == 2);
  CHECK(e.error_message == "boom");

  REQUIRE_VALID(R"({"type":"worker.heartbeat"})", e);
  CHECK(e.type == EventType::kWorkerHeartbeat);
  CHECK(e.run.empty());
  REQUIRE_VALID(R"({"type":"worker.heartbeat","run":"r","client":"w","seq":9})", e);
  CHECK(e.run == "r");
}

TEST_CASE("type may come anywhere in the object", "[validator][types]") {
  Event e;
  REQUIRE_VALID(R"({"run":"r","id":"t","status":"passed","type":"test.end"})", e);
  CHECK(e.type == EventType::kTestEnd);
  CHECK(e.status == TestStatus::kPassed);
  // The key may be escaped; what counts is the unescaped text.
  REQUIRE_VALID(R"({"run":"r","typ\u0065":"run.\u0065nd"})", e);
  CHECK(e.type == EventType::kRunEnd);
  // Fields of another type are unknown here even when they come before type.
  REQUIRE_REFUSED(R"({"plan":5,"type":"test.end","run":"r","id":"t","status":"passed"})",
                  Code::kInvalid, "plan", "unknown_field");
}

// ---------------------------------------------------------------------------
// Required fields and their types.

namespace {

struct RequiredCase {
  const char* type;
  std::vector<std::pair<const char*, const char*>> fields;  // name, valid JSON value
};

const std::vector<RequiredCase>& required_cases() {
  static const std::vector<RequiredCase> cases = {
      {"run.start", {{"run", R"("r")"}}},
      {"run.end", {{"run", R"("r")"}}},
      {"run.cancel", {{"run", R"("r")"}}},
      {"suite.start", {{"run", R"("r")"}, {"id", R"("s")"}, {"name", R"("n")"}}},
      {"suite.end", {{"run", R"("r")"}, {"id", R"("s")"}}},
      {"test.start", {{"run", R"("r")"}, {"id", R"("t")"}, {"name", R"("n")"}}},
      {"test.end", {{"run", R"("r")"}, {"id", R"("t")"}, {"status", R"("passed")"}}},
      {"test.log", {{"run", R"("r")"}, {"id", R"("t")"}, {"message", R"("m")"}}},
      {"queue.claim", {{"run", R"("r")"}}},
      {"spec.end",
       {{"run", R"("r")"}, {"spec", R"("s")"}, {"lease", R"("l")"}, {"status", R"("failed")"}}},
  };
  return cases;
}

std::string build(const RequiredCase& c, const char* skip, const char* replacement) {
  std::string json = std::string(R"({"type":")") + c.type + "\"";
  for (const auto& [name, value] : c.fields) {
    if (std::string_view(name) == skip) {
      if (replacement == nullptr) continue;
      json += std::string(",\"") + name + "\":" + replacement;
    } else {
      json += std::string(",\"") + name + "\":" + value;
    }
  }
  return json + "}";
}

}  // namespace

TEST_CASE("every required field of every type", "[validator][required]") {
  for (const RequiredCase& c : required_cases()) {
    Event e;
    INFO(c.type);
    REQUIRE_VALID(build(c, "", nullptr), e);
    for (const auto& field : c.fields) {
      const char* name = field.first;
      INFO(name);
      REQUIRE_REFUSED(build(c, name, nullptr), Code::kInvalid, name, "required");
      Outcome missing = check(build(c, name, nullptr), &e);
      CHECK(missing.status.message() ==
            std::string("field \"") + name + "\" is required for " + c.type);
      for (const char* wrong : {"12", "true", "null", R"({"a":1})", R"(["r"])", "1.5"}) {
        INFO(wrong);
        REQUIRE_REFUSED(build(c, name, wrong), Code::kInvalid, name, "type");
      }
    }
  }
}

TEST_CASE("type is required, a string, and a known type", "[validator][required]") {
  REQUIRE_REFUSED(R"({"run":"r"})", Code::kInvalid, "type", "required");
  REQUIRE_REFUSED(R"({})", Code::kInvalid, "type", "required");
  REQUIRE_REFUSED(R"({"type":5,"run":"r"})", Code::kInvalid, "type", "type");
  REQUIRE_REFUSED(R"({"type":null})", Code::kInvalid, "type", "type");
  REQUIRE_REFUSED(R"({"type":"test.explode","run":"r"})", Code::kInvalid, "type", "enum");
  REQUIRE_REFUSED(R"({"type":"TEST.END","run":"r"})", Code::kInvalid, "type", "enum");
  REQUIRE_REFUSED(R"({"type":"","run":"r"})", Code::kInvalid, "type", "enum");
  // A broken message without a type is a parse error first.
  REQUIRE_REFUSED(R"({"run":"r","x":[1,2,}})", Code::kParse, "x[2]", "syntax");
  REQUIRE_REFUSED(R"({"run":"r","x":"a", "x":1})", Code::kInvalid, "x", "duplicate_key");
}

TEST_CASE("types of optional fields", "[validator][types]") {
  const std::string end = R"({"type":"test.end","run":"r","id":"t","status":"passed",)";
  REQUIRE_REFUSED(end + R"("attempt":"1"})", Code::kInvalid, "attempt", "type");
  REQUIRE_REFUSED(end + R"("attempt":1.0})", Code::kInvalid, "attempt", "type");
  REQUIRE_REFUSED(end + R"("attempt":1e2})", Code::kInvalid, "attempt", "type");
  REQUIRE_REFUSED(end + R"("duration_ms":"3"})", Code::kInvalid, "duration_ms", "type");
  REQUIRE_REFUSED(end + R"("error":"boom"})", Code::kInvalid, "error", "type");
  REQUIRE_REFUSED(end + R"("error":{"message":5}})", Code::kInvalid, "error.message", "type");
  REQUIRE_REFUSED(end + R"("error":{"message":"m","stack":[]}})", Code::kInvalid, "error.stack",
                  "type");
  REQUIRE_REFUSED(end + R"("error":{"message":"m","type":1}})", Code::kInvalid, "error.type",
                  "type");
  REQUIRE_REFUSED(end + R"("stdout":1})", Code::kInvalid, "stdout", "type");
  REQUIRE_REFUSED(end + R"("stderr":false})", Code::kInvalid, "stderr", "type");
  REQUIRE_REFUSED(end + R"("attachments":{}})", Code::kInvalid, "attachments", "type");
  REQUIRE_REFUSED(end + R"("attachments":["a.png"]})", Code::kInvalid, "attachments[0]", "type");
  REQUIRE_REFUSED(end + R"("attachments":[{"name":"a","content_type":"t","path":7}]})",
                  Code::kInvalid, "attachments[0].path", "type");
  REQUIRE_REFUSED(end + R"("suite":7})", Code::kInvalid, "suite", "type");
  REQUIRE_REFUSED(end + R"("meta":[]})", Code::kInvalid, "meta", "type");
  REQUIRE_REFUSED(end + R"("seq":"1"})", Code::kInvalid, "seq", "type");
  REQUIRE_REFUSED(end + R"("ts":1.5})", Code::kInvalid, "ts", "type");
  REQUIRE_REFUSED(end + R"("client":1})", Code::kInvalid, "client", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":[]})", Code::kInvalid, "plan", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":{}}})", Code::kInvalid,
                  "plan.specs", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":["a"]}})", Code::kInvalid,
                  "plan.specs[0]", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":[]})", Code::kInvalid, "config",
                  "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":{"failed_first":1}})", Code::kInvalid,
                  "config.failed_first", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":{"retries":"2"}})", Code::kInvalid,
                  "config.retries", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","name":1})", Code::kInvalid, "name", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","build":1})", Code::kInvalid, "build", "type");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","platform":{}})", Code::kInvalid, "platform",
                  "type");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","status":1})", Code::kInvalid, "status", "type");
  REQUIRE_REFUSED(R"({"type":"run.cancel","run":"r","reason":1})", Code::kInvalid, "reason",
                  "type");
  REQUIRE_REFUSED(R"({"type":"suite.start","run":"r","id":"s","name":"n","parent":1})",
                  Code::kInvalid, "parent", "type");
  REQUIRE_REFUSED(R"({"type":"suite.start","run":"r","id":"s","name":"n","file":1})",
                  Code::kInvalid, "file", "type");
  REQUIRE_REFUSED(R"({"type":"test.start","run":"r","id":"s","name":"n","worker":1})",
                  Code::kInvalid, "worker", "type");
  REQUIRE_REFUSED(R"({"type":"test.start","run":"r","id":"s","name":"n","spec":[]})",
                  Code::kInvalid, "spec", "type");
  REQUIRE_REFUSED(R"({"type":"test.log","run":"r","id":"t","message":"m","level":2})",
                  Code::kInvalid, "level", "type");
  REQUIRE_REFUSED(R"({"type":"queue.claim","run":"r","count":"2"})", Code::kInvalid, "count",
                  "type");
  REQUIRE_REFUSED(R"({"type":"queue.claim","run":"r","lease_ms":true})", Code::kInvalid,
                  "lease_ms", "type");
}

// ---------------------------------------------------------------------------
// Values: ranges and enums.

TEST_CASE("ranges and enums", "[validator][values]") {
  const std::string end = R"({"type":"test.end","run":"r","id":"t",)";
  REQUIRE_REFUSED(end + R"("status":"ok"})", Code::kInvalid, "status", "enum");
  REQUIRE_REFUSED(end + R"("status":"running"})", Code::kInvalid, "status", "enum");
  REQUIRE_REFUSED(end + R"("status":"Passed"})", Code::kInvalid, "status", "enum");
  REQUIRE_REFUSED(R"({"type":"spec.end","run":"r","spec":"s","lease":"l","status":"done"})",
                  Code::kInvalid, "status", "enum");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","status":"skipped"})", Code::kInvalid, "status",
                  "enum");
  REQUIRE_REFUSED(R"({"type":"test.log","run":"r","id":"t","message":"m","level":"fatal"})",
                  Code::kInvalid, "level", "enum");

  const std::string ok = end + R"("status":"passed",)";
  REQUIRE_REFUSED(ok + R"("attempt":0})", Code::kInvalid, "attempt", "range");
  REQUIRE_REFUSED(ok + R"("attempt":-1})", Code::kInvalid, "attempt", "range");
  REQUIRE_REFUSED(ok + R"("seq":0})", Code::kInvalid, "seq", "range");
  REQUIRE_REFUSED(ok + R"("duration_ms":-0.5})", Code::kInvalid, "duration_ms", "range");
  Event e;
  REQUIRE_VALID(ok + R"("ts":-5,"seq":9223372036854775807})", e);
  CHECK(e.ts == -5);
  CHECK(e.seq == INT64_MAX);

  REQUIRE_REFUSED(R"({"type":"queue.claim","run":"r","count":0})", Code::kInvalid, "count",
                  "range");
  REQUIRE_REFUSED(R"({"type":"queue.claim","run":"r","count":1001})", Code::kInvalid, "count",
                  "range");
  REQUIRE_REFUSED(R"({"type":"queue.claim","run":"r","lease_ms":0})", Code::kInvalid, "lease_ms",
                  "range");
  // Spans are added to the clock: one that would overflow it is refused.
  REQUIRE_REFUSED(R"({"type":"queue.claim","run":"r","lease_ms":9223372036854775807})",
                  Code::kInvalid, "lease_ms", "range");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":{"lease_ms":2592000001}})",
                  Code::kInvalid, "config.lease_ms", "range");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":{"run_timeout_ms":9223372036854775000}})",
                  Code::kInvalid, "config.run_timeout_ms", "range");
  REQUIRE_VALID(R"({"type":"run.start","run":"r","config":{"lease_ms":2592000000}})", e);
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":{"retries":101}})", Code::kInvalid,
                  "config.retries", "range");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":{"retries":-1}})", Code::kInvalid,
                  "config.retries", "range");
  REQUIRE_VALID(R"({"type":"run.start","run":"r","config":{"retries":0,"failed_first":false}})", e);
  CHECK(e.config.retries == 0);
  CHECK(e.config.failed_first == 0);
  for (const char* key : {"lease_ms", "max_failures", "run_timeout_ms"}) {
    INFO(key);
    REQUIRE_REFUSED(std::string(R"({"type":"run.start","run":"r","config":{")") + key + "\":0}}",
                    Code::kInvalid, std::string("config.") + key, "range");
  }
  REQUIRE_REFUSED(
      R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"a","estimate_ms":-1}]}})",
      Code::kInvalid, "plan.specs[0].estimate_ms", "range");
}

TEST_CASE("identifiers", "[validator][values]") {
  const std::string head = R"({"type":"suite.end","run":"r","id":)";
  Event e;
  REQUIRE_VALID(head + R"("with space and ünïcode/∑"})", e);
  CHECK(e.id == "with space and ünïcode/∑");
  REQUIRE_REFUSED(head + R"(""})", Code::kInvalid, "id", "empty");
  REQUIRE_REFUSED(head + "\"" + std::string(129, 'a') + "\"}", Code::kInvalid, "id",
                  "max_id_bytes");
  REQUIRE_VALID(head + "\"" + std::string(128, 'a') + "\"}", e);
  REQUIRE_REFUSED(head + R"("a\nb"})", Code::kInvalid, "id", "control_char");
  REQUIRE_REFUSED(head + R"("a\u0001b"})", Code::kInvalid, "id", "control_char");
  REQUIRE_REFUSED(head + R"("a\u007fb"})", Code::kInvalid, "id", "control_char");
  REQUIRE_REFUSED(head + R"("a\u0085b"})", Code::kInvalid, "id", "control_char");
  REQUIRE_REFUSED(head + "\"a\xC2\x9B" "b\"}", Code::kInvalid, "id", "control_char");
  REQUIRE_REFUSED(R"({"type":"suite.end","run":"r\t1","id":"s"})", Code::kInvalid, "run",
                  "control_char");
  REQUIRE_REFUSED(R"({"type":"suite.end","run":"r","id":"s","client":"c\r"})", Code::kInvalid,
                  "client", "control_char");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"a\u001b[31m"}]}})",
                  Code::kInvalid, "plan.specs[0].id", "control_char");
  // Free text may hold newlines and tabs.
  REQUIRE_VALID(R"({"type":"test.log","run":"r","id":"t","message":"line 1\n\tline 2"})", e);
  CHECK(e.message == "line 1\n\tline 2");

  const EventValidator short_ids(with_limits([](Limits& l) { l.max_id_bytes = 4; }));
  REQUIRE_VALID_BY(short_ids, R"({"type":"run.end","run":"abcd"})", e);
  REQUIRE_REFUSED_BY(short_ids, R"({"type":"run.end","run":"abcde"})", Code::kInvalid, "run",
                     "max_id_bytes");
}

TEST_CASE("plan", "[validator][values]") {
  Event e;
  REQUIRE_VALID(R"({"type":"run.start","run":"r","plan":{"specs":[]}})", e);
  CHECK(e.has_plan);
  CHECK(e.plan.empty());
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{}})", Code::kInvalid, "plan.specs",
                  "required");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":[{"estimate_ms":1}]}})",
                  Code::kInvalid, "plan.specs[0].id", "required");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":""}]}})",
                  Code::kInvalid, "plan.specs[0].id", "empty");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"a"},{"id":"b"},{"id":"a"}]}})",
                  Code::kInvalid, "plan.specs[2].id", "unique");
  Outcome dup = check(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"a"},{"id":"b"},{"id":"a"}]}})", &e);
  CHECK(dup.status.message().find("plan.specs[0]") != std::string::npos);

  // Large plans: uniqueness is checked by sorting.
  std::string specs;
  for (int i = 0; i < 500; ++i) specs += (i ? "," : "") + std::string(R"({"id":"s)") + std::to_string(i) + "\"}";
  REQUIRE_VALID(R"({"type":"run.start","run":"r","plan":{"specs":[)" + specs + "]}}", e);
  REQUIRE(e.plan.size() == 500);
  CHECK(e.plan[499].id == "s499");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":[)" + specs + R"(,{"id":"s17"}]}})",
                  Code::kInvalid, "plan.specs[500].id", "unique");
  // Escapes are compared after unescaping.
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"ab"},{"id":"\u0061b"}]}})",
                  Code::kInvalid, "plan.specs[1].id", "unique");
  // Extra keys in a plan are kept (walked) for forward compatibility.
  REQUIRE_VALID(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"a","tags":["x"]}],"v":2}})", e);
}

TEST_CASE("the plan vector is reused and cleared", "[validator][values]") {
  Event e;
  REQUIRE_VALID(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"a"},{"id":"b"},{"id":"c"}]}})", e);
  REQUIRE(e.plan.size() == 3);
  const baton::PlanSpec* storage = e.plan.data();
  const size_t capacity = e.plan.capacity();
  REQUIRE_VALID(R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"z"}]}})", e);
  REQUIRE(e.plan.size() == 1);
  CHECK(e.plan[0].id == "z");
  CHECK(e.plan.data() == storage);
  CHECK(e.plan.capacity() == capacity);
  REQUIRE_VALID(R"({"type":"run.end","run":"r"})", e);
  CHECK(e.plan.empty());
  CHECK_FALSE(e.has_plan);
  CHECK(e.plan.capacity() == capacity);
}

TEST_CASE("error object", "[validator][values]") {
  const std::string end = R"({"type":"test.end","run":"r","id":"t","status":"failed",)";
  REQUIRE_REFUSED(end + R"("error":{}})", Code::kInvalid, "error.message", "required");
  REQUIRE_REFUSED(end + R"("error":{"stack":"s"}})", Code::kInvalid, "error.message", "required");
  Event e;
  REQUIRE_VALID(end + R"("error":{"message":"a\"b\\c \u00e9 \ud83d\ude00"}})", e);
  CHECK(e.error_message == "a\"b\\c \xC3\xA9 \xF0\x9F\x98\x80");
  CHECK(e.error == R"({"message":"a\"b\\c \u00e9 \ud83d\ude00"})");
  REQUIRE_REFUSED(R"({"type":"spec.end","run":"r","spec":"s","lease":"l","status":"failed","error":{"type":"x"}})",
                  Code::kInvalid, "error.message", "required");
}

TEST_CASE("attachments", "[validator][values]") {
  const std::string end = R"({"type":"test.end","run":"r","id":"t","status":"failed","attachments":[)";
  auto with_path = [&](const std::string& path_json) {
    return end + R"({"name":"n","content_type":"text/plain","path":)" + path_json + "}]}";
  };
  Event e;
  for (const char* ok : {R"("a.png")", R"("shots/a b/c.png")", R"("a..b/c")", R"("..a/b")",
                         R"("dir\\file.txt")", R"(".hidden/x")", R"("./x")"}) {
    INFO(ok);
    REQUIRE_VALID(with_path(ok), e);
  }
  REQUIRE_VALID(end + "]}", e);
  CHECK(e.attachments == "[]");
  for (const char* parent : {R"("../etc/passwd")", R"("a/../../b")", R"("a/..")", R"("..")",
                             R"("a\\..\\..\\windows")", R"("a/..\\b")", R"("\u002e\u002e/x")",
                             R"("a\/..\/b")", R"("%2e%2e/x")", R"("..%2fx")", R"("a/.../b")",
                             R"("a/. ./b")"}) {
    INFO(parent);
    REQUIRE_REFUSED(with_path(parent), Code::kInvalid, "attachments[0].path", "path");
  }
  for (const char* absolute : {R"("/etc/passwd")", R"("\\\\server\\share")", R"("C:\\x")",
                               R"("c:/x")", R"("file:///etc/passwd")", R"("~/.ssh/id_rsa")",
                               R"("\/etc")"}) {
    INFO(absolute);
    REQUIRE_REFUSED(with_path(absolute), Code::kInvalid, "attachments[0].path", "path");
  }
  REQUIRE_REFUSED(with_path(R"("")"), Code::kInvalid, "attachments[0].path", "empty");
  REQUIRE_REFUSED(with_path(R"("a\nb")"), Code::kInvalid, "attachments[0].path", "control_char");

  const EventValidator absolute_ok(with_limits([](Limits& l) { l.allow_absolute_paths = true; }));
  REQUIRE_VALID_BY(absolute_ok, with_path(R"("/tmp/shot.png")"), e);
  REQUIRE_VALID_BY(absolute_ok, with_path(R"("C:\\shots\\a.png")"), e);
  REQUIRE_REFUSED_BY(absolute_ok, with_path(R"("/tmp/../etc/passwd")"), Code::kInvalid,
                     "attachments[0].path", "path");

  REQUIRE_REFUSED(end + R"({"content_type":"t","path":"p"}]})", Code::kInvalid,
                  "attachments[0].name", "required");
  REQUIRE_REFUSED(end + R"({"name":"n","path":"p"}]})", Code::kInvalid,
                  "attachments[0].content_type", "required");
  REQUIRE_REFUSED(end + R"({"name":"n","content_type":"t"}]})", Code::kInvalid,
                  "attachments[0].path", "required");
  REQUIRE_REFUSED(end + R"({"name":"n","content_type":"t","path":"p"},{"name":"n","content_type":"t","path":"../p"}]})",
                  Code::kInvalid, "attachments[1].path", "path");
}

TEST_CASE("unknown fields", "[validator][unknown]") {
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","colour":"red"})", Code::kInvalid, "colour",
                  "unknown_field");
  Event e;
  Outcome o = check(R"({"type":"run.end","run":"r","colour":"red"})", &e);
  CHECK(o.status.message() == "field \"colour\" is not a field of run.end");
  // A field of another type is unknown for this one.
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","id":"x"})", Code::kInvalid, "id",
                  "unknown_field");
  REQUIRE_REFUSED(R"({"type":"worker.heartbeat","worker":"w"})", Code::kInvalid, "worker",
                  "unknown_field");
  REQUIRE_REFUSED(R"({"type":"test.start","run":"r","id":"t","name":"n","status":"passed"})",
                  Code::kInvalid, "status", "unknown_field");

  const EventValidator lenient(with_limits([](Limits& l) { l.reject_unknown_fields = false; }));
  REQUIRE_VALID_BY(lenient, R"({"type":"run.end","run":"r","colour":"red","id":{"x":[1]}})", e);
  CHECK(e.id.empty());
  // Ignored fields still obey the limits and well-formedness rules.
  REQUIRE_REFUSED_BY(lenient, R"({"type":"run.end","run":"r","x":{"a":1,"a":2}})",
                     Code::kInvalid, "x.a", "duplicate_key");
  REQUIRE_REFUSED_BY(lenient, R"({"type":"run.end","run":"r","x":[1e400]})", Code::kInvalid,
                     "x[0]", "finite");
  REQUIRE_REFUSED_BY(lenient, R"({"type":"run.end","run":"r","x":"a\u0000"})", Code::kParse, "x",
                     "nul");
  REQUIRE_REFUSED_BY(lenient, R"({"type":"run.end","run":"r","x":NaN})", Code::kParse, "x",
                     "syntax");
  REQUIRE_REFUSED_BY(lenient, R"({"type":"run.end","run":"r","x":1,"x":2})", Code::kInvalid, "x",
                     "duplicate_key");
  REQUIRE_REFUSED_BY(lenient,
                     R"({"type":"run.end","run":"r","x":)" + repeat("[", 40) + repeat("]", 40) + "}",
                     Code::kInvalid, "x" + repeat("[0]", 31), "max_depth");
}

// ---------------------------------------------------------------------------
// Not JSON, or not one object.

TEST_CASE("parse errors", "[validator][parse]") {
  REQUIRE_REFUSED("", Code::kParse, "", "syntax");
  REQUIRE_REFUSED("   ", Code::kParse, "", "syntax");
  REQUIRE_REFUSED("hello", Code::kParse, "", "not_object");
  REQUIRE_REFUSED("[]", Code::kParse, "", "not_object");
  REQUIRE_REFUSED(R"([{"type":"run.end","run":"r"}])", Code::kParse, "", "not_object");
  REQUIRE_REFUSED(R"("run.end")", Code::kParse, "", "not_object");
  REQUIRE_REFUSED("42", Code::kParse, "", "not_object");
  REQUIRE_REFUSED("null", Code::kParse, "", "not_object");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r")", Code::kParse, "", "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r",})", Code::kParse, "", "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end" "run":"r"})", Code::kParse, "", "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":[1,2}})", Code::kParse, "meta.a",
                  "syntax");
  REQUIRE_REFUSED(R"({'type':'run.end'})", Code::kParse, "", "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":tru}})", Code::kParse, "meta.a",
                  "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":nul}})", Code::kParse, "meta.a",
                  "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":01}})", Code::kParse, "meta.a",
                  "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":1.}})", Code::kParse, "meta.a",
                  "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":-}})", Code::kParse, "meta.a",
                  "syntax");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":"x\qy"}})", Code::kParse, "meta.a",
                  "escape");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":"\u12"}})", Code::kParse, "meta.a",
                  "escape");
}

TEST_CASE("trailing content", "[validator][parse]") {
  const std::string ok = R"({"type":"run.end","run":"r"})";
  Event e;
  REQUIRE_VALID(ok + " \n\t\r", e);
  REQUIRE_VALID(" \n" + ok, e);
  CHECK(e.raw == " \n" + ok);
  REQUIRE_REFUSED(ok + " x", Code::kParse, "", "trailing_content");
  REQUIRE_REFUSED(ok + "}", Code::kParse, "", "trailing_content");
  REQUIRE_REFUSED(ok + "]", Code::kParse, "", "trailing_content");
  REQUIRE_REFUSED(ok + ok, Code::kParse, "", "trailing_content");
  REQUIRE_REFUSED(ok + " 1", Code::kParse, "", "trailing_content");
  REQUIRE_REFUSED(ok + R"( "}")", Code::kParse, "", "trailing_content");
  REQUIRE_REFUSED(ok + ",", Code::kParse, "", "trailing_content");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","id":1})" + std::string("}"), Code::kParse, "",
                  "trailing_content");
}

TEST_CASE("UTF-8, BOM and NUL", "[validator][parse]") {
  const std::string head = R"({"type":"run.end","run":"r","meta":{"s":")";
  const std::string tail = "\"}}";
  Event e;
  REQUIRE_VALID(head + "caf\xC3\xA9 \xF0\x9F\x98\x80" + tail, e);
  REQUIRE_REFUSED(head + "\xC0\xAF" + tail, Code::kParse, "", "utf8");          // overlong '/'
  REQUIRE_REFUSED(head + "\xE0\x80\xAF" + tail, Code::kParse, "", "utf8");      // overlong
  REQUIRE_REFUSED(head + "\xE2\x82" + tail, Code::kParse, "", "utf8");          // truncated
  REQUIRE_REFUSED(head + "\xF0\x9F\x98" + tail, Code::kParse, "", "utf8");      // truncated
  REQUIRE_REFUSED(head + "\xED\xA0\x80" + tail, Code::kParse, "", "utf8");      // CESU half
  REQUIRE_REFUSED(head + "\xED\xA0\xBD\xED\xB8\x80" + tail, Code::kParse, "", "utf8");  // CESU pair
  REQUIRE_REFUSED(head + "\xF4\x90\x80\x80" + tail, Code::kParse, "", "utf8");  // > U+10FFFF
  REQUIRE_REFUSED(head + "\xFF" + tail, Code::kParse, "", "utf8");
  REQUIRE_REFUSED(head + "\x80" + tail, Code::kParse, "", "utf8");
  REQUIRE_REFUSED(R"({"type":"run.end","run":")" + std::string("\xC3") + R"("})", Code::kParse,
                  "", "utf8");
  REQUIRE_REFUSED(R"({"type":"run.end","r)" + std::string("\xC3\x28") + R"(":"r"})",
                  Code::kParse, "", "utf8");

  REQUIRE_REFUSED("\xEF\xBB\xBF" R"({"type":"run.end","run":"r"})", Code::kParse, "", "bom");
  REQUIRE_REFUSED(std::string(R"({"type":"run.end","run":"r"})") + std::string(1, '\0'),
                  Code::kParse, "", "nul");
  REQUIRE_REFUSED(std::string(R"({"type":"run.end","run":"r)") + std::string(1, '\0') + "\"}",
                  Code::kParse, "", "nul");
  REQUIRE_REFUSED(head + R"(a\u0000b)" + tail, Code::kParse, "meta.s", "nul");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r\u0000"})", Code::kParse, "run", "nul");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a\u0000":1}})", Code::kParse, "meta",
                  "nul");

  // Raw control characters must be escaped inside strings.
  REQUIRE_REFUSED(head + "a\x01" "b" + tail, Code::kParse, "", "control_char");
  REQUIRE_REFUSED(head + "a\nb" + tail, Code::kParse, "", "control_char");
}

TEST_CASE("escaped surrogates", "[validator][parse]") {
  const std::string head = R"({"type":"run.end","run":"r","meta":{"s":")";
  const std::string tail = "\"}}";
  Event e;
  REQUIRE_VALID(head + R"(\ud83d\ude00)" + tail, e);
  for (const char* lone : {R"(\ud800)", R"(\udbff)", R"(\udc00)", R"(\udfff)", R"(\ud800x)",
                           R"(\ud800\u0041)", R"(\ud800\ud800)", R"(\ude00\ud83d)",
                           R"(a\uDC00b)"}) {
    INFO(lone);
    REQUIRE_REFUSED(head + lone + tail, Code::kParse, "meta.s", "surrogate");
  }
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"\ud800":1}})", Code::kParse, "meta",
                  "surrogate");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"\udfff"})", Code::kParse, "run", "surrogate");
}

TEST_CASE("NaN, Infinity and out-of-range numbers", "[validator][numbers]") {
  const std::string head = R"({"type":"run.end","run":"r","meta":{"n":)";
  for (const char* literal : {"NaN", "Infinity", "-Infinity", "nan", "inf", "+1"}) {
    INFO(literal);
    REQUIRE_REFUSED(head + literal + "}}", Code::kParse, "meta.n", "syntax");
  }
  REQUIRE_REFUSED(head + "1e400}}", Code::kInvalid, "meta.n", "finite");
  REQUIRE_REFUSED(head + "-1e400}}", Code::kInvalid, "meta.n", "finite");
  REQUIRE_REFUSED(head + "99999999999999999999}}", Code::kInvalid, "meta.n", "int64");
  REQUIRE_REFUSED(head + "9223372036854775808}}", Code::kInvalid, "meta.n", "int64");
  REQUIRE_REFUSED(head + "-9223372036854775809}}", Code::kInvalid, "meta.n", "int64");
  REQUIRE_REFUSED(head + "18446744073709551615}}", Code::kInvalid, "meta.n", "int64");
  Event e;
  for (const char* fine : {"9223372036854775807", "-9223372036854775808", "0", "-0", "1.5e300",
                           "1e-400", "2.5E+3", "-0.0"}) {
    INFO(fine);
    REQUIRE_VALID(head + fine + "}}", e);
  }
  const std::string end = R"({"type":"test.end","run":"r","id":"t","status":"passed",)";
  REQUIRE_REFUSED(end + R"("seq":99999999999999999999})", Code::kInvalid, "seq", "int64");
  REQUIRE_REFUSED(end + R"("attempt":1e400})", Code::kInvalid, "attempt", "type");
  REQUIRE_REFUSED(end + R"("duration_ms":1e400})", Code::kInvalid, "duration_ms", "finite");
  REQUIRE_REFUSED(end + R"("duration_ms":NaN})", Code::kParse, "duration_ms", "syntax");
  REQUIRE_REFUSED(end + R"("duration_ms":Infinity})", Code::kParse, "duration_ms", "syntax");
  REQUIRE_REFUSED(end + R"("ts":-Infinity})", Code::kParse, "ts", "syntax");
  // An integer must fit int64 even where any number is allowed.
  REQUIRE_REFUSED(end + R"("duration_ms":99999999999999999999})", Code::kInvalid, "duration_ms",
                  "int64");
  REQUIRE_VALID(end + R"("duration_ms":1e20})", e);
  CHECK(e.duration_ms == 1e20);
  REQUIRE_VALID(end + R"("duration_ms":250})", e);
  CHECK(e.duration_ms == 250);
  Outcome big = check(head + "1e400}}", &e);
  CHECK(big.status.message().find("meta.n") != std::string::npos);
}

TEST_CASE("integer fields: short ones read from the token, long ones checked", "[validator][numbers]") {
  const std::string end = R"({"type":"test.end","run":"r","id":"t","status":"passed",)";
  Event e;
  // Up to 18 digits are read straight from the token; 19 take the long way.
  const std::pair<const char*, int64_t> fine[] = {
      {"0", 0},
      {"7", 7},
      {"-0", 0},
      {"-12", -12},
      {"999999999999999999", 999999999999999999},
      {"-999999999999999999", -999999999999999999},
      {"1000000000000000000", 1000000000000000000},
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
  };
  for (const auto& [token, value] : fine) {
    INFO(token);
    REQUIRE_VALID(end + R"("ts":)" + token + " }", e);
    CHECK(e.ts == value);
    if (value >= 1) {
      REQUIRE_VALID(end + R"("seq":)" + token + "}", e);
      CHECK(e.seq == value);
    }
  }
  REQUIRE_REFUSED(end + R"("seq":-12})", Code::kInvalid, "seq", "range");
  REQUIRE_VALID(end + R"("attempt": 3 ,"seq":5})", e);
  CHECK(e.attempt == 3);
  CHECK(e.seq == 5);
  // Leading zeros, fractions, exponents, signs and stray text stay refused.
  for (const char* bad : {"007", "-007", "00", "+5", "1.0", "1e3", "-", "1-", "0x10", "1_0"}) {
    INFO(bad);
    Outcome o = check(end + R"("ts":)" + bad + "}", &e);
    CHECK_FALSE(o.status.is_ok());
    CHECK(o.status.field() == "ts");
  }
  REQUIRE_REFUSED(end + R"("ts":1.5})", Code::kInvalid, "ts", "type");
  REQUIRE_REFUSED(end + R"("ts":"5"})", Code::kInvalid, "ts", "type");
  REQUIRE_REFUSED(end + R"("ts":9223372036854775808})", Code::kInvalid, "ts", "int64");
  REQUIRE_REFUSED(end + R"("attempt":-1})", Code::kInvalid, "attempt", "range");
}

// ---------------------------------------------------------------------------
// Limits.

TEST_CASE("message size is checked before parsing", "[validator][limits]") {
  const EventValidator small(with_limits([](Limits& l) { l.max_message_bytes = 64; }));
  Event e;
  const std::string ok = R"({"type":"run.end","run":"r"})";
  REQUIRE_VALID_BY(small, ok, e);
  std::string padded = ok + std::string(64 - ok.size(), ' ');
  REQUIRE_VALID_BY(small, padded, e);
  REQUIRE_REFUSED_BY(small, padded + " ", Code::kInvalid, "", "max_message_bytes");
  // Garbage past the size limit is refused for its size, not parsed.
  REQUIRE_REFUSED_BY(small, std::string(65, '\xFF'), Code::kInvalid, "", "max_message_bytes");
  const std::string big = R"({"type":"run.end","run":"r","meta":{"s":")" +
                          std::string(2 << 20, 'x') + "\"}}";
  REQUIRE_REFUSED(big, Code::kInvalid, "", "max_message_bytes");
}

TEST_CASE("depth", "[validator][limits]") {
  Event e;
  // The message is depth 1 and meta 2: by default 31 nested objects fit in meta.
  const std::string at_limit = R"({"type":"run.end","run":"r","meta":)" + repeat("{\"a\":", 31) +
                               "1" + repeat("}", 31) + "}";
  REQUIRE_VALID(at_limit, e);
  const std::string over = R"({"type":"run.end","run":"r","meta":)" + repeat("{\"a\":", 32) + "1" +
                           repeat("}", 32) + "}";
  REQUIRE_REFUSED(over, Code::kInvalid, "meta" + repeat(".a", 31), "max_depth");

  // The deepest limit a configuration may ask for works end to end.
  Limits deepest;
  REQUIRE(Limits::from_json(R"({"max_depth":256})", &deepest).is_ok());
  const EventValidator deep(deepest);
  REQUIRE_VALID_BY(deep,
                   R"({"type":"run.end","run":"r","meta":{"a":)" + repeat("[", 254) +
                       repeat("]", 254) + "}}",
                   e);
  REQUIRE_REFUSED_BY(deep,
                     R"({"type":"run.end","run":"r","meta":{"a":)" + repeat("[", 255) +
                         repeat("]", 255) + "}}",
                     Code::kInvalid, "meta.a" + repeat("[0]", 254), "max_depth");
  CHECK(Limits::from_json(R"({"max_depth":257})", &deepest).code() == Code::kInvalidArgument);

  const EventValidator none(with_limits([](Limits& l) { l.max_depth = 0; }));
  REQUIRE_REFUSED_BY(none, R"({"type":"run.end","run":"r"})", Code::kInvalid, "", "max_depth");

  const EventValidator shallow(with_limits([](Limits& l) { l.max_depth = 2; }));
  REQUIRE_VALID_BY(shallow, R"({"type":"run.end","run":"r","meta":{"a":1}})", e);
  REQUIRE_REFUSED_BY(shallow, R"({"type":"run.end","run":"r","meta":{"a":[]}})", Code::kInvalid,
                     "meta.a", "max_depth");
  REQUIRE_REFUSED_BY(shallow, R"({"type":"run.end","run":"r","meta":{"a":{}}})", Code::kInvalid,
                     "meta.a", "max_depth");
}

TEST_CASE("10k-deep nesting is refused quickly", "[validator][limits][hostile]") {
  const std::string arrays = R"({"type":"run.end","run":"r","meta":{"a":)" + repeat("[", 10000) +
                             repeat("]", 10000) + "}}";
  const std::string objects = R"({"type":"run.end","run":"r","meta":)" + repeat("{\"a\":", 10000) +
                              "1" + repeat("}", 10000) + "}";
  const std::string unclosed = R"({"type":"run.end","run":"r","meta":)" + repeat("[", 10000);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE_REFUSED(arrays, Code::kInvalid, "meta.a" + repeat("[0]", 30), "max_depth");
  REQUIRE_REFUSED(objects, Code::kInvalid, "meta" + repeat(".a", 31), "max_depth");
  REQUIRE_REFUSED(unclosed, Code::kParse, "", "syntax");
  // The depth a limit may ask for is bounded, so the walk's stack is too.
  const EventValidator deep(with_limits([](Limits& l) { l.max_depth = 1000000; }));
  Event e;
  Outcome o = check(deep, arrays, &e);
  CHECK(o.status.code() == Code::kInvalid);
  CHECK(o.status.rule() == "max_depth");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(1));
}

TEST_CASE("strings, arrays and keys", "[validator][limits]") {
  const EventValidator small(with_limits([](Limits& l) {
    l.max_string_bytes = 8;
    l.max_array_items = 3;
    l.max_keys = 3;
  }));
  Event e;
  REQUIRE_VALID_BY(small, R"({"type":"run.end","run":"r","meta":{"s":"12345678"}})", e);
  REQUIRE_REFUSED_BY(small, R"({"type":"run.end","run":"r","meta":{"s":"123456789"}})",
                     Code::kInvalid, "meta.s", "max_string_bytes");
  // The limit applies after unescaping: six bytes of JSON make one byte.
  REQUIRE_VALID_BY(small, R"({"type":"run.end","run":"r","meta":{"s":"\u0041\u0041\u0041\u0041\u0041\u0041\u0041\u0041"}})", e);
  REQUIRE_REFUSED_BY(small, R"({"type":"run.end","run":"r","meta":{"123456789":1}})",
                     Code::kInvalid, "meta", "max_string_bytes");
  REQUIRE_REFUSED_BY(small, R"({"type":"run.end","run":"r","meta":{"a":[1,2,3,4]}})",
                     Code::kInvalid, "meta.a", "max_array_items");
  REQUIRE_VALID_BY(small, R"({"type":"run.end","run":"r","meta":{"a":[1,2,3]}})", e);
  REQUIRE_REFUSED_BY(small, R"({"type":"run.end","run":"r","meta":{"a":1,"b":2,"c":3,"d":4}})",
                     Code::kInvalid, "meta", "max_keys");
  REQUIRE_REFUSED_BY(small, R"({"type":"run.end","run":"r","meta":{},"seq":1})", Code::kInvalid,
                     "", "max_keys");
  REQUIRE_REFUSED_BY(small, R"({"type":"run.end","run":"r","status":"interrupted"})",
                     Code::kInvalid, "status", "max_string_bytes");

  // Defaults: one string past 64 KiB.
  REQUIRE_REFUSED(R"({"type":"test.end","run":"r","id":"t","status":"passed","stdout":")" +
                      std::string(65537, 'x') + "\"}",
                  Code::kInvalid, "stdout", "max_string_bytes");
  REQUIRE_VALID(R"({"type":"test.end","run":"r","id":"t","status":"passed","stdout":")" +
                    std::string(65536, 'x') + "\"}",
                e);
  CHECK(e.stdout_text.size() == 65536);
}

TEST_CASE("duplicate keys at any depth", "[validator][limits]") {
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","run":"s"})", Code::kInvalid, "run",
                  "duplicate_key");
  REQUIRE_REFUSED(R"({"type":"run.end","type":"run.end","run":"r"})", Code::kInvalid, "type",
                  "duplicate_key");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":{"b":1,"b":2}}})", Code::kInvalid,
                  "meta.a.b", "duplicate_key");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"a":[{"x":1},{"y":1,"y":1}]}})",
                  Code::kInvalid, "meta.a[1].y", "duplicate_key");
  // Equal after unescaping.
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"ab":1,"\u0061b":2}})", Code::kInvalid,
                  "meta.ab", "duplicate_key");
  REQUIRE_REFUSED(
      R"({"type":"test.end","run":"r","id":"t","status":"failed","error":{"message":"a","message":"b"}})",
      Code::kInvalid, "error.message", "duplicate_key");
  REQUIRE_REFUSED(R"({"type":"run.start","run":"r","config":{"retries":1,"retries":2}})",
                  Code::kInvalid, "config.retries", "duplicate_key");
  // The same key in sibling objects is fine.
  Event e;
  REQUIRE_VALID(R"({"type":"run.end","run":"r","meta":{"a":{"k":1},"b":{"k":1},"k":{"k":{"k":1}}}})", e);

  // Large objects are checked too, wherever the duplicate sits.
  std::string keys;
  for (int i = 0; i < 200; ++i) keys += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
  REQUIRE_VALID(R"({"type":"run.end","run":"r","meta":{)" + keys + "}}", e);
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{)" + keys + R"(,"k150":2}})",
                  Code::kInvalid, "meta.k150", "duplicate_key");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"k3":0,)" + keys + "}}", Code::kInvalid,
                  "meta.k3", "duplicate_key");
  const EventValidator lenient(with_limits([](Limits& l) { l.reject_unknown_fields = false; }));
  REQUIRE_REFUSED_BY(lenient, R"({"type":"run.end",)" + keys + R"(,"run":"r","k0":1})",
                     Code::kInvalid, "k0", "duplicate_key");

  // Keys alike in length and in their first and last bytes (small objects
  // filter keys by those before comparing them): told apart all the same.
  std::string alike;
  for (char c = 'a'; c < 'a' + 15; ++c) alike += std::string(alike.empty() ? "" : ",") + "\"x" + c + "y\":1";
  REQUIRE_VALID(R"({"type":"run.end","run":"r","meta":{)" + alike + "}}", e);
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{)" + alike + R"(,"xcy":2}})",
                  Code::kInvalid, "meta.xcy", "duplicate_key");
  REQUIRE_REFUSED(R"({"type":"run.end","run":"r","meta":{"":1,"":2}})", Code::kInvalid, "meta.",
                  "duplicate_key");
}

// ---------------------------------------------------------------------------
// Views and parser reuse.

TEST_CASE("views: unescaped strings and raw JSON", "[validator][views]") {
  Event e;
  const std::string json =
      R"({"type":"test.log","run":"a\"b","id":"t\\1","message":"tab\there \u00e9\/","meta" : { "k" : [ 1 , "x" ] } })";
  REQUIRE(check(json, &e).status.is_ok());
  CHECK(e.run == "a\"b");
  CHECK(e.id == "t\\1");
  CHECK(e.message == "tab\there \xC3\xA9/");
  CHECK(e.meta == R"({ "k" : [ 1 , "x" ] })");
  // Raw views point into the message itself.
  CHECK(e.raw.data() == json.data());
  CHECK(e.meta.data() >= json.data());
  CHECK(e.meta.data() + e.meta.size() <= json.data() + json.size());
  CHECK(e.meta.data() == json.data() + json.find("{ \"k\""));
}

TEST_CASE("a valid message after a refused one", "[validator][reuse]") {
  Event e;
  const std::vector<std::string> bad = {
      R"({"type":"run.end","run":"r","meta":{"a":[1,2}})",
      R"({"type":"run.end","run":"\ud800"})",
      "{\"type\":\"run.end\",\"run\":\"\xC0\xAF\"}",
      R"({"type":"run.end","run":"r"} x)",
      R"({"type":"run.end","run":"r","meta":)" + repeat("[", 5000),
      R"({"run":"r","x":[1,2,}})",
      "[1,2,3]",
      R"({"type":"run.end","run":"r","run":"r"})",
  };
  for (const std::string& json : bad) {
    INFO(json.substr(0, 80));
    CHECK_FALSE(check(json, &e).status.is_ok());
    REQUIRE_VALID(R"({"type":"run.end","run":"after","status":"passed"})", e);
    CHECK(e.run == "after");
    CHECK(e.status_text == "passed");
  }
  // Growing and shrinking messages on one thread.
  for (size_t size : {10u, 100000u, 10u, 3000000u, 50u}) {
    const std::string json = R"({"type":"run.end","run":"r","meta":{"s":")" +
                             std::string(std::min<size_t>(size, 60000), 'x') + "\",\"pad\":\"" +
                             std::string(size > 60000 ? 60000 : 0, 'y') + "\"}}";
    const EventValidator big(with_limits([](Limits& l) { l.max_message_bytes = 8 << 20; }));
    REQUIRE_VALID_BY(big, json, e);
    CHECK(e.meta.size() == json.size() - json.find("{\"s\"") - 1);
  }
}

TEST_CASE("a NULL event is an invalid argument", "[validator][reuse]") {
  const EventValidator validator;
  bool suspicious = true;
  const Status s = validator.validate(R"({"type":"run.end","run":"r"})", nullptr, &suspicious);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK_FALSE(suspicious);
}

TEST_CASE("validators may be shared across threads", "[validator][threads]") {
  const EventValidator validator;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Event e;
      for (int i = 0; i < 2000; ++i) {
        const std::string run = "r" + std::to_string(t) + "-" + std::to_string(i);
        const std::string json =
            R"({"type":"test.end","run":")" + run + R"(","id":"t","status":"passed","meta":{"i":)" +
            std::to_string(i) + "}}";
        Status s = validator.validate(json, &e);
        if (!s.is_ok() || e.run != run) ++failures[static_cast<size_t>(t)];
        if (validator.validate("{\"a\":", &e).is_ok()) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) CHECK(f == 0);
}

// ---------------------------------------------------------------------------
// Pattern policy.

TEST_CASE("pattern policy", "[validator][patterns]") {
  const std::vector<std::string> hostile = {
      "<script>alert(1)</script>",
      "x<SCRIPT src=//evil>",
      "</script><img src=x>",
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "java\tscript:alert(1)",
      "<img src=x onerror=alert(1)>",
      "<svg/onload=alert(1)>",
      "\" onmouseover=\"alert(1)",
      "<iframe src=//evil>",
      "' OR '1'='1",
      "admin' or 1=1 --",
      "\" or \"\"=\"",
      "x' OR 'a'='a",
      "' or 1--",
      "admin'--",
      "admin' -- ",
      "1; DROP TABLE users",
      "x'; drop table runs;--",
      "1;DELETE FROM users",
      "'; exec xp_cmdshell 'dir'",
      "1 UNION SELECT password FROM users",
      "1 union all select 1,2",
      "1 UNION/**/SELECT 1",
      "data:text/html,<b>x</b>",
  };
  const std::vector<std::string> benign = {
      "handles <div> rendering",
      "drops table when empty",
      "it's a test -- with dashes",
      "renders <iframe> embeds",
      "returns 1 when a = b",
      "parses '--verbose' flag",
      "it doesn't crash; it recovers",
      "union of two sets is selected",
      "reunion select menu",
      "uses onclick handler",
      "checks x <= y and y >= z",
      "url http://example.com:8080/a?b=c",
      "O'Reilly or O'Brien",
      "can't and won't",
      "select * from the menu",
      "drop-down; table view",
      "script: run `npm test`",
      "a <b> c",
  };
  const EventValidator flag;
  const EventValidator reject(with_limits([](Limits& l) { l.patterns = PatternPolicy::kReject; }));
  const EventValidator off(with_limits([](Limits& l) { l.patterns = PatternPolicy::kOff; }));
  auto named = [](const std::string& name) {
    std::string escaped;
    for (char c : name) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      if (c == '\t') {
        escaped += "\\t";
        continue;
      }
      escaped.push_back(c);
    }
    return R"({"type":"test.start","run":"r","id":"t","name":")" + escaped + "\"}";
  };
  Event e;
  for (const std::string& text : hostile) {
    INFO(text);
    Outcome flagged = check(flag, named(text), &e);
    CHECK(flagged.status.is_ok());
    CHECK(flagged.suspicious);
    REQUIRE_REFUSED_BY(reject, named(text), Code::kInvalid, "name", "pattern");
    Outcome skipped = check(off, named(text), &e);
    CHECK(skipped.status.is_ok());
    CHECK_FALSE(skipped.suspicious);
  }
  for (const std::string& text : benign) {
    INFO(text);
    Outcome clean = check(flag, named(text), &e);
    CHECK(clean.status.is_ok());
    CHECK_FALSE(clean.suspicious);
    REQUIRE_VALID_BY(reject, named(text), e);
  }

  // Which fields are checked: ids, names, messages and error text.
  REQUIRE_REFUSED_BY(reject, R"({"type":"run.end","run":"<script>x"})", Code::kInvalid, "run",
                     "pattern");
  REQUIRE_REFUSED_BY(reject, R"({"type":"test.log","run":"r","id":"t","message":"' OR '1'='1"})",
                     Code::kInvalid, "message", "pattern");
  REQUIRE_REFUSED_BY(reject, R"({"type":"run.cancel","run":"r","reason":"1; DROP TABLE runs"})",
                     Code::kInvalid, "reason", "pattern");
  REQUIRE_REFUSED_BY(
      reject,
      R"({"type":"test.end","run":"r","id":"t","status":"failed","error":{"message":"<script>"}})",
      Code::kInvalid, "error.message", "pattern");
  REQUIRE_REFUSED_BY(
      reject,
      R"J({"type":"test.end","run":"r","id":"t","status":"failed","error":{"message":"m","stack":"javascript:x()"}})J",
      Code::kInvalid, "error.stack", "pattern");
  REQUIRE_REFUSED_BY(
      reject,
      R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"x' OR '1'='1"}]}})",
      Code::kInvalid, "plan.specs[0].id", "pattern");
  // Captured output is the test's own business.
  REQUIRE_VALID_BY(
      reject,
      R"({"type":"test.end","run":"r","id":"t","status":"failed","stdout":"<script>alert(1)</script>"})",
      e);
  // Escapes do not hide a pattern: it is matched after unescaping.
  Outcome escaped = check(flag, R"({"type":"run.end","run":"\u003cscript\u003e"})", &e);
  CHECK(escaped.status.is_ok());
  CHECK(escaped.suspicious);
  // The flag is per message.
  Outcome next = check(flag, R"({"type":"run.end","run":"r"})", &e);
  CHECK_FALSE(next.suspicious);
}

TEST_CASE("pattern scan stays linear on hostile text", "[validator][patterns][hostile]") {
  const std::vector<std::string> bodies = {
      repeat("onabcde=", 8000),  repeat("';/*", 16000),   repeat("' or '", 10000),
      repeat("=", 64000),        repeat(":", 64000),      repeat("; update x", 6000),
      repeat("union ", 10000),   repeat("\t:", 30000),   repeat("'", 64000),
      repeat("<a ", 20000),      repeat(" or 1", 12000),  repeat("/*", 32000),
  };
  const EventValidator reject(with_limits([](Limits& l) { l.patterns = PatternPolicy::kReject; }));
  Event e;
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& body : bodies) {
    std::string escaped;
    for (char c : body) {
      if (c == '\t') {
        escaped += "\\t";
      } else {
        escaped.push_back(c);
      }
    }
    const std::string json =
        R"({"type":"test.log","run":"r","id":"t","message":")" + escaped + "\"}";
    (void)check(reject, json, &e);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

// ---------------------------------------------------------------------------
// Limits::from_json.

TEST_CASE("Limits::from_json reads every key", "[validator][limits_json]") {
  Limits limits;
  Status s = Limits::from_json(R"({"max_message_bytes":2048,"max_depth":8,"max_string_bytes":100,
      "max_array_items":50,"max_keys":20,"max_id_bytes":16,"unknown_fields":"ignore",
      "allow_absolute_paths":true,"patterns":"reject"})",
                               &limits);
  INFO(s.message());
  REQUIRE(s.is_ok());
  CHECK(limits.max_message_bytes == 2048);
  CHECK(limits.max_depth == 8);
  CHECK(limits.max_string_bytes == 100);
  CHECK(limits.max_array_items == 50);
  CHECK(limits.max_keys == 20);
  CHECK(limits.max_id_bytes == 16);
  CHECK_FALSE(limits.reject_unknown_fields);
  CHECK(limits.allow_absolute_paths);
  CHECK(limits.patterns == PatternPolicy::kReject);

  Limits defaults;
  REQUIRE(Limits::from_json("{}", &defaults).is_ok());
  CHECK(defaults.max_message_bytes == Limits().max_message_bytes);
  CHECK(defaults.reject_unknown_fields);
  CHECK(defaults.patterns == PatternPolicy::kFlag);

  Limits partial;
  REQUIRE(Limits::from_json(R"({"unknown_fields":"reject","patterns":"off"})", &partial).is_ok());
  CHECK(partial.patterns == PatternPolicy::kOff);
  CHECK(partial.max_depth == 32);
}

TEST_CASE("Limits::from_json refuses bad options", "[validator][limits_json]") {
  struct Case {
    const char* json;
    const char* field;
  };
  const std::vector<Case> cases = {
      {R"({"max_depht":3})", "max_depht"},
      {R"({"max_depth":0})", "max_depth"},
      {R"({"max_depth":-1})", "max_depth"},
      {R"({"max_depth":1.5})", "max_depth"},
      {R"({"max_depth":"8"})", "max_depth"},
      {R"({"max_depth":100000})", "max_depth"},
      {R"({"max_message_bytes":0})", "max_message_bytes"},
      {R"({"max_message_bytes":99999999999999999999})", "max_message_bytes"},
      {R"({"max_string_bytes":null})", "max_string_bytes"},
      {R"({"max_array_items":false})", "max_array_items"},
      {R"({"max_keys":0})", "max_keys"},
      {R"({"max_id_bytes":-5})", "max_id_bytes"},
      {R"({"unknown_fields":"allow"})", "unknown_fields"},
      {R"({"unknown_fields":true})", "unknown_fields"},
      {R"({"allow_absolute_paths":"yes"})", "allow_absolute_paths"},
      {R"({"patterns":"warn"})", "patterns"},
      {R"({"patterns":1})", "patterns"},
      {R"({"max_depth":4,"max_depth":5})", "max_depth"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    Limits limits;
    limits.max_depth = 7;
    Status s = Limits::from_json(c.json, &limits);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == c.field);
    CHECK(s.message().find(std::string("\"") + c.field + "\"") != std::string::npos);
    CHECK(limits.max_depth == 7);  // untouched on failure
  }
  for (const char* broken : {"", "[]", "{", R"({"max_depth":4} x)", "nope", "{\"max_depth\":}"}) {
    INFO(broken);
    Limits limits;
    CHECK(Limits::from_json(broken, &limits).code() == Code::kInvalidArgument);
  }
}

TEST_CASE("limits from JSON drive the validator", "[validator][limits_json]") {
  Limits limits;
  REQUIRE(Limits::from_json(R"({"unknown_fields":"ignore","max_id_bytes":3})", &limits).is_ok());
  const EventValidator validator(limits);
  Event e;
  REQUIRE_VALID_BY(validator, R"({"type":"run.end","run":"abc","extra":1})", e);
  REQUIRE_REFUSED_BY(validator, R"({"type":"run.end","run":"abcd"})", Code::kInvalid, "run",
                     "max_id_bytes");
}

// A message led by a known type is read in one pass; every other message,
// and every refusal, by the full route. The two must agree on every
// message: this drives both over valid messages and thousands of broken
// ones (cut, spliced, duplicated, retyped, with trailing content).
TEST_CASE("the one-pass route and the full route give the same verdicts",
          "[validator][routes]") {
  namespace validator_internal = baton::validator_internal;
  using validator_internal::Route;
  const std::vector<std::string> seeds = {
      R"({"type":"run.start","run":"run-1","ts":1764138000000,"name":"main #1","config":{"retries":1,"workers":2},"client":"ci-0","seq":1})",
      R"({"type":"suite.start","run":"run-1","id":"suite-0","name":"src/a.spec.ts","ts":1,"client":"ci-0","seq":2})",
      R"({"type":"test.start","run":"run-1","id":"suite-0/test-0","suite":"suite-0","name":"handles case 0","attempt":1,"ts":1,"client":"ci-0","seq":3})",
      R"({"type":"test.end","run":"run-1","id":"suite-0/test-0","suite":"suite-0","status":"failed","attempt":1,"duration_ms":1.5,"error":{"message":"boom","stack":"at x"},"ts":2,"client":"ci-0","seq":4})",
      R"({"type":"test.log","run":"run-1","id":"suite-0/test-0","level":"info","message":"hi \u00e9 \n","ts":3})",
      R"({"type":"run.end","run":"run-1","meta":{"a":[1,2,{"b":null}],"c":"d"}})",
      R"({"run":"run-1","type":"run.end"})",
      R"({"type":"test.end","run":"r","id":"t","status":"passed","name":"x; DROP TABLE runs"})",
  };
  const std::vector<std::string> pieces = {"}", "]", "{", "[", ",", ":", "\"", "x", "1", " ",
                                           "\\", "null", "\"type\"", "\\u0000", "\xC3", "-"};
  std::vector<std::string> messages;
  for (const std::string& m : seeds) {
    messages.push_back(m);
    messages.push_back(m + " x");
    messages.push_back(m + m);
    messages.push_back(m + "}");
    messages.push_back(m.substr(0, m.size() - 1) + R"(,"type":"run.end"})");
    messages.push_back(m.substr(0, m.size() - 1) + R"(,"run":5})");
    messages.push_back(m.substr(0, m.size() - 1) + R"(,"unknown":1})");
    messages.push_back(m.substr(0, m.size() - 1) + R"(,"x":[1,2,}})");
    for (size_t at = 0; at < m.size(); ++at) {
      messages.push_back(m.substr(0, at));
      messages.push_back(m.substr(0, at) + m.substr(at + 1));
      for (const std::string& p : pieces) {
        messages.push_back(m.substr(0, at) + p + m.substr(at));
        messages.push_back(m.substr(0, at) + p + m.substr(at + 1));
      }
    }
  }
  Limits strict;
  strict.max_id_bytes = 12;
  strict.max_depth = 3;
  strict.patterns = PatternPolicy::kFlag;
  int valid = 0;
  for (const Limits& limits : {Limits(), strict}) {
    for (const std::string& m : messages) {
      Event a, b;
      bool sa = false, sb = false;
      Status ra = validator_internal::validate_by_route(limits, m, &a, &sa, Route::kAny);
      Status rb = validator_internal::validate_by_route(limits, m, &b, &sb, Route::kFull);
      INFO("message: " << m);
      REQUIRE(ra.code() == rb.code());
      REQUIRE(ra.field() == rb.field());
      REQUIRE(ra.rule() == rb.rule());
      REQUIRE(ra.message() == rb.message());
      if (!ra) continue;
      ++valid;
      REQUIRE(sa == sb);
      REQUIRE(a.type == b.type);
      REQUIRE(a.run == b.run);
      REQUIRE(a.id == b.id);
      REQUIRE(a.name == b.name);
      REQUIRE(a.seq == b.seq);
      REQUIRE(a.ts == b.ts);
      REQUIRE(a.attempt == b.attempt);
      REQUIRE(a.status == b.status);
      REQUIRE(a.duration_ms == b.duration_ms);
      REQUIRE(a.raw == b.raw);
    }
  }
  // Both kinds were met, in numbers.
  CHECK(valid > 100);
  CHECK(messages.size() > 20000);
}
