// Queue mode rules, each on the manual clock: ordering by history (LPT) and
// failed-first, leases and their expiry, heartbeats, retries on another
// worker, auto-cancel, run.cancel, completion, run timeout and session grace.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "queue_helpers.h"

using namespace baton;
using namespace baton::testing;

namespace {

// Runs every spec of `run` on one worker, in claim order, with the given
// durations and statuses (default passed); returns the claim order.
std::vector<std::string> run_all(QueueEngine& q, const std::string& run,
                                 const std::map<std::string, double>& durations,
                                 const std::map<std::string, std::string>& statuses = {}) {
  std::vector<std::string> order;
  for (int guard = 0; guard < 1000; ++guard) {
    ClaimReply c = q.claim("w1", run);
    REQUIRE(c.ok);
    if (c.done) break;
    REQUIRE(c.specs.size() == 1);
    const Granted& g = c.specs[0];
    order.push_back(g.id);
    auto st = statuses.find(g.id);
    auto d = durations.find(g.id);
    REQUIRE(q.end("w1", run, g, st == statuses.end() ? "passed" : st->second,
                  d == durations.end() ? 1.0 : d->second) == Code::kOk);
  }
  return order;
}

}  // namespace

TEST_CASE("claims go longest expected first: history, else estimate, else the median") {
  QueueEngine q;
  std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
  REQUIRE(q.start("w1", "n1", QueueEngine::plan(ids), R"(,"name":"nightly")") == Code::kOk);
  // No history, no estimates: plan order.
  std::vector<std::string> first = run_all(q, "n1", {{"a", 100}, {"b", 500}, {"c", 300}, {"d", 50}, {"e", 1000}});
  CHECK(first == ids);
  CHECK(contains(q.summary("n1"), R"("status":"passed")"));

  // The next run of the build name orders by those durations. "f" is new with
  // an estimate; "g" is new without one and takes the median of the known.
  REQUIRE(q.start("w1", "n2", QueueEngine::plan({"a", "b", "c", "d", "e", "f", "g"}, {-1, -1, -1, -1, -1, 700, -1}),
                  R"(,"name":"nightly")") == Code::kOk);
  std::string queue = q.queue("n2");
  CHECK(contains(queue, R"("id":"g","state":"queued","attempts":0,"failures":0,"expected_ms":400)"));
  std::vector<std::string> second = run_all(q, "n2", {});
  // g gets 400, the median of 1000 700 500 300 100 50.
  CHECK(second == std::vector<std::string>{"e", "f", "b", "g", "c", "a", "d"});
}

TEST_CASE("history adapts: the median of the last three passed durations, per platform") {
  QueueEngine q;
  auto one_run = [&](const std::string& run, double a_ms, double b_ms, const char* platform) {
    REQUIRE(q.start("w1", run, QueueEngine::plan({"a", "b"}),
                    fmt::format(R"(,"name":"ci","platform":"{}")", platform)) == Code::kOk);
    return run_all(q, run, {{"a", a_ms}, {"b", b_ms}});
  };
  one_run("p1", 100, 200, "linux");
  CHECK(one_run("p2", 100, 200, "linux") == std::vector<std::string>{"b", "a"});
  // a became slow: after two slow runs the median follows.
  one_run("p3", 900, 200, "linux");
  CHECK(one_run("p4", 900, 200, "linux") == std::vector<std::string>{"b", "a"});
  CHECK(one_run("p5", 900, 200, "linux") == std::vector<std::string>{"a", "b"});
  // Another platform has its own history: on mac, b is the long one.
  one_run("m1", 10, 50, "mac");
  CHECK(one_run("m2", 10, 50, "mac") == std::vector<std::string>{"b", "a"});
  CHECK(one_run("p6", 900, 200, "linux") == std::vector<std::string>{"a", "b"});
}

TEST_CASE("specs that failed in the previous run of the build name go first, unless disabled") {
  QueueEngine q;
  std::vector<std::string> ids = {"long", "mid", "short"};
  REQUIRE(q.start("w1", "f1", QueueEngine::plan(ids, {3000, 2000, 1000}), R"(,"name":"main")") == Code::kOk);
  CHECK(run_all(q, "f1", {{"long", 3000}, {"mid", 2000}, {"short", 1000}}, {{"short", "failed"}}) == ids);
  CHECK(contains(q.summary("f1"), R"("status":"failed")"));
  REQUIRE(q.start("w1", "f2", QueueEngine::plan(ids), R"(,"name":"main")") == Code::kOk);
  CHECK(run_all(q, "f2", {{"long", 3000}, {"mid", 2000}, {"short", 1000}}) ==
        std::vector<std::string>{"short", "long", "mid"});
  // f2 passed everything: f3 is back to LPT. Make f3 fail "mid", then f4 opts out.
  REQUIRE(q.start("w1", "f3", QueueEngine::plan(ids), R"(,"name":"main")") == Code::kOk);
  CHECK(run_all(q, "f3", {{"long", 3000}, {"mid", 2000}, {"short", 1000}}, {{"mid", "failed"}}) == ids);
  REQUIRE(q.start("w1", "f4", QueueEngine::plan(ids), R"(,"name":"main","config":{"failed_first":false})") ==
          Code::kOk);
  CHECK(run_all(q, "f4", {}) == ids);
}

TEST_CASE("an expired lease puts the spec back; its late spec.end is a conflict but tests still record") {
  QueueEngine q;
  q.at(1000);
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b"}, {500, 100}), R"(,"config":{"lease_ms":1000})") == Code::kOk);
  ClaimReply c1 = q.claim("w1", "r");
  REQUIRE(c1.id() == "a");
  CHECK(c1.specs[0].attempt == 1);
  ClaimReply c2 = q.claim("w2", "r");
  REQUIRE(c2.id() == "b");
  ClaimReply wait = q.claim("w3", "r");
  CHECK(wait.wait_ms == 1000);
  q.at(1400);
  CHECK(q.claim("w3", "r").wait_ms == 600);
  CHECK(contains(q.summary("r"), R"("specs":{"total":2,"queued":0,"leased":2,"done":0})"));
  q.at(2000);  // both deadlines reached
  CHECK(contains(q.summary("r"), R"("specs":{"total":2,"queued":2,"leased":0,"done":0})"));
  ClaimReply again = q.claim("w3", "r");
  REQUIRE(again.id() == "a");
  CHECK(again.specs[0].attempt == 2);
  // w1's test results still count; its spec.end does not.
  Code code;
  q.push("w1", R"({"type":"test.start","run":"r","id":"t1","name":"t1","spec":"a"})", &code);
  CHECK(code == Code::kOk);
  q.push("w1", R"({"type":"test.end","run":"r","id":"t1","status":"passed"})", &code);
  CHECK(code == Code::kOk);
  std::string reply;
  CHECK(q.end("w1", "r", c1.specs[0], "passed", 10, &reply) == Code::kConflict);
  CHECK(contains(reply, "stale"));
  CHECK(contains(q.summary("r"), R"("tests":1,"passed":1)"));
  CHECK(q.end("w3", "r", again.specs[0], "passed") == Code::kOk);
  CHECK(contains(q.queue("r"), R"("id":"a","state":"done","attempts":2)"));
}

TEST_CASE("heartbeats and any other message of the holder extend its leases") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b"}, {500, 100}), R"(,"config":{"lease_ms":1000})") == Code::kOk);
  ClaimReply c = q.claim("w1", "r");
  REQUIRE(c.id() == "a");
  q.at(900);
  Code code;
  std::string hb = q.push("w1", R"({"type":"worker.heartbeat"})", &code);
  CHECK(code == Code::kOk);
  q.at(1800);
  // A test.start of the holder is as good as a heartbeat.
  q.push("w1", R"({"type":"test.start","run":"r","id":"t","name":"t"})", &code);
  CHECK(code == Code::kOk);
  q.at(2700);
  CHECK(q.claim("w2", "r").id() == "b");  // not a: its lease lives until 2800
  CHECK(contains(q.queue("r"), R"("lease_deadline":2800)"));
  CHECK(q.end("w1", "r", c.specs[0], "passed") == Code::kOk);
  // Only b is out, held by w2: wait.
  ClaimReply none = q.claim("w2", "r");
  CHECK(none.wait_ms > 0);
}

TEST_CASE("a failed spec is retried while attempts remain, on another worker; passing then is flaky") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b", "c"}, {300, 200, 100}), R"(,"config":{"retries":1})") ==
          Code::kOk);
  ClaimReply a1 = q.claim("w1", "r");
  REQUIRE(a1.id() == "a");
  std::string reply;
  REQUIRE(q.end("w1", "r", a1.specs[0], "failed", -1, &reply) == Code::kOk);
  CHECK(contains(reply, R"("requeued":true)"));
  // w1 failed a: it gets b although a is ahead in the queue.
  ClaimReply b = q.claim("w1", "r");
  CHECK(b.id() == "b");
  ClaimReply a2 = q.claim("w2", "r");
  REQUIRE(a2.id() == "a");
  CHECK(a2.specs[0].attempt == 2);
  REQUIRE(q.end("w2", "r", a2.specs[0], "passed") == Code::kOk);
  CHECK(contains(q.queue("r"), R"("id":"a","state":"done","attempts":2,"failures":1,"worker":"w2","status":"passed","flaky":true)"));
  // c fails twice: no attempts left, finally failed.
  ClaimReply c1 = q.claim("w2", "r");
  REQUIRE(c1.id() == "c");
  REQUIRE(q.end("w2", "r", c1.specs[0], "failed") == Code::kOk);
  ClaimReply c2 = q.claim("w2", "r");  // only c is left: the same worker gets it
  REQUIRE(c2.id() == "c");
  REQUIRE(q.end("w2", "r", c2.specs[0], "failed") == Code::kOk);
  REQUIRE(q.end("w1", "r", b.specs[0], "passed", -1, &reply) == Code::kOk);
  CHECK(contains(reply, R"("run_status":"failed")"));
  std::string s = q.summary("r");
  CHECK(contains(s, R"("status":"failed")"));
  CHECK(contains(s, R"("specs":{"total":3,"queued":0,"leased":0,"done":3})"));
  CHECK(contains(q.queue("r"), R"("id":"c","state":"done","attempts":2,"failures":2,"worker":"w2","status":"failed")"));
}

TEST_CASE("max_failures cancels: claims answer done, running specs finish, the rest are skipped") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b", "c", "d", "e"}, {5, 4, 3, 2, 1}),
                  R"(,"config":{"max_failures":1})") == Code::kOk);
  ClaimReply a = q.claim("w1", "r");
  ClaimReply b = q.claim("w2", "r");
  REQUIRE(q.end("w1", "r", a.specs[0], "failed") == Code::kOk);
  CHECK(q.claim("w1", "r").done);
  CHECK(contains(q.summary("r"), R"("status":"running")"));
  CHECK(contains(q.queue("r"), R"("id":"c","state":"done","attempts":0,"failures":0,"status":"skipped")"));
  REQUIRE(q.end("w2", "r", b.specs[0], "passed") == Code::kOk);
  std::string s = q.summary("r");
  CHECK(contains(s, R"("status":"cancelled")"));
  CHECK(contains(s, R"("specs":{"total":5,"queued":0,"leased":0,"done":5})"));
  CHECK(q.claim("w2", "r").done);
}

TEST_CASE("a cancelled run whose last lease expires ends by itself") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b", "c"}, {3, 2, 1}),
                  R"(,"config":{"max_failures":1,"lease_ms":1000})") == Code::kOk);
  ClaimReply a = q.claim("w1", "r");
  q.claim("w2", "r");  // w2 dies holding b
  REQUIRE(q.end("w1", "r", a.specs[0], "failed") == Code::kOk);
  CHECK(contains(q.summary("r"), R"("status":"running")"));
  q.at(1000);
  std::string s = q.summary("r");
  CHECK(contains(s, R"("status":"cancelled")"));
  CHECK(contains(q.queue("r"), R"("id":"b","state":"done","attempts":1,"failures":0,"worker":"w2","status":"interrupted")"));
}

TEST_CASE("run.cancel ends the run at once: unclaimed specs skipped, leased ones interrupted") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b", "c"}, {3, 2, 1})) == Code::kOk);
  ClaimReply a = q.claim("w1", "r");
  Code code;
  q.push("w2", R"({"type":"run.cancel","run":"r","reason":"user"})", &code);
  REQUIRE(code == Code::kOk);
  CHECK(q.claim("w1", "r").done);
  CHECK(q.end("w1", "r", a.specs[0], "passed") == Code::kConflict);
  std::string queue = q.queue("r");
  CHECK(contains(queue, R"("status":"cancelled")"));
  CHECK(contains(queue, R"("id":"a","state":"done","attempts":1,"failures":0,"worker":"w1","status":"interrupted")"));
  CHECK(contains(queue, R"("id":"c","state":"done","attempts":0,"failures":0,"status":"skipped")"));
  CHECK(contains(q.summary("r"), R"("specs":{"total":3,"queued":0,"leased":0,"done":3})"));
}

TEST_CASE("the run completes by itself when every spec is done") {
  QueueEngine q;
  q.at(100);
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b"})) == Code::kOk);
  ClaimReply c = q.claim("w1", "r", R"(,"count":5)");
  REQUIRE(c.specs.size() == 2);
  CHECK(contains(c.raw, R"("specs":[{"id":"a")"));
  q.at(350);
  REQUIRE(q.end("w1", "r", c.specs[0], "passed") == Code::kOk);
  CHECK(contains(q.summary("r"), R"("specs":{"total":2,"queued":0,"leased":1,"done":1})"));
  REQUIRE(q.end("w1", "r", c.specs[1], "skipped") == Code::kOk);
  std::string s = q.summary("r");
  CHECK(contains(s, R"("status":"passed")"));
  CHECK(contains(s, R"("ended_at":350)"));
  CHECK(contains(s, R"("specs":{"total":2,"queued":0,"leased":0,"done":2})"));
  CHECK(q.claim("w1", "r").done);
  // Finished: the queue comes from the specs rows.
  std::string queue = q.queue("r");
  CHECK(contains(queue, R"("id":"a","state":"done","attempts":1,"failures":0,"worker":"w1","status":"passed")"));
  CHECK(contains(queue, R"("duration_ms":250)"));
}

TEST_CASE("run_timeout marks what is left interrupted, with no message arriving") {
  QueueEngine q;
  q.at(1000);
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b", "c"}), R"(,"config":{"run_timeout_ms":5000})") ==
          Code::kOk);
  ClaimReply a = q.claim("w1", "r");
  REQUIRE(q.end("w1", "r", a.specs[0], "passed") == Code::kOk);
  q.claim("w1", "r");
  q.at(5999);
  CHECK(contains(q.summary("r"), R"("status":"running")"));
  q.at(6000);
  std::string s = q.summary("r");
  CHECK(contains(s, R"("status":"interrupted")"));
  CHECK(contains(s, R"("specs":{"total":3,"queued":0,"leased":0,"done":3})"));
  std::string queue = q.queue("r");
  CHECK(contains(queue, R"("id":"b","state":"done","attempts":1,"failures":0,"worker":"w1","status":"interrupted")"));
  CHECK(contains(queue, R"("id":"c","state":"done","attempts":0,"failures":0,"status":"interrupted")"));
  // The timeout is in the log as the engine's own run.end.
  bool found = false;
  REQUIRE(q.engine->replay(R"({"run":"r","types":["run.end"]})", [&](const PluginEvent& ev) {
    found = contains(std::string(ev.json()), "run_timeout");
    return true;
  }).is_ok());
  CHECK(found);
}

TEST_CASE("with the system clock the ticker ends a timed-out run without any message") {
  Engine e;
  e.push("w1", R"({"type":"run.start","run":"r","plan":{"specs":[{"id":"a"}]},"config":{"run_timeout_ms":50}})");
  std::string s;
  for (int i = 0; i < 500; ++i) {  // up to 10 s on a loaded machine; usually 100 ms
    s = e.query(R"({"op":"run","run":"r"})");
    if (contains(s, R"("status":"interrupted")")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(contains(s, R"("status":"interrupted")"));
}

TEST_CASE("a closed session's leases survive the grace period; a reconnect keeps them") {
  QueueEngine q(R"({"clock":"manual","session_grace_ms":2000})");
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b", "c"}, {3, 2, 1})) == Code::kOk);
  ClaimReply a = q.claim("w1", "r");
  ClaimReply b = q.claim("w2", "r");
  REQUIRE(a.id() == "a");
  REQUIRE(b.id() == "b");
  q.at(100);
  q.engine->close_session(q.session("w1"));
  q.sessions.erase("w1");
  q.engine->close_session(q.session("w2"));
  q.sessions.erase("w2");
  q.at(1000);
  q.push("w2", R"({"type":"worker.heartbeat"})");  // w2 is back within the grace
  q.at(2099);
  CHECK(q.claim("w3", "r").id() == "c");
  CHECK(q.claim("w3", "r").wait_ms == 1);
  q.at(2100);
  ClaimReply again = q.claim("w3", "r");
  CHECK(again.id() == "a");
  CHECK(q.claim("w3", "r").wait_ms > 0);  // b lives on: w2 reconnected
  CHECK(q.end("w2", "r", b.specs[0], "passed") == Code::kOk);
}

TEST_CASE("workers of one run or one build join it; a different plan is a conflict") {
  QueueEngine q;
  std::string plan = QueueEngine::plan({"a", "b"});
  REQUIRE(q.start("w1", "r", plan, R"(,"build":"ci-77")") == Code::kOk);
  std::string reply;
  REQUIRE(q.start("w2", "r", QueueEngine::plan({"b", "a"}), "", &reply) == Code::kOk);
  CHECK(contains(reply, R"("joined":true)"));
  CHECK(q.start("w3", "r", QueueEngine::plan({"a", "c"}), "", &reply) == Code::kConflict);
  CHECK(contains(reply, R"("field":"plan")"));
  REQUIRE(q.start("w4", "other-id", plan, R"(,"build":"ci-77")", &reply) == Code::kOk);
  CHECK(contains(reply, R"("joined":true,"run":"r")"));
  CHECK(q.start("w5", "x", QueueEngine::plan({"z"}), R"(,"build":"ci-77")", &reply) == Code::kConflict);
  Code code;
  q.push("w1", R"({"type":"run.start","run":"plain"})", &code);
  q.push("w1", R"({"type":"queue.claim","run":"plain"})", &code);
  CHECK(code == Code::kConflict);
  q.push("w1", R"({"type":"queue.claim","run":"nowhere"})", &code);
  CHECK(code == Code::kConflict);
}

TEST_CASE("spec.end for an unknown spec, a wrong lease or a wrong attempt is a conflict") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a"})) == Code::kOk);
  ClaimReply a = q.claim("w1", "r");
  Granted wrong = a.specs[0];
  wrong.lease = "nope";
  CHECK(q.end("w1", "r", wrong, "passed") == Code::kConflict);
  Granted unknown = a.specs[0];
  unknown.id = "zz";
  CHECK(q.end("w1", "r", unknown, "passed") == Code::kConflict);
  Code code;
  q.push("w1", fmt::format(R"({{"type":"spec.end","run":"r","spec":"a","lease":"{}","status":"passed","attempt":3}})",
                           a.specs[0].lease),
         &code);
  CHECK(code == Code::kConflict);
  CHECK(q.end("w1", "r", a.specs[0], "passed") == Code::kOk);
  CHECK(q.end("w1", "r", a.specs[0], "passed") == Code::kConflict);
}

TEST_CASE("the first plan queues the specs even after a plain run.start") {
  QueueEngine q;
  Code code;
  q.push("ci", R"({"type":"run.start","run":"r","config":{"retries":1}})", &code);
  REQUIRE(code == Code::kOk);
  std::string reply;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a"}), R"(,"config":{"lease_ms":500})", &reply) == Code::kOk);
  CHECK(contains(reply, R"("joined":true)"));
  ClaimReply a = q.claim("w1", "r");
  REQUIRE(a.id() == "a");
  CHECK(contains(a.raw, R"("lease_ms":500)"));
  REQUIRE(q.end("w1", "r", a.specs[0], "failed") == Code::kOk);  // retries from the first start
  CHECK(q.claim("w1", "r").id() == "a");
}

TEST_CASE("clients may not send the fields the engine records its decisions in") {
  QueueEngine q(R"({"clock":"manual","limits":{"unknown_fields":"ignore"}})");
  std::string reply;
  CHECK(q.start("w1", "r", QueueEngine::plan({"a"}), R"(,"scheduled":{"expected_ms":[1]})", &reply) ==
        Code::kInvalid);
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a"}), R"(,"colour":"red")") == Code::kOk);
  Code code;
  reply = q.push("w1", R"({"type":"queue.claim","run":"r","granted":[{"spec":"a","lease":"x"}]})", &code);
  CHECK(code == Code::kInvalid);
  CHECK(contains(reply, "reserved"));
  CHECK(q.claim("w1", "r").id() == "a");
}

TEST_CASE("baton_replay streams the messages, not the engine's session records") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a"})) == Code::kOk);
  q.claim("w1", "r");
  q.engine->close_session(q.session("w1"));
  q.sessions.erase("w1");
  std::vector<std::string> types;
  REQUIRE(q.engine->replay("", [&](const PluginEvent& ev) {
    types.emplace_back(ev.type_name());
    return true;
  }).is_ok());
  CHECK(types == std::vector<std::string>{"run.start", "queue.claim"});
  // The stored claim carries its outcome.
  std::string claim;
  REQUIRE(q.engine->replay(R"({"types":["queue.claim"]})", [&](const PluginEvent& ev) {
    claim.assign(ev.json());
    return true;
  }).is_ok());
  CHECK(contains(claim, R"("granted":[{"spec":"a","attempt":1,"lease":)"));
}

TEST_CASE("a claim sent again under the same seq gets the spec it was granted") {
  QueueEngine q;
  REQUIRE(q.start("w1", "r", QueueEngine::plan({"a", "b", "c"}, {3, 2, 1})) == Code::kOk);
  ClaimReply first = q.claim("w1", "r", R"(,"client":"w1","seq":1)");
  REQUIRE(first.id() == "a");
  ClaimReply again = q.claim("w1", "r", R"(,"client":"w1","seq":1)");
  CHECK(contains(again.raw, R"("dup":true)"));
  REQUIRE(again.id() == "a");
  CHECK(again.specs[0].lease == first.specs[0].lease);
  ClaimReply batch = q.claim("w1", "r", R"(,"client":"w1","seq":2,"count":2)");
  REQUIRE(batch.specs.size() == 2);
  ClaimReply batch_again = q.claim("w1", "r", R"(,"client":"w1","seq":2,"count":2)");
  REQUIRE(batch_again.specs.size() == 2);
  CHECK(batch_again.specs[0].id == "b");
  CHECK(batch_again.specs[1].id == "c");
  CHECK(q.end("w1", "r", again.specs[0], "passed") == Code::kOk);
}
