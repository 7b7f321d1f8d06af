// The queue survives a restart: reopening mid-run gives the same queue
// (states, attempts, leases and their deadlines), the run goes on to
// completion, and the specs rows equal a rebuild from the log alone.
#include <catch2/catch.hpp>

#include "queue_helpers.h"

using namespace baton;
using namespace baton::testing;

namespace {

std::string dump_queue_tables(EventStore* store) {
  std::string out = dump_rows(
      store,
      {"SELECT run, name, status, started_at, ended_at, first_seq, last_seq, tests, passed, "
       "failed FROM runs ORDER BY run",
       "SELECT * FROM specs ORDER BY run, spec",
       "SELECT spec, platform, build_name, run, at, duration_ms, status FROM spec_history "
       "ORDER BY run, spec, at, status, duration_ms",
       "SELECT seq, run, type, client, received_at, payload FROM events ORDER BY seq"});
  REQUIRE(out.rfind("dump failed", 0) != 0);
  return out;
}

void close_sessions(QueueEngine& q) {
  for (auto& [client, session] : q.sessions) q.engine->close_session(session.get());
  q.sessions.clear();
}

}  // namespace

TEST_CASE("reopening mid-run restores the queue exactly, and the run goes on to completion") {
  std::string db = temp_db("queue-recover");
  const char* durability = GENERATE("normal", "full", "async");
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
  std::string options = fmt::format(
      R"({{"path":"{}","clock":"manual","session_grace_ms":1000,"durability":"{}"}})", db,
      durability);
  INFO(durability);
  std::vector<std::string> ids;
  std::vector<int64_t> estimates;
  for (int i = 0; i < 40; ++i) {
    ids.push_back(fmt::format("spec-{:02}", i));
    estimates.push_back(100 + (i * 37) % 400);
  }
  std::string before, summary_before;
  ClaimReply dying;
  {
    QueueEngine q(options);
    q.at(1000);
    REQUIRE(q.start("w1", "r", QueueEngine::plan(ids, estimates),
                    R"(,"name":"main","config":{"retries":1,"lease_ms":5000})") == Code::kOk);
    ClaimReply c = q.claim("w1", "r");
    REQUIRE(q.end("w1", "r", c.specs[0], "passed", 120) == Code::kOk);
    c = q.claim("w1", "r");
    REQUIRE(q.end("w1", "r", c.specs[0], "failed", 80) == Code::kOk);  // queued again
    ClaimReply batch = q.claim("w2", "r", R"(,"count":3,"platform":"linux")");
    REQUIRE(batch.specs.size() == 3);
    REQUIRE(q.end("w2", "r", batch.specs[0], "passed") == Code::kOk);
    dying = q.claim("w3", "r");
    REQUIRE(dying.specs.size() == 1);
    q.at(4000);
    q.push("w2", R"({"type":"worker.heartbeat"})");
    q.at(6001);  // w3's lease (until 6000) has expired
    ClaimReply w4 = q.claim("w4", "r", R"(,"count":2)");
    REQUIRE(w4.specs.size() == 2);
    CHECK(w4.specs[0].id == dying.id());  // the expired spec is back at its rank
    CHECK(w4.specs[0].attempt == 2);
    // Sessions close (w2 and w4 hold leases: logged with their grace).
    close_sessions(q);
    before = q.queue("r");
    summary_before = q.summary("r");
    CHECK(contains(summary_before, R"("specs":{"total":40,"queued":34,"leased":4,"done":2})"));
    q.close();
  }
  QueueEngine q(options);
  q.at(6001);
  CHECK(q.queue("r") == before);
  CHECK(q.summary("r") == summary_before);
  // A stale lease is still stale after the restart; a live one still ends.
  CHECK(q.end("w3", "r", dying.specs[0], "passed") == Code::kConflict);

  // The run goes on: fresh workers take everything, including the leases
  // whose holders never came back (after the grace).
  std::map<std::string, int> ended;
  for (int guard = 0; guard < 500; ++guard) {
    ClaimReply c = q.claim("w5", "r");
    REQUIRE(c.ok);
    if (c.done) break;
    if (c.wait_ms > 0) {
      q.at(q.engine->now_ms() + c.wait_ms);
      continue;
    }
    REQUIRE(q.end("w5", "r", c.specs[0], "passed", 10) == Code::kOk);
    ++ended[c.id()];
  }
  std::string s = q.summary("r");
  CHECK(contains(s, R"("status":"passed")"));
  CHECK(contains(s, R"("specs":{"total":40,"queued":0,"leased":0,"done":40})"));
  CHECK(ended.size() == 38);

  REQUIRE(q.engine->flush().is_ok());
  std::unique_ptr<EventStore> rebuilt;
  REQUIRE(open_sqlite_store(StoreOptions(), &rebuilt).is_ok());
  REQUIRE(rebuild_from_log(q.engine->store(), rebuilt.get()).is_ok());
  std::string live = dump_queue_tables(q.engine->store());
  CHECK(contains(live, "session.close"));
  CHECK(live == dump_queue_tables(rebuilt.get()));
}

TEST_CASE("a reopened engine keeps a run's expectations even when history changed since") {
  std::string db = temp_db("queue-order");
  std::string options = fmt::format(R"({{"path":"{}","clock":"manual"}})", db);
  {
    QueueEngine q(options);
    REQUIRE(q.start("w1", "h1", QueueEngine::plan({"a", "b"}), R"(,"name":"n")") == Code::kOk);
    ClaimReply c = q.claim("w1", "h1");
    REQUIRE(q.end("w1", "h1", c.specs[0], "passed", 10) == Code::kOk);
    c = q.claim("w1", "h1");
    REQUIRE(q.end("w1", "h1", c.specs[0], "passed", 900) == Code::kOk);  // b is long
    REQUIRE(q.start("w1", "h2", QueueEngine::plan({"a", "b"}), R"(,"name":"n")") == Code::kOk);
    // A third run records a different history before the restart.
    REQUIRE(q.start("w1", "h3", QueueEngine::plan({"a", "b"}), R"(,"name":"n")") == Code::kOk);
    for (int i = 0; i < 2; ++i) {
      c = q.claim("w1", "h3");
      REQUIRE(q.end("w1", "h3", c.specs[0], "passed", c.id() == "a" ? 5000 : 1) == Code::kOk);
    }
    q.close();
  }
  QueueEngine q(options);
  CHECK(q.claim("w1", "h2").id() == "b");
}
