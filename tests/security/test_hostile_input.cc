// Hostile input through the engine's push path: every message below is
// refused with the code a client can act on, a reply naming the rule and the
// field, and the engine goes on serving with nothing it had accepted lost.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "security_helpers.h"

using baton::Code;
using baton::security_testing::contains;
using baton::security_testing::Reply;
using baton::security_testing::TestEngine;

namespace {

struct Hostile {
  const char* what;
  std::string message;
  Code code;
  const char* rule;
  const char* field;  // "" when the problem is the message as a whole
};

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

std::string many_keys(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += ",";
    out += "\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  return out;
}

std::string test_end_with(const std::string& extra) {
  return R"({"type":"test.end","run":"good","id":"t9","status":"passed",)" + extra + "}";
}

std::vector<Hostile> barrage() {
  const std::string start = R"({"type":"run.start","run":"evil",)";
  std::vector<Hostile> list = {
      {"10k-deep nesting", start + "\"meta\":{\"a\":" + repeat("[", 10000) + repeat("]", 10000) +
       "}}", Code::kInvalid, "max_depth", ""},
      {"10k-deep nesting as a wrong type", start + "\"meta\":" + repeat("[", 10000) +
       repeat("]", 10000) + "}", Code::kInvalid, "type", "meta"},
      {"10k-deep objects",
       start + "\"meta\":" + repeat("{\"a\":", 10000) + "1" + repeat("}", 10000) + "}",
       Code::kInvalid, "max_depth", ""},
      {"a string past max_string_bytes", start + "\"name\":\"" + std::string(65537, 'x') + "\"}",
       Code::kInvalid, "max_string_bytes", "name"},
      {"an escaped string past max_string_bytes",
       start + "\"name\":\"" + repeat("\\u0041", 65537) + "\"}", Code::kInvalid,
       "max_string_bytes", "name"},
      {"an id past max_id_bytes", start + "\"name\":\"n\",\"build\":\"" + std::string(129, 'b') +
       "\"}", Code::kInvalid, "max_id_bytes", "build"},
      {"a message past max_message_bytes",
       start + "\"meta\":{\"pad\":\"" + std::string(1048576, 'p') + "\"}}", Code::kInvalid,
       "max_message_bytes", ""},
      {"an overlong UTF-8 encoding", start + "\"name\":\"\xC0\xAF\"}", Code::kParse, "utf8", ""},
      {"a truncated UTF-8 sequence", start + "\"name\":\"\xE2\x82\"}", Code::kParse, "utf8", ""},
      {"a UTF-8 encoded surrogate half", start + "\"name\":\"\xED\xA0\x80\"}", Code::kParse,
       "utf8", ""},
      {"a code point past U+10FFFF", start + "\"name\":\"\xF4\x90\x80\x80\"}", Code::kParse,
       "utf8", ""},
      {"a lone \\ud800 escape", start + R"("name":"a\ud800b"})", Code::kParse, "surrogate",
       "name"},
      {"a lone \\udc00 escape", start + R"("name":"\udc00"})", Code::kParse, "surrogate", "name"},
      {"NaN", test_end_with(R"("duration_ms":NaN)"), Code::kParse, "syntax", "duration_ms"},
      {"Infinity", test_end_with(R"("duration_ms":Infinity)"), Code::kParse, "syntax",
       "duration_ms"},
      {"-Infinity", test_end_with(R"("duration_ms":-Infinity)"), Code::kParse, "syntax",
       "duration_ms"},
      {"1e400", test_end_with(R"("duration_ms":1e400)"), Code::kInvalid, "finite", "duration_ms"},
      {"1e400 in meta", start + R"("meta":{"x":1e400}})", Code::kInvalid, "finite", "meta.x"},
      {"an integer past int64", test_end_with(R"("seq":9223372036854775808)"), Code::kInvalid,
       "int64", "seq"},
      {"an integer below int64", test_end_with(R"("ts":-9223372036854775809)"), Code::kInvalid,
       "int64", "ts"},
      {"a huge integer in meta", start + R"("meta":{"n":123456789012345678901234567890}})",
       Code::kInvalid, "int64", "meta.n"},
      {"a duplicate top-level key", R"({"type":"run.start","run":"good","run":"evil"})",
       Code::kInvalid, "duplicate_key", "run"},
      {"a duplicate type key", R"({"type":"run.start","run":"evil","type":"run.end"})",
       Code::kInvalid, "duplicate_key", "type"},
      {"a duplicate nested key", start + R"("meta":{"a":1,"b":{"c":1,"c":2}}})", Code::kInvalid,
       "duplicate_key", "meta.b.c"},
      {"a byte order mark", "\xEF\xBB\xBF" + start + "\"name\":\"n\"}", Code::kParse, "bom", ""},
      {"trailing garbage", start + "\"name\":\"n\"} x", Code::kParse, "trailing_content", ""},
      {"a second object", start + "\"name\":\"n\"}{\"type\":\"run.end\",\"run\":\"good\"}",
       Code::kParse, "trailing_content", ""},
      {"a raw NUL byte", start + "\"name\":\"a" + std::string(1, '\0') + "b\"}", Code::kParse, "nul", ""},
      {"a NUL after the object", start + "\"name\":\"n\"}" + std::string(1, '\0'), Code::kParse, "nul",
       ""},
      {"an escaped NUL", start + R"("name":"a\u0000b"})", Code::kParse, "nul", "name"},
      {"an escaped control character in an id",
       R"({"type":"test.start","run":"good","id":"t\u0001x","name":"n"})", Code::kInvalid,
       "control_char", "id"},
      {"an escaped newline in a run id", R"({"type":"run.start","run":"ev\nil"})", Code::kInvalid,
       "control_char", "run"},
      {"a DEL in a client id", R"({"type":"run.start","run":"evil","client":"c\u007f"})",
       Code::kInvalid, "control_char", "client"},
      {"a raw control character in a string", start + "\"name\":\"a\x01" "b\"}", Code::kParse,
       "control_char", ""},
      {"a ../ attachment path",
       test_end_with(R"("attachments":[{"name":"a","content_type":"text/plain",)"
                     R"("path":"../../etc/passwd"}])"),
       Code::kInvalid, "path", "attachments[0].path"},
      {"a ../ in the middle of an attachment path",
       test_end_with(R"("attachments":[{"name":"a","content_type":"text/plain",)"
                     R"("path":"out/../../secret"}])"),
       Code::kInvalid, "path", "attachments[0].path"},
      {"a backslash ..\\ attachment path",
       test_end_with(R"("attachments":[{"name":"a","content_type":"text/plain",)"
                     R"("path":"..\\..\\windows\\system.ini"}])"),
       Code::kInvalid, "path", "attachments[0].path"},
      {"an absolute attachment path",
       test_end_with(R"("attachments":[{"name":"a","content_type":"text/plain",)"
                     R"("path":"/etc/shadow"}])"),
       Code::kInvalid, "path", "attachments[0].path"},
      {"not an object", R"(["run.start","evil"])", Code::kParse, "not_object", ""},
      {"an empty message", "", Code::kParse, "syntax", ""},
      {"an unclosed object", start, Code::kParse, "syntax", ""},
      {"an array past max_array_items", start + "\"meta\":{\"a\":[" + repeat("0,", 10000) + "0]}}",
       Code::kInvalid, "max_array_items", "meta.a"},
      {"an object past max_keys", start + "\"meta\":{" + many_keys(1001) + "}}", Code::kInvalid,
       "max_keys", "meta"},
      {"an unknown type", R"({"type":"run.explode","run":"evil"})", Code::kInvalid, "enum", "type"},
      {"an unknown field", start + R"("exec":"rm -rf /"})", Code::kInvalid, "unknown_field",
       "exec"},
  };
  return list;
}

// Required fields per message type (EVENTS.md), each given a valid value.
struct MessageShape {
  const char* type;
  std::vector<std::pair<const char*, const char*>> required;
};

const std::vector<MessageShape>& shapes() {
  static const std::vector<MessageShape> kShapes = {
      {"run.start", {{"run", "\"r\""}}},
      {"run.end", {{"run", "\"r\""}}},
      {"run.cancel", {{"run", "\"r\""}}},
      {"suite.start", {{"run", "\"r\""}, {"id", "\"s\""}, {"name", "\"n\""}}},
      {"suite.end", {{"run", "\"r\""}, {"id", "\"s\""}}},
      {"test.start", {{"run", "\"r\""}, {"id", "\"t\""}, {"name", "\"n\""}}},
      {"test.end", {{"run", "\"r\""}, {"id", "\"t\""}, {"status", "\"passed\""}}},
      {"test.log", {{"run", "\"r\""}, {"id", "\"t\""}, {"message", "\"m\""}}},
      {"queue.claim", {{"run", "\"r\""}}},
      {"spec.end",
       {{"run", "\"r\""}, {"spec", "\"a.spec\""}, {"lease", "\"l1\""}, {"status", "\"passed\""}}},
      {"worker.heartbeat", {}},
  };
  return kShapes;
}

std::string build_message(const MessageShape& shape, const char* replaced, const char* value) {
  std::string out = "{\"type\":";
  out += std::string_view(replaced) == "type" ? std::string(value)
                                               : "\"" + std::string(shape.type) + "\"";
  for (const auto& [name, valid] : shape.required) {
    out += ",\"" + std::string(name) + "\":";
    out += std::string_view(replaced) == name ? value : valid;
  }
  return out + "}";
}

void push_good_run(TestEngine& e) {
  const char* messages[] = {
      R"({"type":"run.start","run":"good","name":"nightly","client":"ci-1","seq":1})",
      R"({"type":"suite.start","run":"good","id":"s1","name":"math","seq":2})",
      R"({"type":"test.start","run":"good","id":"t1","name":"adds","suite":"s1","seq":3})",
      R"({"type":"test.end","run":"good","id":"t1","status":"passed","duration_ms":3,"seq":4})",
      R"({"type":"test.start","run":"good","id":"t2","name":"divides","suite":"s1","seq":5})",
      (R"({"type":"test.end","run":"good","id":"t2","status":"failed","seq":6,)"
       R"("error":{"message":"division by zero"}})"),
      R"({"type":"test.start","run":"good","id":"t3","name":"skips","seq":7})",
      R"({"type":"test.end","run":"good","id":"t3","status":"skipped","seq":8})",
  };
  for (const char* m : messages) {
    Reply r = e.push(m);
    INFO(m << " -> " << r.text);
    REQUIRE(r.code == Code::kOk);
  }
}

void require_refused(const Reply& r, Code code, const std::string& rule,
                     const std::string& field) {
  INFO("reply: " << r.text.substr(0, 400));
  CHECK(r.code == code);
  CHECK_FALSE(r.ok);
  CHECK(r.code_name == baton::code_name(code));
  CHECK(r.rule == rule);
  CHECK_FALSE(r.error.empty());
  if (!field.empty()) {
    CHECK(r.field == field);
    // The sentence names the field, so a human reading the reply knows.
    const std::string last = field.substr(field.find_last_of(".]") == std::string::npos
                                              ? 0
                                              : field.find_last_of(".]") + 1);
    CHECK(contains(r.error, last));
  }
}

}  // namespace

TEST_CASE("hostile messages are refused with their code, rule and field; nothing accepted is lost") {
  TestEngine e;
  push_good_run(e);
  const std::string summary_before = e.query(R"({"op":"run","run":"good"})");
  const std::string tables_before = e.dump_tables();
  REQUIRE(contains(summary_before, R"("tests":3,"passed":1,"failed":1,"skipped":1)"));

  const std::vector<Hostile> list = barrage();
  for (const Hostile& h : list) {
    SECTION(h.what) {
      require_refused(e.push(h.message), h.code, h.rule, h.field);
      // The same bytes from a second client: refusals hold no per-client state.
      require_refused(e.push(h.message, "ci-2"), h.code, h.rule, h.field);
    }
  }
  // Every case again in one barrage, then the engine must be as it was.
  for (const Hostile& h : list) {
    Reply r = e.push(h.message);
    INFO(h.what << ": " << r.text.substr(0, 300));
    REQUIRE(r.code == h.code);
  }
  CHECK(e.query(R"({"op":"run","run":"good"})") == summary_before);
  CHECK(e.dump_tables() == tables_before);
  CHECK(contains(e.query(R"({"op":"run","run":"evil"})"), "ERROR"));

  // It goes on serving: new messages are accepted and counted.
  REQUIRE(e.push(R"({"type":"test.start","run":"good","id":"t4","name":"late","seq":9})").code ==
          Code::kOk);
  REQUIRE(e.push(R"({"type":"test.end","run":"good","id":"t4","status":"passed","seq":10})")
              .code == Code::kOk);
  REQUIRE(e.push(R"({"type":"run.end","run":"good"})").code == Code::kOk);
  const std::string after = e.query(R"({"op":"run","run":"good"})");
  CHECK(contains(after, R"("tests":4,"passed":2,"failed":1,"skipped":1)"));
  CHECK(contains(after, R"("status":"failed")"));
  const std::string stats = e.query(R"({"op":"stats"})");
  CHECK(contains(stats, "\"accepted\":11"));
  // The audit names rules, never the content that broke them.
  const std::string audit = e.query(R"({"op":"audit","limit":100000})");
  CHECK(contains(audit, "\"rule\":\"max_depth\""));
  CHECK(contains(audit, "\"rule\":\"utf8\""));
  CHECK_FALSE(contains(audit, "rm -rf"));
  CHECK_FALSE(contains(audit, "pppppppp"));
  CHECK_FALSE(contains(audit, "etc/passwd"));
}

TEST_CASE("every required field of every message type refuses every wrong type, naming it") {
  TestEngine e;
  const char* wrong_values[] = {"7", "-1.5", "true", "false", "null", "[]", "[\"r\"]", "{}",
                                "{\"x\":\"r\"}"};
  int cases = 0;
  for (const MessageShape& shape : shapes()) {
    std::vector<const char*> fields = {"type"};
    for (const auto& [name, valid] : shape.required) fields.push_back(name);
    for (const char* field : fields) {
      for (const char* wrong : wrong_values) {
        const std::string message = build_message(shape, field, wrong);
        Reply r = e.push(message);
        INFO(message << " -> " << r.text);
        CHECK(r.code == Code::kInvalid);
        CHECK(r.rule == "type");
        CHECK(r.field == field);
        CHECK(contains(r.error, std::string("\"") + field + "\""));
        ++cases;
      }
      if (std::string_view(field) == "type") continue;
      // Absent is refused too, naming the field as required.
      std::string without = "{\"type\":\"" + std::string(shape.type) + "\"";
      for (const auto& [name, valid] : shape.required) {
        if (std::string_view(name) != field) without += ",\"" + std::string(name) + "\":" + valid;
      }
      without += "}";
      Reply r = e.push(without);
      INFO(without << " -> " << r.text);
      CHECK(r.code == Code::kInvalid);
      CHECK(r.rule == "required");
      CHECK(r.field == field);
    }
  }
  CHECK(cases > 200);
  const std::string stats = e.query(R"({"op":"stats"})");
  CHECK(contains(stats, "\"accepted\":0"));
}
