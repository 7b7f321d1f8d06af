// The engine end to end through its C++ API: lifecycle, status rules,
// exactly-once, recovery, rebuild from the log, and every refusal code.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <unistd.h>

#include "helpers.h"

using namespace baton;
using namespace baton::testing;

namespace {

std::string summary(Engine& e, const std::string& run) {
  return e.query(fmt::format("{{\"op\":\"run\",\"run\":\"{}\"}}", run));
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every row of the derived tables, in key order, as text.
std::string dump_derived(EventStore* store) {
  std::string out = dump_rows(
      store,
      {"SELECT run, name, build, platform, status, started_at, ended_at, first_seq, last_seq, "
       "tests, passed, failed, skipped, timedout, interrupted, flaky, config FROM runs ORDER BY run",
       "SELECT * FROM suites ORDER BY run, suite",
       "SELECT * FROM attempts ORDER BY run, test, attempt",
       "SELECT * FROM clients ORDER BY client",
       "SELECT * FROM specs ORDER BY run, spec",
       "SELECT spec, platform, build_name, run, at, duration_ms, status FROM spec_history "
       "ORDER BY run, spec, at, status, duration_ms",
       "SELECT seq, run, type, client, client_seq, client_ts, received_at, payload FROM events "
       "ORDER BY seq"});
  REQUIRE(out.rfind("dump failed", 0) != 0);
  return out;
}

}  // namespace

TEST_CASE("a run's lifecycle gives the counts and statuses of EVENTS.md") {
  Engine e;
  Code code;
  e.push("w", R"({"type":"run.start","run":"r","name":"nightly"})", &code);
  REQUIRE(code == Code::kOk);
  e.push("w", R"({"type":"suite.start","run":"r","id":"s","name":"suite"})");
  for (const char* id : {"a", "b", "c", "d"}) {
    e.push("w", fmt::format(R"({{"type":"test.start","run":"r","id":"{}","name":"{}","suite":"s"}})", id, id), &code);
    REQUIRE(code == Code::kOk);
  }
  e.push("w", R"({"type":"test.end","run":"r","id":"a","status":"passed","duration_ms":5})");
  e.push("w", R"({"type":"test.end","run":"r","id":"b","status":"failed","error":{"message":"boom"}})");
  e.push("w", R"({"type":"test.end","run":"r","id":"c","status":"skipped"})");
  // b retried and passing: flaky, counted as passed.
  e.push("w", R"({"type":"test.start","run":"r","id":"b","name":"b","suite":"s","attempt":2})", &code);
  REQUIRE(code == Code::kOk);
  std::string mid = summary(e, "r");
  CHECK(has(mid, R"("running":2)"));
  e.push("w", R"({"type":"test.end","run":"r","id":"b","status":"passed","attempt":2})", &code);
  REQUIRE(code == Code::kOk);
  // d still running when the run ends: interrupted.
  e.push("w", R"({"type":"run.end","run":"r"})", &code);
  REQUIRE(code == Code::kOk);
  std::string s = summary(e, "r");
  CHECK(has(s, R"("tests":4,"passed":2,"failed":0,"skipped":1,"timedout":0,"interrupted":1,"flaky":1,"running":0)"));
  CHECK(has(s, R"("status":"failed")"));  // an interrupted test fails the run
  CHECK(has(s, R"("ended_at":)"));
  std::string tests = e.query(R"({"op":"tests","run":"r"})");
  CHECK(has(tests, R"("id":"b","name":"b","suite":"s","status":"passed","attempts":2,"flaky":true)"));
  CHECK(has(tests, R"("id":"d")"));
  CHECK(has(tests, R"("status":"interrupted")"));
}

TEST_CASE("a run whose tests all pass or skip passes; run.end may set the status") {
  Engine e;
  e.push("w", R"({"type":"run.start","run":"ok"})");
  e.push("w", R"({"type":"test.end","run":"ok","id":"x","status":"skipped"})");
  e.push("w", R"({"type":"run.end","run":"ok"})");
  CHECK(has(summary(e, "ok"), R"("status":"passed")"));
  e.push("w", R"({"type":"run.start","run":"c"})");
  e.push("w", R"({"type":"run.end","run":"c","status":"cancelled"})");
  CHECK(has(summary(e, "c"), R"("status":"cancelled")"));
  e.push("w", R"({"type":"run.start","run":"k"})");
  e.push("w", R"({"type":"run.cancel","run":"k","reason":"user"})");
  CHECK(has(summary(e, "k"), R"("status":"cancelled")"));
}

TEST_CASE("messages that the state does not allow are conflicts that change nothing") {
  Engine e;
  Code code;
  std::string r = e.push("w", R"({"type":"test.start","run":"ghost","id":"t","name":"t"})", &code);
  CHECK(code == Code::kConflict);
  CHECK(has(r, R"("code":"conflict")"));
  CHECK(has(r, "unknown"));
  e.push("w", R"({"type":"run.start","run":"r"})");
  e.push("w", R"({"type":"test.start","run":"r","id":"t","name":"t"})");
  e.push("w", R"({"type":"test.start","run":"r","id":"t","name":"t"})", &code);
  CHECK(code == Code::kConflict);
  e.push("w", R"({"type":"test.end","run":"r","id":"t","status":"passed","attempt":3})", &code);
  CHECK(code == Code::kConflict);
  e.push("w", R"({"type":"suite.end","run":"r","id":"never"})", &code);
  CHECK(code == Code::kConflict);
  e.push("w", R"({"type":"test.log","run":"r","id":"nobody","message":"hi"})", &code);
  CHECK(code == Code::kConflict);
  e.push("w", R"({"type":"test.log","run":"r","id":"t","message":"hi"})", &code);
  CHECK(code == Code::kOk);
  e.push("w", R"({"type":"run.end","run":"r"})");
  r = e.push("w", R"({"type":"test.end","run":"r","id":"t","status":"passed"})", &code);
  CHECK(code == Code::kConflict);
  CHECK(has(r, "finished"));
  e.push("w", R"({"type":"run.start","run":"r"})", &code);
  CHECK(code == Code::kConflict);
  CHECK(has(summary(e, "r"), R"("interrupted":1)"));
}

TEST_CASE("a generated stream gives counts that match the stream; a second push applies nothing") {
  std::string db = temp_db("stream");
  Stream st = generate_stream(20000, 4);
  ExpectedCounts want = expected_counts(st);
  std::string expect = fmt::format(
      R"("tests":{},"passed":{},"failed":{},"skipped":{},"timedout":0,"interrupted":0,"flaky":{},"running":0)",
      want.tests, want.passed, want.failed, want.skipped, want.flaky);
  {
    Engine e(fmt::format(R"({{"path":"{}"}})", db));
    for (const auto& [client, json] : st.messages) {
      Code code;
      std::string reply = e.push(client, json, &code);
      REQUIRE(code == Code::kOk);
      REQUIRE(!has(reply, "dup"));
    }
    std::string s = summary(e, st.run);
    CHECK(has(s, expect));
    CHECK(want.flaky > 0);
    CHECK(want.failed > 0);
    e.close();
  }
  {
    Engine e(fmt::format(R"({{"path":"{}"}})", db));
    std::string s = summary(e, st.run);
    CHECK(has(s, expect));
    int dups = 0;
    for (const auto& [client, json] : st.messages) {
      Code code;
      std::string reply = e.push(client, json, &code);
      REQUIRE(code == Code::kOk);
      if (has(reply, R"("dup":true)")) ++dups;
    }
    CHECK(dups == static_cast<int>(st.messages.size()));
    CHECK(has(summary(e, st.run), expect));
    std::string stats = e.query(R"({"op":"stats"})");
    CHECK(has(stats, fmt::format(R"("duplicates":{})", st.messages.size())));
  }
}

TEST_CASE("reopening restores unfinished runs, which then go on") {
  std::string db = temp_db("recover");
  for (const char* durability : {"normal", "full", "async"}) {
    remove_db_files(db);
    std::string options = fmt::format(R"({{"path":"{}","durability":"{}"}})", db, durability);
    {
      Engine e(options);
      e.push("w", R"({"type":"run.start","run":"r","seq":1})");
      e.push("w", R"({"type":"suite.start","run":"r","id":"s","name":"s","seq":2})");
      e.push("w", R"({"type":"test.start","run":"r","id":"t1","name":"t1","seq":3})");
      e.push("w", R"({"type":"test.end","run":"r","id":"t1","status":"failed","seq":4})");
      e.push("w", R"({"type":"test.start","run":"r","id":"t1","name":"t1","attempt":2,"seq":5})");
      e.close();
    }
    Engine e(options);
    std::string s = summary(e, "r");
    CHECK(has(s, R"("status":"running")"));
    CHECK(has(s, R"("tests":1,"passed":0,"failed":0,"skipped":0,"timedout":0,"interrupted":0,"flaky":0,"running":1)"));
    Code code;
    std::string reply =
        e.push("w", R"({"type":"test.end","run":"r","id":"t1","status":"passed","attempt":2,"seq":5})", &code);
    CHECK(has(reply, R"("dup":true)"));
    e.push("w", R"({"type":"test.end","run":"r","id":"t1","status":"passed","attempt":2,"seq":6})", &code);
    CHECK(code == Code::kOk);
    e.push("w", R"({"type":"run.end","run":"r","seq":7})", &code);
    CHECK(code == Code::kOk);
    s = summary(e, "r");
    CHECK(has(s, R"("passed":1)"));
    CHECK(has(s, R"("flaky":1)"));
    CHECK(has(s, R"("status":"passed")"));
  }
}

TEST_CASE("the derived tables equal a rebuild from the log alone") {
  std::string db = temp_db("rebuild");
  Stream st = generate_stream(3000, 3, 7);
  Engine e(fmt::format(R"({{"path":"{}"}})", db));
  // Leave one run unfinished and interleave a second one.
  e.push("x", R"({"type":"run.start","run":"other"})");
  for (size_t i = 0; i < st.messages.size(); ++i) {
    e.push(st.messages[i].first, st.messages[i].second);
    if (i == 100) e.push("x", R"({"type":"test.start","run":"other","id":"o1","name":"o1"})");
  }
  e.push("x", R"({"type":"test.end","run":"other","id":"o1","status":"timedout"})");
  // A queue-mode run: grants, a retry, a stale end, a completed run and one left open.
  for (const char* run : {"q1", "q2"}) {
    e.push("x", fmt::format(R"({{"type":"run.start","run":"{}","name":"q","plan":{{"specs":[{{"id":"a"}},{{"id":"b","estimate_ms":5}}]}},"config":{{"retries":1}}}})", run));
    for (int i = 0; i < 3; ++i) {
      std::string claim = e.push("x", fmt::format(R"({{"type":"queue.claim","run":"{}"}})", run));
      auto field = [&](const char* key) {
        std::string k = fmt::format("\"{}\":\"", key);
        size_t p = claim.find(k);
        if (p == std::string::npos) return std::string();
        p += k.size();
        return claim.substr(p, claim.find('"', p) - p);
      };
      if (field("id").empty()) break;
      e.push("x", fmt::format(R"({{"type":"spec.end","run":"{}","spec":"{}","lease":"{}","status":"{}","duration_ms":7}})",
                              run, field("id"), field("lease"), i == 0 ? "failed" : "passed"));
      if (std::string(run) == "q2") break;
    }
  }
  REQUIRE(e.engine->flush().is_ok());
  std::unique_ptr<EventStore> rebuilt;
  StoreOptions so;
  REQUIRE(open_sqlite_store(so, &rebuilt).is_ok());
  Status s = rebuild_from_log(e.engine->store(), rebuilt.get());
  REQUIRE(s.is_ok());
  std::string live = dump_derived(e.engine->store());
  std::string again = dump_derived(rebuilt.get());
  CHECK(live.size() > 10000);
  CHECK(has(live, "q1|a|done|"));
  CHECK(has(live, "q2|"));
  CHECK(live == again);
}

TEST_CASE("every refusal code is produced, with its reply") {
  // rate_limited and denied need access and rate-limit options.
  std::string token_digest = sha256_hex("s3cret-token");
  Engine e(fmt::format(
      R"({{"access":{{"tokens":[{{"sha256":"{}","roles":["reporter"],"runs":"ok-*"}}]}}}})",
      token_digest));
  std::unique_ptr<Session> bad;
  Status s = e.engine->open_session(R"({"client":"c","token":"wrong"})", &bad);
  CHECK(s.code() == Code::kDenied);
  CHECK(!has(s.message(), "wrong"));
  std::unique_ptr<Session> sess;
  REQUIRE(e.engine->open_session(R"({"client":"c","token":"s3cret-token"})", &sess).is_ok());
  std::string reply;
  CHECK(e.engine->push(sess.get(), "{", &reply).code() == Code::kParse);
  CHECK(has(reply, R"("ok":false,"code":"parse")"));
  CHECK(e.engine->push(sess.get(), R"({"type":"run.start"})", &reply).code() == Code::kInvalid);
  CHECK(has(reply, R"("code":"invalid")"));
  CHECK(has(reply, R"("field":"run")"));
  CHECK(e.engine->push(sess.get(), R"({"type":"run.start","run":"nope"})", &reply).code() ==
        Code::kDenied);
  CHECK(has(reply, R"("code":"denied")"));
  CHECK(e.engine->push(sess.get(), R"({"type":"run.start","run":"ok-1"})", &reply).is_ok());
  CHECK(e.engine->push(sess.get(), R"({"type":"test.end","run":"ok-9","id":"t","status":"passed"})", &reply).code() ==
        Code::kConflict);
  CHECK(has(reply, R"("code":"conflict")"));
  {
    Engine limited(R"({"rate_limit":{"per_client":{"events":1,"per_ms":60000,"burst":1}}})");
    Code code = Code::kOk;
    std::string r;
    for (int i = 0; i < 5 && code != Code::kRateLimited; ++i) {
      r = limited.push("w", fmt::format(R"({{"type":"run.start","run":"r{}"}})", i), &code);
    }
    CHECK(code == Code::kRateLimited);
    CHECK(has(r, R"("code":"rate_limited")"));
    CHECK(has(r, R"("retry_after_ms":)"));
    CHECK(has(limited.query(R"({"op":"stats"})"), R"("rate_limited":1)"));
  }
  // not_found and invalid_argument come from queries and options.
  std::string out;
  CHECK(e.engine->query(R"({"op":"run","run":"zzz"})", &out).code() == Code::kNotFound);
  CHECK(e.engine->query(R"({"op":"teleport"})", &out).code() == Code::kInvalidArgument);
  CHECK(e.engine->push(nullptr, "{}", &reply).code() == Code::kInvalidArgument);
  CHECK(has(reply, R"("code":"invalid_argument")"));
  // Refusals are counted and audited without tokens.
  CHECK(e.engine->query(R"({"op":"audit"})", &out).is_ok());
  CHECK(has(out, R"("code":"parse")"));
  CHECK(!has(out, "s3cret"));
  CHECK(!has(out, token_digest));
  CHECK(e.engine->query(R"({"op":"stats"})", &out).is_ok());
  CHECK(has(out, R"("denied":)"));
  CHECK(!has(out, token_digest));

  // rejected: a filter plugin says no.
  struct Rejecter : Plugin {
    bool has_filter() const override { return true; }
    bool has_observer() const override { return false; }
    Status filter(PluginEvent&) override { return Status::error(Code::kRejected, "no"); }
  };
  Engine f;
  uint64_t id;
  REQUIRE(f.engine->add_plugin("rejecter", std::make_unique<Rejecter>(), &id).is_ok());
  f.push("w", R"({"type":"run.start","run":"r"})");
  Code code;
  reply = f.push("w", R"({"type":"run.start","run":"r2"})", &code);
  CHECK(code == Code::kRejected);
  CHECK(has(reply, R"("code":"rejected")"));

  // closed: a session after close.
  std::unique_ptr<Session> late;
  REQUIRE(f.engine->open_session("{}", &late).is_ok());
  f.engine->close_session(late.get());
  CHECK(f.engine->push(late.get(), R"({"type":"run.start","run":"x"})", &reply).code() ==
        Code::kClosed);
  CHECK(has(reply, R"("code":"closed")"));
}

namespace {

// Starts run r's test t (seqs 1 and 2) and makes the database refuse its end.
sqlite3* start_test_then_refuse_end(Engine& e, const std::string& db) {
  e.push("w", R"({"type":"run.start","run":"r","seq":1})");
  e.push("w", R"({"type":"test.start","run":"r","id":"t","name":"t","seq":2})");
  return refuse_events(db, "NEW.type = 'test.end'");
}
constexpr const char* kTestEnd = R"({"type":"test.end","run":"r","id":"t","status":"passed","seq":3})";

}  // namespace

TEST_CASE("a failed commit refuses with storage, applies nothing, and the engine goes on") {
  // Without the ack journal each push waits for its own commit.
  std::string db = temp_db("storage");
  Engine e(fmt::format(R"({{"path":"{}","ack_journal":false}})", db));
  sqlite3* other = start_test_then_refuse_end(e, db);
  Code code;
  std::string reply = e.push("w", kTestEnd, &code);
  CHECK(code == Code::kStorage);
  CHECK(has(reply, R"("code":"storage")"));
  CHECK(has(reply, "disk says no"));
  // Nothing half-applied: the test is still running, seq 3 is not a dup.
  CHECK(has(summary(e, "r"), R"("running":1)"));
  allow_events(other);
  reply = e.push("w", kTestEnd, &code);
  CHECK(code == Code::kOk);
  CHECK(!has(reply, "dup"));
  CHECK(has(summary(e, "r"), R"("passed":1)"));
}

TEST_CASE("with the ack journal a failing table write keeps the acknowledged rows") {
  std::string db = temp_db("journal-storage");
  Engine e(fmt::format(R"({{"path":"{}","async_flush_ms":1}})", db));
  sqlite3* other = start_test_then_refuse_end(e, db);
  // Acknowledged once journaled; the tables refuse it, so queries say so.
  Code code;
  std::string reply = e.push("w", kTestEnd, &code);
  CHECK(code == Code::kOk);
  std::string answer;
  Status q = e.engine->query(R"({"op":"run","run":"r"})", &answer);
  CHECK(q.code() == Code::kStorage);
  CHECK(has(q.message(), "disk says no"));
  StoreStats st = e.engine->store()->stats();
  CHECK(st.journal_rows > 0);
  CHECK(st.deferred_commits > 0);
  // Once the tables take rows again, nothing acknowledged is missing.
  allow_events(other);
  CHECK(has(summary(e, "r"), R"("passed":1)"));
  reply = e.push("w", kTestEnd, &code);
  CHECK(has(reply, "dup"));
  CHECK(e.engine->store()->stats().journal_rows == 0);
}

TEST_CASE("a message larger than one VFS write is acknowledged in normal and kept") {
  // stdout, stderr and error of 60,000 bytes each: the journal record of
  // this one event passes the 128 KiB a single write of SQLite's unix VFS
  // takes.
  std::string db = temp_db("journal-big");
  const std::string big(60000, 'x');
  std::string end = fmt::format(
      R"({{"type":"test.end","run":"r","id":"t","status":"failed","seq":3,"stdout":"{}",)"
      R"("stderr":"{}","error":{{"message":"{}"}}}})",
      big, big, big);
  REQUIRE(end.size() > 180000);
  {
    Engine e(fmt::format(R"({{"path":"{}"}})", db));
    e.push("w", R"({"type":"run.start","run":"r","seq":1})");
    e.push("w", R"({"type":"test.start","run":"r","id":"t","name":"t","seq":2})");
    Code code;
    std::string reply = e.push("w", end, &code);
    INFO(reply);
    CHECK(code == Code::kOk);
  }
  Engine e(fmt::format(R"({{"path":"{}"}})", db));
  CHECK(has(summary(e, "r"), R"("failed":1)"));
  std::string logged =
      dump_rows(e.engine->store(), {"SELECT LENGTH(payload) FROM events WHERE type = 'test.end'"});
  CHECK(has(logged, fmt::format("\n{}|\n", end.size())));
}

TEST_CASE("options are checked and name the bad key") {
  EngineOptions o;
  Status s = EngineOptions::from_json(R"({"durability":"sometimes"})", &o);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(has(s.message(), "durability"));
  s = EngineOptions::from_json(R"({"limits":{"max_depth":"deep"}})", &o);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(has(s.message(), "max_depth"));
  s = EngineOptions::from_json(R"({"pathh":"x"})", &o);
  CHECK(has(s.message(), "pathh"));
  s = EngineOptions::from_json("[1]", &o);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(EngineOptions::from_json("", &o).is_ok());
}

TEST_CASE("replay streams stored events in order, filtered by run and type") {
  Engine e;
  e.push("w", R"({"type":"run.start","run":"a"})");
  e.push("w", R"({"type":"run.start","run":"b"})");
  e.push("w", R"({"type":"test.end","run":"a","id":"t","status":"passed"})");
  e.push("w", R"({"type":"run.end","run":"b"})");
  std::vector<int64_t> seqs;
  REQUIRE(e.engine->replay(R"({"run":"a"})", [&](const PluginEvent& ev) {
    seqs.push_back(ev.seq());
    return true;
  }).is_ok());
  CHECK(seqs == std::vector<int64_t>{1, 3});
  seqs.clear();
  REQUIRE(e.engine->replay(R"({"types":["run.end","run.start"],"from_seq":2})", [&](const PluginEvent& ev) {
    seqs.push_back(ev.seq());
    return true;
  }).is_ok());
  CHECK(seqs == std::vector<int64_t>{2, 4});
  CHECK(e.engine->replay(R"({"colour":"red"})", [](const PluginEvent&) { return true; }).code() ==
        Code::kInvalidArgument);
}

TEST_CASE("pushing from inside a callback is refused; queries are allowed") {
  struct Reentrant : Plugin {
    Orchestrator* engine = nullptr;
    Session* session = nullptr;
    Code inner = Code::kOk;
    bool queried = false;
    Status observe(const PluginEvent&) override {
      std::string reply;
      inner = engine->push(session, R"({"type":"run.start","run":"again"})", &reply).code();
      std::string out;
      queried = engine->query(R"({"op":"stats"})", &out).is_ok();
      return Status::ok();
    }
  };
  Engine e;
  auto plugin = std::make_unique<Reentrant>();
  Reentrant* p = plugin.get();
  p->engine = e.engine.get();
  p->session = e.session("w");
  uint64_t id;
  REQUIRE(e.engine->add_plugin("reentrant", std::move(plugin), &id).is_ok());
  e.push("w", R"({"type":"run.start","run":"r"})");
  CHECK(p->inner == Code::kInvalidArgument);
  CHECK(p->queried);
}
