// The EventStore contract (include/baton/store.h), the same cases for every
// store: queued writes made durable by commit, write groups that no commit
// splits, reads with bound parameters, execute, what a second write of the
// same key does for every statement, client high-water marks, a failed batch
// leaving nothing, the integrity check, reopening, refusing a newer schema,
// and the counters of stats().
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/helpers.h"
#include "store/backend.h"

using namespace baton;
using namespace baton::testing;

namespace {

// One database of the store under test with the store open on it.
struct StoreUnderTest {
  std::unique_ptr<TestDatabase> db;
  std::unique_ptr<EventStore> store;

  explicit StoreUnderTest(std::string_view label, Durability durability = Durability::kNormal)
      : db(new_test_database(label)) {
    open(durability);
  }
  ~StoreUnderTest() {
    if (store) store->close();
  }
  void open(Durability durability = Durability::kNormal) {
    StoreOptions options = db->store_options();
    options.durability = durability;
    Status s = db->open_store(options, &store);
    if (!s) FAIL("opening the " << db->store_name() << " store at " << db->describe() << ": " << s.message());
  }
  void reopen(Durability durability = Durability::kNormal) {
    REQUIRE(store->close());
    store.reset();
    open(durability);
  }
  // One integer: the first column of the first row of `sql`.
  int64_t count(std::string_view sql, std::initializer_list<Value> params = {}) {
    return store_integer(store.get(), sql, params);
  }
  std::string dump(std::initializer_list<const char*> queries) {
    std::string out = dump_rows(store.get(), queries);
    REQUIRE(out.rfind("dump failed", 0) != 0);
    return out;
  }
  std::string dump_every_table();
};

void write_event(EventStore* store, int64_t seq, std::string_view run,
                 std::string_view type = "run.start", std::string_view client = "ci-1") {
  store->write(Stmt::kInsertEvent,
               {seq, Value::text_or_null(run), type, Value::text_or_null(client), seq, Value(),
                int64_t{1000} + seq, fmt::format(R"({{"type":"{}","run":"{}"}})", type, run)},
               seq);
}

void write_run(EventStore* store, std::string_view run, std::string_view status, int64_t tests,
               std::string_view config, int64_t seq) {
  store->write(Stmt::kUpsertRun,
               {run, "nightly", "4711", "linux", status, int64_t{1000}, Value(), seq, seq, tests,
                tests, int64_t{0}, int64_t{0}, int64_t{0}, int64_t{0}, int64_t{0},
                Value::text_or_null(config)},
               seq);
}

void write_suite(EventStore* store, std::string_view run, std::string_view suite, int64_t seq) {
  store->write(Stmt::kUpsertSuite,
               {run, suite, "a suite", Value(), "src/a.spec.ts", int64_t{1000}, Value()}, seq);
}

const char* const kEveryTable[] = {
    "SELECT seq, run, type, client, client_seq, client_ts, received_at, payload FROM events "
    "ORDER BY seq",
    "SELECT * FROM runs ORDER BY run",
    "SELECT * FROM suites ORDER BY run, suite",
    "SELECT * FROM attempts ORDER BY run, test, attempt",
    "SELECT * FROM clients ORDER BY client",
    "SELECT * FROM specs ORDER BY run, spec",
    "SELECT spec, platform, build_name, run, at, duration_ms, status FROM spec_history "
    "ORDER BY at, spec",
    "SELECT at, client, code, field, rule, detail FROM audit ORDER BY at, code",
};

std::string StoreUnderTest::dump_every_table() {
  std::string out;
  for (const char* q : kEveryTable) out += dump({q});
  return out;
}

// A row in every table, one event per statement.
void fill_every_table(EventStore* store, int64_t first_seq) {
  int64_t seq = first_seq;
  write_event(store, seq, "r1");
  write_run(store, "r1", "running", 2, R"({"retries":1})", seq);
  write_event(store, ++seq, "r1", "suite.start");
  write_suite(store, "r1", "s1", seq);
  write_event(store, ++seq, "r1", "test.end");
  store->write(Stmt::kUpsertAttempt,
               {"r1", "t1", int64_t{1}, "adds", "s1", "src/a.spec.ts", "src/a.spec.ts", "w1",
                "failed", int64_t{0}, int64_t{1001}, int64_t{1002}, 12.5, "expected 1 to equal 2",
                R"({"message":"expected 1 to equal 2"})", "out\n", "err\n", Value()},
               seq);
  store->write(Stmt::kUpsertClientSeq, {"ci-1", seq}, seq);
  write_event(store, ++seq, "r1", "queue.claim");
  store->write(Stmt::kUpsertSpec,
               {"r1", "src/a.spec.ts", "leased", int64_t{1}, "w1", "7.1", int64_t{61000}, Value(),
                4000.0, Value(), int64_t{0}},
               seq);
  write_event(store, ++seq, "r1", "spec.end");
  store->write(Stmt::kInsertSpecHistory,
               {"src/a.spec.ts", "linux", "nightly", "r1", int64_t{5000}, 3900.5, "passed"}, seq);
  store->write(Stmt::kInsertAudit,
               {int64_t{5001}, "ci-2", "denied", "run", "scope", "run outside the token's scope"},
               0);
}

}  // namespace

TEST_CASE("writes are queued until a commit makes them durable, in sequence order") {
  StoreUnderTest t("commit");
  EventStore* store = t.store.get();
  CHECK(store->durable_seq() == 0);
  CHECK(t.count("SELECT COUNT(*) FROM events") == 0);

  write_event(store, 1, "r1");
  write_run(store, "r1", "running", 0, "", 1);
  write_event(store, 2, "r1", "test.start");
  write_event(store, 3, "r1", "test.end");
  CHECK(store->stats().pending_rows == 4);
  CHECK(t.count("SELECT COUNT(*) FROM events") == 0);

  REQUIRE(store->commit(2));
  CHECK(store->durable_seq() >= 2);
  CHECK(t.count("SELECT COUNT(*) FROM events WHERE seq <= 2") == 2);
  CHECK(t.count("SELECT COUNT(*) FROM runs WHERE run = ?", {"r1"}) == 1);

  // Already durable: nothing to wait for.
  REQUIRE(store->commit(1));
  REQUIRE(store->commit(3));
  CHECK(store->durable_seq() == 3);
  CHECK(store->stats().pending_rows == 0);

  // Rows of no event (seq 0) go with the next commit, and flush commits them.
  store->write(Stmt::kInsertAudit, {int64_t{2000}, "ci-9", "invalid", "type", "enum", "bad type"}, 0);
  REQUIRE(store->flush());
  CHECK(t.count("SELECT COUNT(*) FROM audit") == 1);
  CHECK(store->durable_seq() == 3);
  REQUIRE(store->flush());  // nothing queued: still fine

  CHECK(t.dump({"SELECT seq, run, type, client, client_seq, received_at FROM events ORDER BY seq"}) ==
        "SELECT seq, run, type, client, client_seq, received_at FROM events ORDER BY seq\n"
        "1|r1|run.start|ci-1|1|1001|\n"
        "2|r1|test.start|ci-1|2|1002|\n"
        "3|r1|test.end|ci-1|3|1003|\n");
}

TEST_CASE("a commit from another thread makes this thread's writes durable too") {
  StoreUnderTest t("group-commit");
  EventStore* store = t.store.get();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::atomic<int64_t> next{1};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kPerThread; ++k) {
        int64_t seq;
        {
          WriteGroup group(store);
          seq = next++;
          write_event(store, seq, fmt::format("r{}", seq));
        }
        if (!store->commit(seq)) ++failures;
        if (store->durable_seq() < seq) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(store->durable_seq() == kThreads * kPerThread);
  CHECK(t.count("SELECT COUNT(*) FROM events") == kThreads * kPerThread);
  StoreStats stats = store->stats();
  CHECK(stats.commits >= 1);
  CHECK(stats.commits <= kThreads * kPerThread);
  CHECK(stats.rows_written == kThreads * kPerThread);
}

TEST_CASE("no commit splits a write group: an event and its rows land together") {
  StoreUnderTest t("groups");
  EventStore* store = t.store.get();
  constexpr int kWriters = 3;
  constexpr int kGroups = 150;
  constexpr int kRowsPerGroup = 6;
  std::atomic<int64_t> next{1};
  std::atomic<bool> writing{true};
  std::atomic<int> splits{0};
  std::string split_example;

  // Any moment's committed rows: every event's run has all its suites.
  auto check_whole = [&] {
    std::string broken;
    Status s = store->read(
        "SELECT e.run, COUNT(s.suite) FROM events e LEFT JOIN suites s ON s.run = e.run "
        "GROUP BY e.run HAVING COUNT(s.suite) != ?",
        {int64_t{kRowsPerGroup}}, [&](const Row& r) {
          broken = fmt::format("{} has {} of {} suites", r.text(0), r.int64(1), kRowsPerGroup);
          return false;
        });
    if (!s) broken = s.message();
    return broken;
  };
  std::thread committer([&] {
    while (writing) {
      store->flush();
      if (std::string b = check_whole(); !b.empty()) {
        if (splits++ == 0) split_example = b;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int g = 0; g < kGroups; ++g) {
        WriteGroup group(store);
        int64_t seq = next++;
        std::string run = fmt::format("g{}", seq);
        write_event(store, seq, run);
        for (int k = 0; k < kRowsPerGroup; ++k) {
          // Give a committer every chance to take half a group.
          if (rng() % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
          write_suite(store, run, fmt::format("s{}", k), seq);
        }
      }
    });
  }
  for (auto& th : writers) th.join();
  writing = false;
  committer.join();
  REQUIRE(store->flush());
  INFO(split_example);
  CHECK(splits == 0);
  CHECK(check_whole().empty());
  CHECK(t.count("SELECT COUNT(*) FROM suites") == kWriters * kGroups * kRowsPerGroup);
}

TEST_CASE("read binds every kind of value and returns each column's type") {
  StoreUnderTest t("read");
  EventStore* store = t.store.get();
  const std::string hostile = "it's \"quoted\"; DROP TABLE events; -- ünïcødé ✓";
  write_event(store, 1, hostile);
  write_event(store, 2, "plain");
  write_event(store, 3, "plain", "run.end", "");
  store->write(Stmt::kUpsertSpec,
               {"plain", "a", "queued", int64_t{0}, Value(), Value(), Value(), Value(), 1.25,
                Value(), int64_t{0}},
               3);
  store->write(Stmt::kUpsertSpec,
               {"plain", "b", "done", int64_t{2}, "w1", "3.1", int64_t{9007199254740993},
                "passed", 2.75, 812.5, int64_t{1}},
               3);
  REQUIRE(store->flush());

  SECTION("text with quotes and non-ASCII comes back byte for byte") {
    std::vector<std::string> got;
    REQUIRE(store->read("SELECT run FROM events WHERE run = ?", {hostile}, [&](const Row& r) {
      got.emplace_back(r.text(0));
      return true;
    }));
    CHECK(got == std::vector<std::string>{hostile});
    CHECK(t.count("SELECT COUNT(*) FROM events") == 3);
  }
  SECTION("integers, reals, nulls and text by column") {
    int rows = 0;
    REQUIRE(store->read("SELECT spec, attempts, lease_deadline, estimate_ms, duration_ms, worker "
                        "FROM specs WHERE run = ? AND estimate_ms > ? ORDER BY spec",
                        {"plain", 1.5}, [&](const Row& r) {
                          ++rows;
                          CHECK(r.columns() == 6);
                          CHECK(r.text(0) == "b");
                          CHECK(r.int64(1) == 2);
                          CHECK(r.int64(2) == int64_t{9007199254740993});
                          CHECK(r.real(3) == 2.75);
                          CHECK(r.real(4) == 812.5);
                          CHECK(r.text(5) == "w1");
                          CHECK_FALSE(r.is_null(4));
                          return true;
                        }));
    CHECK(rows == 1);
    REQUIRE(store->read("SELECT worker, lease_deadline, duration_ms FROM specs WHERE spec = ?",
                        {"a"}, [&](const Row& r) {
                          ++rows;
                          CHECK(r.is_null(0));
                          CHECK(r.is_null(1));
                          CHECK(r.is_null(2));
                          return true;
                        }));
    CHECK(rows == 2);
  }
  // A parameter whose type nothing around it implies needs a CAST: SQLite
  // would not mind, PostgreSQL (like standard SQL) refuses to guess.
  SECTION("an optional filter by a null parameter, LIMIT and OFFSET") {
    auto runs = [&](Value status, int64_t limit, int64_t offset) {
      std::string out;
      REQUIRE(store->read("SELECT seq FROM events WHERE (CAST(? AS TEXT) IS NULL OR type = ?) "
                          "ORDER BY seq LIMIT ? OFFSET ?",
                          {status, status, limit, offset}, [&](const Row& r) {
                            out += fmt::format("{} ", r.int64(0));
                            return true;
                          }));
      return out;
    };
    CHECK(runs(Value(), 10, 0) == "1 2 3 ");
    CHECK(runs(Value(), 1, 1) == "2 ");
    CHECK(runs("run.end", 10, 0) == "3 ");
    CHECK(runs("suite.end", 10, 0).empty());
    CHECK(t.count("SELECT COUNT(*) FROM events WHERE client IS NULL") == 1);
  }
  SECTION("returning false stops the read") {
    int calls = 0;
    REQUIRE(store->read("SELECT seq FROM events ORDER BY seq", {}, [&](const Row&) {
      ++calls;
      return false;
    }));
    CHECK(calls == 1);
  }
  SECTION("a bad statement is a storage error, and the store goes on") {
    Status s = store->read("SELECT no_such_column FROM events", {}, [](const Row&) { return true; });
    CHECK(s.code() == Code::kStorage);
    CHECK_FALSE(s.message().empty());
    write_event(store, 4, "after");
    REQUIRE(store->commit(4));
    CHECK(t.count("SELECT COUNT(*) FROM events") == 4);
  }
}

TEST_CASE("execute flushes what is queued first and reports the rows it changed") {
  StoreUnderTest t("execute");
  EventStore* store = t.store.get();
  write_event(store, 1, "old");
  write_run(store, "old", "passed", 3, "", 1);
  write_event(store, 2, "new");
  write_run(store, "new", "running", 0, "", 2);
  REQUIRE(store->commit(2));
  write_event(store, 3, "old", "run.end");  // queued, not committed

  int64_t changes = -1;
  REQUIRE(store->execute("DELETE FROM events WHERE run = ?", {"old"}, &changes));
  CHECK(changes == 2);
  CHECK(store->durable_seq() == 3);
  CHECK(t.count("SELECT COUNT(*) FROM events") == 1);
  REQUIRE(store->execute("UPDATE runs SET status = ? WHERE status = ?", {"cancelled", "running"},
                         &changes));
  CHECK(changes == 1);
  CHECK(t.count("SELECT COUNT(*) FROM runs WHERE status = 'cancelled'") == 1);
  REQUIRE(store->execute("DELETE FROM runs WHERE run = ?", {"nobody"}, &changes));
  CHECK(changes == 0);
  CHECK(store->execute("DELETE FROM no_such_table", {}, &changes).code() == Code::kStorage);
  // The store goes on after a failed statement.
  write_event(store, 4, "new", "run.end");
  REQUIRE(store->commit(4));
  CHECK(t.count("SELECT COUNT(*) FROM events") == 2);
}

TEST_CASE("a second write of the same key replaces the row, for every upsert") {
  StoreUnderTest t("upsert");
  EventStore* store = t.store.get();
  write_event(store, 1, "r1");
  write_run(store, "r1", "running", 1, R"({"retries":1})", 1);
  write_suite(store, "r1", "s1", 1);
  store->write(Stmt::kUpsertAttempt,
               {"r1", "t1", int64_t{1}, "adds", "s1", "a.ts", "a.ts", "w1", "running", int64_t{0},
                int64_t{1001}, Value(), Value(), Value(), Value(), Value(), Value(), Value()},
               1);
  store->write(Stmt::kUpsertSpec,
               {"r1", "a.ts", "leased", int64_t{1}, "w1", "1.1", int64_t{61000}, Value(), 100.0,
                Value(), int64_t{0}},
               1);
  REQUIRE(store->commit(1));  // the second writes land in a later batch

  write_event(store, 2, "r1", "run.end");
  write_run(store, "r1", "failed", 4, "", 2);  // config back to NULL
  store->write(Stmt::kUpsertSuite, {"r1", "s1", "renamed", "s0", Value(), int64_t{1000},
                                    int64_t{1500}}, 2);
  store->write(Stmt::kUpsertAttempt,
               {"r1", "t1", int64_t{1}, "adds", "s1", "a.ts", "a.ts", "w1", "failed", int64_t{1},
                int64_t{1001}, int64_t{1400}, 399.5, "boom", R"({"message":"boom"})", "o", "e",
                "[]"},
               2);
  store->write(Stmt::kUpsertSpec,
               {"r1", "a.ts", "done", int64_t{1}, Value(), Value(), Value(), "failed", 100.0, 399.5,
                int64_t{1}},
               2);
  // Within one batch, too: the last write wins.
  write_suite(store, "r1", "s2", 2);
  store->write(Stmt::kUpsertSuite, {"r1", "s2", "last", Value(), Value(), Value(), Value()}, 2);
  REQUIRE(store->commit(2));

  CHECK(t.dump({"SELECT run, status, tests, passed, last_seq, config FROM runs",
                "SELECT run, suite, name, parent, file, ended_at FROM suites ORDER BY suite",
                "SELECT status, flaky, ended_at, duration_ms, error_message, attachments FROM "
                "attempts",
                "SELECT state, worker, lease, lease_deadline, status, duration_ms, failures FROM "
                "specs"}) ==
        "SELECT run, status, tests, passed, last_seq, config FROM runs\n"
        "r1|failed|4|4|2|NULL|\n"
        "SELECT run, suite, name, parent, file, ended_at FROM suites ORDER BY suite\n"
        "r1|s1|renamed|s0|NULL|1500|\n"
        "r1|s2|last|NULL|NULL|NULL|\n"
        "SELECT status, flaky, ended_at, duration_ms, error_message, attachments FROM attempts\n"
        "failed|1|1400|399.5|boom|[]|\n"
        "SELECT state, worker, lease, lease_deadline, status, duration_ms, failures FROM specs\n"
        "done|NULL|NULL|NULL|failed|399.5|1|\n");

  SECTION("history and audit rows are appended, never replaced") {
    for (int i = 0; i < 2; ++i) {
      store->write(Stmt::kInsertSpecHistory,
                   {"a.ts", "linux", "nightly", "r1", int64_t{5000}, 10.0, "passed"}, 0);
      store->write(Stmt::kInsertAudit, {int64_t{5000}, "ci-1", "denied", Value(), Value(), Value()},
                   0);
    }
    REQUIRE(store->flush());
    CHECK(t.count("SELECT COUNT(*) FROM spec_history") == 2);
    CHECK(t.count("SELECT COUNT(*) FROM audit") == 2);
  }
}

TEST_CASE("client high-water marks only go up") {
  StoreUnderTest t("clients");
  EventStore* store = t.store.get();
  auto mark = [&](const char* client) {
    return t.count("SELECT seq FROM clients WHERE client = ?", {client});
  };
  store->write(Stmt::kUpsertClientSeq, {"ci-1", int64_t{5}}, 0);
  store->write(Stmt::kUpsertClientSeq, {"ci-2", int64_t{1}}, 0);
  REQUIRE(store->flush());
  CHECK(mark("ci-1") == 5);

  store->write(Stmt::kUpsertClientSeq, {"ci-1", int64_t{3}}, 0);  // an older mark
  REQUIRE(store->flush());
  CHECK(mark("ci-1") == 5);

  store->write(Stmt::kUpsertClientSeq, {"ci-1", int64_t{9}}, 0);
  store->write(Stmt::kUpsertClientSeq, {"ci-1", int64_t{7}}, 0);  // same batch, lower
  store->write(Stmt::kUpsertClientSeq, {"ci-2", int64_t{1700000000000}}, 0);
  REQUIRE(store->flush());
  CHECK(mark("ci-1") == 9);
  CHECK(mark("ci-2") == 1700000000000);
  CHECK(t.count("SELECT COUNT(*) FROM clients") == 2);

  t.reopen();
  CHECK(mark("ci-1") == 9);
}

TEST_CASE("a large batch writes each derived row once, with the last write of its key") {
  StoreUnderTest t("coalesce");
  EventStore* store = t.store.get();
  // Many events of a few clients and runs in one batch: 40 events, each with
  // its client's mark, and suite and spec rows written over and over.
  for (int64_t seq = 1; seq <= 40; ++seq) {
    std::string client = seq % 2 ? "ci-1" : "ci-10";  // "ci-1" is a prefix of "ci-10"
    write_event(store, seq, "r1");
    store->write(Stmt::kUpsertClientSeq, {client, seq}, seq);
    store->write(Stmt::kUpsertSuite,
                 {"r1", seq % 4 < 2 ? "s1" : "s", fmt::format("name-{}", seq), Value(), Value(),
                  seq, Value()},
                 seq);
    store->write(Stmt::kUpsertSpec,
                 {"r1", "a.ts", "leased", seq, "w1", "1.1", int64_t{61000}, Value(), 100.0,
                  Value(), int64_t{0}},
                 seq);
  }
  // A mark lower than one written before it in the batch is kept out.
  store->write(Stmt::kUpsertClientSeq, {"ci-1", int64_t{3}}, 40);
  // Keys differ by kind as well as by value: run "1" and suite 1 are not "1"/"1".
  store->write(Stmt::kUpsertSuite, {"r11", "x", "a", Value(), Value(), int64_t{1}, Value()}, 40);
  store->write(Stmt::kUpsertSuite, {"r1", "1x", "b", Value(), Value(), int64_t{1}, Value()}, 40);
  REQUIRE(store->commit(40));

  CHECK(t.dump({"SELECT client, seq FROM clients ORDER BY client",
                "SELECT run, suite, name, started_at FROM suites ORDER BY run, suite",
                "SELECT spec, attempts FROM specs"}) ==
        "SELECT client, seq FROM clients ORDER BY client\n"
        "ci-1|39|\n"
        "ci-10|40|\n"
        "SELECT run, suite, name, started_at FROM suites ORDER BY run, suite\n"
        "r1|1x|b|1|\n"
        "r1|s|name-39|39|\n"
        "r1|s1|name-40|40|\n"
        "r11|x|a|1|\n"
        "SELECT spec, attempts FROM specs\n"
        "a.ts|40|\n");
  CHECK(t.count("SELECT COUNT(*) FROM events") == 40);
  // 40 events, 2 marks, 4 suites, 1 spec.
  CHECK(store->stats().rows_written == 47);
}

TEST_CASE("a batch that fails leaves none of its rows, and the store goes on") {
  StoreUnderTest t("failed-batch");
  EventStore* store = t.store.get();
  write_event(store, 1, "r1");
  REQUIRE(store->commit(1));

  // Rows of a new event, then an event whose seq the log already holds.
  write_event(store, 2, "r2");
  write_run(store, "r2", "running", 0, "", 2);
  store->write(Stmt::kUpsertClientSeq, {"ci-1", int64_t{2}}, 2);
  write_event(store, 1, "duplicate");
  Status s = store->commit(2);
  CHECK(s.code() == Code::kStorage);
  CHECK(store->stats().failed_commits == 1);
  CHECK(t.count("SELECT COUNT(*) FROM events") == 1);
  CHECK(t.count("SELECT COUNT(*) FROM runs") == 0);
  CHECK(t.count("SELECT COUNT(*) FROM clients") == 0);

  write_event(store, 3, "r3");
  REQUIRE(store->commit(3));
  CHECK(t.count("SELECT COUNT(*) FROM events") == 2);
  CHECK(store->stats().failed_commits == 1);
}

TEST_CASE("the integrity check passes on a new store and on a filled one") {
  StoreUnderTest t("integrity");
  REQUIRE(t.store->check_integrity());
  fill_every_table(t.store.get(), 1);
  REQUIRE(t.store->flush());
  Status s = t.store->check_integrity();
  INFO(s.message());
  CHECK(s);
}

TEST_CASE("reopening keeps every row and the log's end") {
  const Durability durability =
      GENERATE(Durability::kNormal, Durability::kFull, Durability::kAsync);
  INFO("durability " << static_cast<int>(durability));
  StoreUnderTest t("reopen", durability);
  fill_every_table(t.store.get(), 1);
  REQUIRE(t.store->flush());
  std::string before = t.dump_every_table();
  t.reopen(durability);
  CHECK(t.dump_every_table() == before);
  CHECK(t.store->durable_seq() == 5);

  // The log goes on where it ended.
  write_event(t.store.get(), 6, "r1", "run.end");
  REQUIRE(t.store->commit(6));
  t.reopen(durability);
  CHECK(t.store->durable_seq() == 6);
  CHECK(t.count("SELECT COUNT(*) FROM events") == 6);
  CHECK(t.store->check_integrity());
}

TEST_CASE("async durability commits by itself within the interval (or acks only after commits)") {
  auto db = new_test_database("async");
  StoreOptions options = db->store_options();
  options.durability = Durability::kAsync;
  options.async_flush_ms = 20;
  std::unique_ptr<EventStore> store;
  REQUIRE(db->open_store(options, &store));
  write_event(store.get(), 1, "r1");
  if (store->durability() == Durability::kAsync) {
    // The engine acknowledges before any commit: the store must commit by itself.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (store->durable_seq() < 1 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(store->durable_seq() == 1);
    CHECK(store->stats().pending_rows == 0);
  } else {
    // A store may refuse to ack before a commit; then it says so, and the
    // engine commits every event before acknowledging it.
    CHECK(store->durability() == Durability::kNormal);
    REQUIRE(store->commit(1));
  }
  REQUIRE(store->close());
  store.reset();

  // An interval far away: only close() can commit these.
  options.async_flush_ms = 600000;
  REQUIRE(db->open_store(options, &store));
  write_event(store.get(), 2, "r1", "test.start");
  write_event(store.get(), 3, "r1", "test.end");
  CHECK(store->durable_seq() == 1);
  REQUIRE(store->close());
  store.reset();
  REQUIRE(db->open_store(db->store_options(), &store));
  CHECK(store->durable_seq() == 3);
  REQUIRE(store->close());
}

TEST_CASE("a database of a newer schema version is refused") {
  auto db = new_test_database("newer-schema");
  {
    std::unique_ptr<EventStore> store;
    REQUIRE(db->open_store(db->store_options(), &store));
    write_event(store.get(), 1, "r1");
    REQUIRE(store->close());
  }
  db->set_schema_version(kSchemaVersion + 1);
  std::unique_ptr<EventStore> store;
  Status s = db->open_store(db->store_options(), &store);
  CHECK(s.code() == Code::kStorage);
  CHECK_THAT(s.message(), Catch::Contains("newer"));
  CHECK_THAT(s.message(), Catch::Contains(std::to_string(kSchemaVersion + 1)));
  CHECK(store == nullptr);

  // The same version opens again.
  db->set_schema_version(kSchemaVersion);
  REQUIRE(db->open_store(db->store_options(), &store));
  CHECK(store->durable_seq() == 1);
  REQUIRE(store->close());
}

TEST_CASE("stats count commits, rows, failures, pending rows and the durable seq") {
  StoreUnderTest t("stats");
  EventStore* store = t.store.get();
  StoreStats before = store->stats();
  CHECK(before.commits == 0);
  CHECK(before.rows_written == 0);
  CHECK(before.failed_commits == 0);
  CHECK(before.pending_rows == 0);

  fill_every_table(store, 1);
  CHECK(store->stats().pending_rows == 12);
  REQUIRE(store->commit(5));
  StoreStats after = store->stats();
  CHECK(after.commits == 1);
  CHECK(after.rows_written == 12);
  CHECK(after.pending_rows == 0);
  CHECK(after.durable_seq == 5);
  CHECK(after.failed_commits == 0);

  write_event(store, 5, "duplicate");
  CHECK_FALSE(store->flush());
  CHECK(store->stats().failed_commits == 1);
  CHECK(store->stats().rows_written == 12);
}
