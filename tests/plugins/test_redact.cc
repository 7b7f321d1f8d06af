// The redact filter: secrets in every field it covers are masked before
// anything is stored (database file and tables), exported (json, junit,
// ctrf, html) or seen by a plugin registered after it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/helpers.h"

using baton::Code;
using baton::Plugin;
using baton::PluginEvent;
using baton::Status;
using baton::testing::Engine;

namespace {

const char* const kSecrets[] = {
    "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",  // GitHub token
    "github_pat_11ABCDEFG0123456789_abcdefghij",  // GitHub fine-grained token
    "AKIAIOSFODNN7EXAMPLE",                       // AWS access key id
    "sk-live-51HxQ",                              // under key "api_key"
    "mF_9.B5f-4.1JqM",                            // Bearer credential
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",  // JWT
    "MIIEpAIBAAKCAQEA75kEYbody",                  // inside a private key block
    "s3cr3tpw",                                   // password in a URL
    "xoxb-123456789012-abcdefABCDEF",             // Slack token
    "hunter2pass",                                // password=...
    "tok-nested-777",                             // nested key "token"
    "corp-literal-secret",                        // a configured literal value
    "err-token-999",                              // key "token" inside error
    "att-secret-555",                             // key "secret" inside an attachment
    "cookie-val-31",                              // key "Cookie" deep in meta arrays
    "dXNlcjpwYXNzd29yZA",                         // Basic credentials
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> leaks(const std::string& where, const std::string& text) {
  std::vector<std::string> found;
  for (const char* s : kSecrets) {
    if (text.find(s) != std::string::npos) found.push_back(where + ": " + s);
  }
  return found;
}

class Observer : public Plugin {
 public:
  explicit Observer(std::string* seen) : seen_(seen) {}
  Status observe(const PluginEvent& ev) override {
    const baton::Event& e = ev.event();
    for (std::string_view v : {ev.json(), e.name, e.meta, e.error, e.error_message,
                               e.stdout_text, e.stderr_text, e.attachments, e.message}) {
      seen_->append(v);
      seen_->push_back('\n');
    }
    return Status::ok();
  }

 private:
  std::string* seen_;
};

void push_ok(Engine& e, const std::string& json) {
  Code code;
  std::string reply = e.push("ci", json, &code);
  INFO(json << " -> " << reply);
  REQUIRE(code == Code::kOk);
}

}  // namespace

TEST_CASE("redact masks secrets in every field before storage, export and other plugins") {
  std::string db = baton::testing::temp_db("redact");
  std::string seen;
  {
    Engine e(fmt::format(R"({{"path":"{}","durability":"full","plugins":{{"redact":{{"values":["corp-literal-secret"]}}}}}})",
                         db));
    uint64_t id = 0;
    REQUIRE(e.engine->add_plugin("observer", std::make_unique<Observer>(&seen), &id).message() == "");

    push_ok(e, R"({"type":"run.start","run":"r1","name":"deploy with ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",)"
               R"("meta":{"api_key":"sk-live-51HxQ","ci":{"token":"tok-nested-777","list":[{"Cookie":"cookie-val-31"}]},)"
               R"("note":"aws AKIAIOSFODNN7EXAMPLE"}})");
    push_ok(e, R"({"type":"suite.start","run":"r1","id":"s1","name":"suite github_pat_11ABCDEFG0123456789_abcdefghij"})");
    push_ok(e, R"({"type":"test.start","run":"r1","id":"t1","suite":"s1","name":"logs in with password=hunter2pass"})");
    push_ok(e, R"({"type":"test.log","run":"r1","id":"t1","message":"header Authorization: Bearer mF_9.B5f-4.1JqM"})");
    push_ok(e, R"({"type":"test.end","run":"r1","id":"t1","status":"failed","duration_ms":12,)"
               R"("error":{"message":"401 for eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",)"
               R"("stack":"key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA75kEYbody\n-----END RSA PRIVATE KEY-----\nat login.ts:4",)"
               R"("type":"AuthError","token":"err-token-999"},)"
               R"("stdout":"connecting to postgres://admin:s3cr3tpw@db.internal/app\nusing corp-literal-secret\n",)"
               R"("stderr":"slack xoxb-123456789012-abcdefABCDEF; auth Basic dXNlcjpwYXNzd29yZA",)"
               R"("attachments":[{"name":"trace","content_type":"application/zip","path":"traces/t1.zip","secret":"att-secret-555"}],)"
               R"("meta":{"password":"hunter2pass"}})");
    // A secret in the run id cannot be masked: the event is refused instead.
    Code code;
    std::string reply = e.push("ci", R"({"type":"run.start","run":"AKIAIOSFODNN7EXAMPLE"})", &code);
    CHECK(code == Code::kRejected);
    CHECK(reply.find("AKIA") == std::string::npos);
    push_ok(e, R"({"type":"run.end","run":"r1"})");

    std::vector<std::string> found;
    for (const char* format : {"json", "junit", "ctrf", "html"}) {
      std::string out;
      REQUIRE(e.engine->export_run("r1", format, &out).message() == "");
      auto l = leaks(std::string("export ") + format, out);
      found.insert(found.end(), l.begin(), l.end());
      CHECK(out.find("[REDACTED]") != std::string::npos);
    }
    // Every column of every table.
    for (const char* table : {"events", "runs", "suites", "attempts", "clients", "specs",
                              "spec_history", "audit"}) {
      std::string all;
      REQUIRE(e.engine->store()
                  ->read(std::string("SELECT * FROM ") + table, {},
                         [&](const baton::Row& r) {
                           for (int c = 0; c < r.columns(); ++c) {
                             if (!r.is_null(c)) all.append(r.text(c)).push_back('\t');
                           }
                           return true;
                         })
                  .message() == "");
      auto l = leaks(std::string("table ") + table, all);
      found.insert(found.end(), l.begin(), l.end());
    }
    auto l = leaks("observer", seen);
    found.insert(found.end(), l.begin(), l.end());
    CHECK(found.empty());
    for (const std::string& f : found) UNSCOPED_INFO(f);

    // What is not secret survives.
    std::string json;
    REQUIRE(e.engine->export_run("r1", "json", &json).message() == "");
    CHECK(json.find("deploy with [REDACTED]") != std::string::npos);
    CHECK(json.find("logs in with password=[REDACTED]") != std::string::npos);
    CHECK(json.find("postgres://admin:[REDACTED]@db.internal/app") != std::string::npos);
    CHECK(json.find("\"type\":\"AuthError\"") != std::string::npos);
    CHECK(json.find("\"path\":\"traces/t1.zip\"") != std::string::npos);
    CHECK(seen.find("\"note\":\"aws [REDACTED]\"") != std::string::npos);
    e.close();
  }
  // The database file's bytes, after close (and any WAL or journal left beside it).
  std::vector<std::string> found;
  for (const char* suffix : baton::testing::kDbFileSuffixes) {
    if (!std::filesystem::exists(db + suffix)) continue;
    auto l = leaks(std::string("file ") + db + suffix, slurp(db + suffix));
    found.insert(found.end(), l.begin(), l.end());
  }
  for (const std::string& f : found) UNSCOPED_INFO(f);
  CHECK(found.empty());
  CHECK(slurp(db).find("[REDACTED]") != std::string::npos);
}

TEST_CASE("redact leaves clean events untouched and its settings are checked") {
  std::string raw;
  {
    Engine e(R"({"plugins":{"redact":{}}})");
    uint64_t id = 0;
    REQUIRE(e.engine->add_plugin("observer", std::make_unique<Observer>(&raw), &id).message() == "");
    // Spacing and key order as sent: a message without secrets is stored byte for byte.
    const std::string msg = R"({"type":"run.start", "run":"r1", "name":"plain run", "meta":{"n":1.5,"ok":true,"x":null}})";
    push_ok(e, msg);
    CHECK(raw.rfind(msg, 0) == 0);
  }
  baton::EngineOptions o;
  REQUIRE(baton::EngineOptions::from_json(R"({"plugins":{"redact":{"values":["abc"]}}})", &o).message() == "");
  std::unique_ptr<baton::Orchestrator> engine;
  Status s = baton::Orchestrator::open(o, &engine);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("values") != std::string::npos);
  // Custom key names replace the defaults; the mask text is configurable.
  Engine e(R"({"plugins":{"redact":{"keys":["pin"],"mask":"***"}}})");
  std::string seen;
  uint64_t id = 0;
  REQUIRE(e.engine->add_plugin("observer", std::make_unique<Observer>(&seen), &id).message() == "");
  push_ok(e, R"({"type":"run.start","run":"r2","meta":{"user_pin":"4321","password":"visible"}})");
  CHECK(seen.find("\"user_pin\":\"***\"") != std::string::npos);
  CHECK(seen.find("\"password\":\"visible\"") != std::string::npos);
}

TEST_CASE("redact patterns: what is masked and what is kept, case by case") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"GET /api?token=abc123&page=2", "GET /api?token=[REDACTED]&page=2"},
      {"{\\\"password\\\": \\\"pa55\\\"}", "{\\\"password\\\": \\\"[REDACTED]\\\"}"},
      {"export API_KEY=xyz789", "export API_KEY=[REDACTED]"},
      {"key AKIAIOSFODNN7EXAMPLE,", "key [REDACTED],"},
      {"not a key: AKIAIOSFODNN7EXAMPL", "not a key: AKIAIOSFODNN7EXAMPL"},
      {"authorization: Bearer abcdefgh12", "authorization: [REDACTED] [REDACTED]"},
      {"https://user:pw123@example.com/x", "https://user:[REDACTED]@example.com/x"},
      {"https://example.com/a:b@c", "https://example.com/a:b@c"},
      {"-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n-----END OPENSSH PRIVATE KEY----- after",
       "[REDACTED] after"},
      {"-----BEGIN PUBLIC KEY-----\\nAAAA", "-----BEGIN PUBLIC KEY-----\\nAAAA"},
      {"tokenizer ran fine", "tokenizer ran fine"},
      {"expected 200, got 401", "expected 200, got 401"},
  };
  Engine e(R"({"plugins":{"redact":{}}})");
  std::string seen;
  uint64_t id = 0;
  REQUIRE(e.engine->add_plugin("observer", std::make_unique<Observer>(&seen), &id).message() == "");
  push_ok(e, R"({"type":"run.start","run":"r1"})");
  push_ok(e, R"({"type":"test.start","run":"r1","id":"t","name":"t"})");
  for (const Case& c : cases) {
    seen.clear();
    push_ok(e, fmt::format(R"({{"type":"test.log","run":"r1","id":"t","message":"{}"}})", c.in));
    INFO(c.in);
    CHECK(seen.find(fmt::format(R"("message":"{}")", c.out)) != std::string::npos);
  }
}
