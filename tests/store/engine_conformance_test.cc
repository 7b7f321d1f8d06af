// The engine on the store under test, through the C ABI only, as a host
// drives it: a run's lifecycle and its summary, a queue-mode run claimed to
// completion, exactly-once delivery (a resent message is a duplicate, also
// after a reopen), and a queue recovered by closing and reopening the engine.
// Every store must give the same answers.
#include <catch2/catch.hpp>

#include <baton/baton.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "store/backend.h"

using namespace baton::testing;

namespace {

// One engine opened through the C ABI, with a session per client.
class CEngine {
 public:
  explicit CEngine(const std::string& options) {
    int rc = baton_open(options.c_str(), &engine_);
    if (rc != BATON_OK) FAIL("baton_open(" << options << "): " << baton_last_error());
  }
  ~CEngine() { close(); }
  CEngine(const CEngine&) = delete;
  CEngine& operator=(const CEngine&) = delete;

  void close_sessions() {
    for (auto& [client, session] : sessions_) baton_session_close(session);
    sessions_.clear();
  }
  // Closes every session, then the engine; the status of baton_close.
  int close() {
    close_sessions();
    int rc = engine_ ? baton_close(engine_) : BATON_OK;
    engine_ = nullptr;
    return rc;
  }
  std::string push(const std::string& client, const std::string& msg, int* status = nullptr) {
    char* reply = nullptr;
    size_t len = 0;
    int rc = baton_push(session(client), msg.data(), msg.size(), &reply, &len);
    std::string out(reply ? reply : "", len);
    baton_free(reply);
    if (status) *status = rc;
    return out;
  }
  // Pushes and requires BATON_OK.
  std::string accept(const std::string& client, const std::string& msg) {
    int rc = 0;
    std::string reply = push(client, msg, &rc);
    INFO(msg << " -> " << reply);
    REQUIRE(rc == BATON_OK);
    return reply;
  }
  std::string query(const std::string& request) {
    char* out = nullptr;
    size_t len = 0;
    int rc = baton_query(engine_, request.c_str(), &out, &len);
    std::string answer(out ? out : "", len);
    baton_free(out);
    INFO(request << ": " << baton_last_error());
    REQUIRE(rc == BATON_OK);
    return answer;
  }
  void clock(int64_t ms) { REQUIRE(baton_clock_set(engine_, ms) == BATON_OK); }

 private:
  baton_session* session(const std::string& client) {
    baton_session*& s = sessions_[client];
    if (s == nullptr) {
      std::string credentials = fmt::format(R"({{"client":"{}"}})", client);
      REQUIRE(baton_session_open(engine_, credentials.c_str(), &s) == BATON_OK);
    }
    return s;
  }

  baton_engine* engine_ = nullptr;
  std::map<std::string, baton_session*> sessions_;
};

// A parsed JSON answer that stays valid while the object lives.
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  explicit Json(const std::string& text) {
    if (parser.parse(text).get(root)) FAIL("not JSON: " << text);
  }
  int64_t integer(std::string_view pointer) {
    int64_t v = -1;
    if (root.at_pointer(pointer).get(v)) FAIL(pointer << " is not an integer in " << root);
    return v;
  }
  std::string text(std::string_view pointer) {
    std::string_view v;
    if (root.at_pointer(pointer).get(v)) FAIL(pointer << " is not a string in " << root);
    return std::string(v);
  }
  bool has(std::string_view pointer) { return root.at_pointer(pointer).error() == simdjson::SUCCESS; }
};

struct Grant {
  std::string spec;
  std::string lease;
  int64_t attempt = 0;
};

// A claim's reply: the granted spec, or none (done, or wait).
std::vector<Grant> granted(const std::string& reply) {
  Json j(reply);
  std::vector<Grant> out;
  auto read = [&](simdjson::dom::element e) {
    Grant g;
    std::string_view s;
    if (!e["id"].get(s)) g.spec = std::string(s);
    if (!e["lease"].get(s)) g.lease = std::string(s);
    if (e["attempt"].get(g.attempt)) g.attempt = 0;
    out.push_back(g);
  };
  simdjson::dom::element one;
  if (!j.root["spec"].get(one)) read(one);
  simdjson::dom::array many;
  if (!j.root["specs"].get(many)) {
    for (auto e : many) read(e);
  }
  return out;
}

std::string plan(int specs) {
  std::string out = R"({"specs":[)";
  for (int i = 0; i < specs; ++i) {
    out += fmt::format(R"({}{{"id":"spec-{:02}","estimate_ms":{}}})", i ? "," : "", i,
                       1000 + (i * 37) % 500);
  }
  return out + "]}";
}

std::string spec_end(const std::string& run, const Grant& g, const char* status) {
  return fmt::format(
      R"({{"type":"spec.end","run":"{}","spec":"{}","lease":"{}","status":"{}","duration_ms":100}})",
      run, g.spec, g.lease, status);
}

// Claims and ends specs with `workers` workers in turn until every claim says
// done; the first attempt of each spec in `fail_once` fails. Returns the
// number of spec.end messages sent.
int drain(CEngine& e, const std::string& run, int workers, const std::vector<std::string>& fail_once,
          int64_t* now) {
  int ends = 0;
  for (int round = 0; round < 1000; ++round) {
    bool all_done = true;
    for (int w = 0; w < workers; ++w) {
      std::string worker = fmt::format("w{}", w);
      std::string reply =
          e.accept(worker, fmt::format(R"({{"type":"queue.claim","run":"{}"}})", run));
      if (Json(reply).has("/done")) continue;
      all_done = false;
      for (const Grant& g : granted(reply)) {
        bool fail = g.attempt == 1 &&
                    std::find(fail_once.begin(), fail_once.end(), g.spec) != fail_once.end();
        e.accept(worker, spec_end(run, g, fail ? "failed" : "passed"));
        ++ends;
      }
      *now += 50;
      e.clock(*now);
    }
    if (all_done) return ends;
  }
  FAIL("the queue of " << run << " never drained");
  return ends;
}

}  // namespace

TEST_CASE("a run's lifecycle gives the same summary on every store") {
  auto db = new_test_database("engine-lifecycle");
  CEngine e(db->engine_options(R"("clock":"manual")"));
  e.clock(1000);
  const char* msgs[] = {
      R"({"type":"run.start","run":"r1","name":"nightly","build":"4711","platform":"linux"})",
      R"({"type":"suite.start","run":"r1","id":"s1","name":"src/a.spec.ts"})",
      R"({"type":"test.start","run":"r1","id":"t1","suite":"s1","name":"adds"})",
      R"({"type":"test.end","run":"r1","id":"t1","status":"passed","duration_ms":12})",
      R"({"type":"test.start","run":"r1","id":"t2","suite":"s1","name":"flakes","attempt":1})",
      R"({"type":"test.end","run":"r1","id":"t2","status":"failed","attempt":1,"error":{"message":"boom"}})",
      R"({"type":"test.start","run":"r1","id":"t2","suite":"s1","name":"flakes","attempt":2})",
      R"({"type":"test.end","run":"r1","id":"t2","status":"passed","attempt":2})",
      R"({"type":"test.start","run":"r1","id":"t3","suite":"s1","name":"skips"})",
      R"({"type":"test.end","run":"r1","id":"t3","status":"skipped"})",
      R"({"type":"test.start","run":"r1","id":"t4","suite":"s1","name":"fails"})",
      R"({"type":"test.end","run":"r1","id":"t4","status":"failed","error":{"message":"expected 1 to equal 2"}})",
      R"({"type":"suite.end","run":"r1","id":"s1"})",
  };
  for (const char* m : msgs) e.accept("ci-1", m);
  {
    Json running(e.query(R"({"op":"run","run":"r1"})"));
    CHECK(running.text("/status") == "running");
    CHECK(running.integer("/counts/tests") == 4);
  }
  e.clock(5000);
  e.accept("ci-1", R"({"type":"run.end","run":"r1"})");

  Json s(e.query(R"({"op":"run","run":"r1"})"));
  CHECK(s.text("/run") == "r1");
  CHECK(s.text("/name") == "nightly");
  CHECK(s.text("/status") == "failed");
  CHECK(s.integer("/counts/tests") == 4);
  CHECK(s.integer("/counts/passed") == 2);
  CHECK(s.integer("/counts/failed") == 1);
  CHECK(s.integer("/counts/skipped") == 1);
  CHECK(s.integer("/counts/flaky") == 1);
  CHECK(s.integer("/counts/running") == 0);
  CHECK(s.integer("/started_at") == 1000);
  CHECK(s.integer("/ended_at") == 5000);

  Json tests(e.query(R"({"op":"tests","run":"r1","status":"failed"})"));
  CHECK(tests.text("/tests/0/id") == "t4");
  CHECK_FALSE(tests.has("/tests/1"));
  Json runs(e.query(R"({"op":"runs"})"));
  CHECK(runs.text("/runs/0/run") == "r1");
  REQUIRE(e.close() == BATON_OK);

  // A finished run answers the same from the store alone.
  CEngine again(db->engine_options(R"("clock":"manual")"));
  Json stored(again.query(R"({"op":"run","run":"r1"})"));
  CHECK(stored.text("/status") == "failed");
  CHECK(stored.integer("/counts/flaky") == 1);
  CHECK(stored.integer("/ended_at") == 5000);
}

TEST_CASE("a queue-mode run is claimed to completion on every store") {
  auto db = new_test_database("engine-queue");
  CEngine e(db->engine_options(R"("clock":"manual")"));
  int64_t now = 1000;
  e.clock(now);
  constexpr int kSpecs = 30;
  e.accept("w0", fmt::format(R"({{"type":"run.start","run":"q1","name":"main","plan":{},)"
                             R"("config":{{"retries":1,"lease_ms":60000}}}})",
                             plan(kSpecs)));
  // Every worker joins with the same run.start.
  std::string join = e.accept("w1", fmt::format(R"({{"type":"run.start","run":"q1","plan":{}}})",
                                                plan(kSpecs)));
  CHECK(Json(join).has("/joined"));

  int ends = drain(e, "q1", 3, {"spec-07", "spec-21"}, &now);
  CHECK(ends == kSpecs + 2);

  Json s(e.query(R"({"op":"run","run":"q1"})"));
  CHECK(s.text("/status") == "passed");
  CHECK(s.integer("/specs/total") == kSpecs);
  CHECK(s.integer("/specs/done") == kSpecs);
  CHECK(s.integer("/specs/queued") == 0);
  CHECK(s.integer("/specs/leased") == 0);

  Json q(e.query(R"({"op":"queue","run":"q1"})"));
  int specs = 0;
  simdjson::dom::array queue;
  REQUIRE(q.root["queue"].get(queue) == simdjson::SUCCESS);
  for (auto spec : queue) {
    ++specs;
    std::string_view id, state, status;
    int64_t attempts = 0;
    REQUIRE(spec["id"].get(id) == simdjson::SUCCESS);
    REQUIRE(spec["state"].get(state) == simdjson::SUCCESS);
    REQUIRE(spec["status"].get(status) == simdjson::SUCCESS);
    REQUIRE(spec["attempts"].get(attempts) == simdjson::SUCCESS);
    INFO(id);
    CHECK(state == "done");
    CHECK(status == "passed");
    CHECK(attempts == (id == "spec-07" || id == "spec-21" ? 2 : 1));
  }
  CHECK(specs == kSpecs);
  // Claims after the end: done.
  CHECK(Json(e.accept("w2", R"({"type":"queue.claim","run":"q1"})")).has("/done"));
}

TEST_CASE("a resent message is a duplicate, also after a reopen, on every store") {
  auto db = new_test_database("engine-exactly-once");
  const std::string options = db->engine_options(R"("clock":"manual")");
  auto msg = [](int seq, const std::string& body) {
    return fmt::format(R"({{"client":"ci-1","seq":{},{}}})", seq, body);
  };
  const std::string start = msg(1, R"("type":"run.start","run":"r1","plan":{"specs":[{"id":"a"},{"id":"b"}]})");
  const std::string test_start = msg(2, R"("type":"test.start","run":"r1","id":"t1","name":"t1")");
  const std::string test_end = msg(3, R"("type":"test.end","run":"r1","id":"t1","status":"failed")");
  const std::string claim = msg(4, R"("type":"queue.claim","run":"r1")");
  std::string first_grant;
  {
    CEngine e(options);
    e.clock(1000);
    for (const std::string& m : {start, test_start, test_end}) {
      CHECK_FALSE(Json(e.accept("ci-1", m)).has("/dup"));
    }
    std::string granted_reply = e.accept("ci-1", claim);
    REQUIRE(granted(granted_reply).size() == 1);
    first_grant = granted(granted_reply)[0].lease;

    // Resent: acknowledged, applied once.
    Json dup(e.accept("ci-1", test_end));
    CHECK(dup.has("/dup"));
    // A resent claim answers with the lease it granted, not a new one.
    std::string dup_claim = e.accept("ci-1", claim);
    CHECK(Json(dup_claim).has("/dup"));
    std::vector<Grant> again = granted(dup_claim);
    REQUIRE(again.size() == 1);
    CHECK(again[0].lease == first_grant);
    Json s(e.query(R"({"op":"run","run":"r1"})"));
    CHECK(s.integer("/counts/failed") == 1);
    CHECK(s.integer("/specs/leased") == 1);
    REQUIRE(e.close() == BATON_OK);
  }
  CEngine e(options);
  e.clock(2000);
  for (const std::string& m : {start, test_start, test_end, claim}) {
    INFO(m);
    CHECK(Json(e.accept("ci-1", m)).has("/dup"));
  }
  // A message under an older seq than the client's mark is a duplicate too.
  CHECK(Json(e.accept("ci-1", msg(2, R"("type":"test.start","run":"r1","id":"t2","name":"t2")"))).has("/dup"));
  Json s(e.query(R"({"op":"run","run":"r1"})"));
  CHECK(s.integer("/counts/tests") == 1);
  CHECK(s.integer("/counts/failed") == 1);
  CHECK(s.integer("/specs/leased") == 1);
  // The next seq is new.
  std::string next = e.accept("ci-1", msg(5, R"("type":"queue.claim","run":"r1")"));
  CHECK_FALSE(Json(next).has("/dup"));
  REQUIRE(granted(next).size() == 1);
  CHECK(Json(e.query(R"({"op":"run","run":"r1"})")).integer("/specs/leased") == 2);
}

TEST_CASE("closing and reopening the engine mid-run restores the queue, on every store") {
  auto db = new_test_database("engine-recovery");
  const std::string options = db->engine_options(R"("clock":"manual","session_grace_ms":1000)");
  constexpr int kSpecs = 20;
  int64_t now = 1000;
  std::string queue_before, summary_before;
  std::vector<Grant> held;  // leases the workers still hold at the reopen
  {
    CEngine e(options);
    e.clock(now);
    e.accept("w0", fmt::format(R"({{"type":"run.start","run":"q","name":"main","plan":{},)"
                               R"("config":{{"retries":1,"lease_ms":60000}}}})",
                               plan(kSpecs)));
    for (int i = 0; i < 6; ++i) {
      std::string worker = fmt::format("w{}", i % 2);
      std::vector<Grant> g = granted(
          e.accept(worker, R"({"type":"queue.claim","run":"q"})"));
      REQUIRE(g.size() == 1);
      e.accept(worker, spec_end("q", g[0], i == 2 ? "failed" : "passed"));  // one goes back
      now += 100;
      e.clock(now);
    }
    for (const char* worker : {"w0", "w1"}) {
      std::vector<Grant> g = granted(
          e.accept(worker, R"({"type":"queue.claim","run":"q","count":2})"));
      REQUIRE(g.size() == 2);
      held.insert(held.end(), g.begin(), g.end());
    }
    // Closing a session shortens its leases (to the grace period): that is
    // part of the state the reopen must restore.
    e.close_sessions();
    queue_before = e.query(R"({"op":"queue","run":"q"})");
    summary_before = e.query(R"({"op":"run","run":"q"})");
    Json s(summary_before);
    CHECK(s.integer("/specs/done") == 5);
    CHECK(s.integer("/specs/leased") == 4);
    REQUIRE(e.close() == BATON_OK);
  }
  CEngine e(options);
  e.clock(now);
  CHECK(e.query(R"({"op":"queue","run":"q"})") == queue_before);
  CHECK(e.query(R"({"op":"run","run":"q"})") == summary_before);

  // The workers end what they hold under their old leases, then drain the rest.
  for (size_t i = 0; i < held.size(); ++i) {
    e.accept(i < 2 ? "w0" : "w1", spec_end("q", held[i], "passed"));
  }
  drain(e, "q", 2, {}, &now);
  Json s(e.query(R"({"op":"run","run":"q"})"));
  CHECK(s.text("/status") == "passed");
  CHECK(s.integer("/specs/done") == kSpecs);
  REQUIRE(e.close() == BATON_OK);

  CEngine finished(options);
  CHECK(Json(finished.query(R"({"op":"run","run":"q"})")).text("/status") == "passed");
}
