// Test helpers: an engine with sessions, and a realistic generated stream.
#ifndef BATON_TESTS_CORE_HELPERS_H_
#define BATON_TESTS_CORE_HELPERS_H_

#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include <stdexcept>

#include <fmt/format.h>

#include "baton/orchestrator.h"

namespace baton::testing {

struct Engine {
  std::unique_ptr<Orchestrator> engine;
  std::map<std::string, std::unique_ptr<Session>> sessions;

  explicit Engine(const std::string& options = "{}") {
    EngineOptions o;
    Status s = EngineOptions::from_json(options, &o);
    if (!s) throw std::runtime_error("bad options: " + s.message());
    s = Orchestrator::open(o, &engine);
    if (!s) throw std::runtime_error("open: " + s.message());
  }
  Session* session(const std::string& client) {
    auto& slot = sessions[client];
    if (!slot) {
      Status s = engine->open_session(fmt::format("{{\"client\":\"{}\"}}", client), &slot);
      if (!s) throw std::runtime_error("session: " + s.message());
    }
    return slot.get();
  }
  // Pushes and returns the reply; `code` gets the status code.
  std::string push(const std::string& client, const std::string& msg, Code* code = nullptr) {
    std::string reply;
    Status s = engine->push(session(client), msg, &reply);
    if (code) *code = s.code();
    return reply;
  }
  std::string query(const std::string& req) {
    std::string out;
    Status s = engine->query(req, &out);
    if (!s) return "ERROR " + s.message();
    return out;
  }
  void close() {
    sessions.clear();
    engine->close();
  }
};

// A stream shaped like the real thing: suites of tests, ~10% failing, 5%
// skipped, failures retried once and half of those passing (flaky).
struct Stream {
  std::vector<std::pair<std::string, std::string>> messages;  // (client, json)
  std::string run = "run-gen";
};

inline Stream generate_stream(int tests, int workers, uint32_t seed = 42) {
  Stream st;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::map<std::string, int> seq;
  auto emit = [&](const std::string& w, std::string body) {
    int n = ++seq[w];
    body.pop_back();
    body += fmt::format(",\"client\":\"{}\",\"seq\":{}}}", w, n);
    st.messages.emplace_back(w, std::move(body));
  };
  emit("ci-0", fmt::format("{{\"type\":\"run.start\",\"run\":\"{}\",\"name\":\"main #1\","
                           "\"config\":{{\"retries\":1}}}}",
                           st.run));
  int suites = std::max(1, tests / 50);
  for (int s = 0; s < suites; ++s) {
    std::string w = fmt::format("ci-{}", s % workers);
    std::string sid = fmt::format("suite-{}", s);
    emit(w, fmt::format("{{\"type\":\"suite.start\",\"run\":\"{}\",\"id\":\"{}\",\"name\":\"src/"
                        "m{}.spec.ts\"}}",
                        st.run, sid, s));
    for (int i = 0; i < tests / suites; ++i) {
      std::string tid = fmt::format("{}/test-{}", sid, i);
      emit(w, fmt::format("{{\"type\":\"test.start\",\"run\":\"{}\",\"id\":\"{}\",\"suite\":\"{}"
                          "\",\"name\":\"case {}\",\"attempt\":1}}",
                          st.run, tid, sid, i));
      double r = u(rng);
      const char* status = r < 0.10 ? "failed" : r < 0.15 ? "skipped" : "passed";
      emit(w, fmt::format("{{\"type\":\"test.end\",\"run\":\"{}\",\"id\":\"{}\",\"status\":\"{}\","
                          "\"attempt\":1,\"duration_ms\":{:.3f}{}}}",
                          st.run, tid, status, u(rng) * 80,
                          std::string(status) == "failed"
                              ? ",\"error\":{\"message\":\"expected 1 to equal 2\"}"
                              : ""));
      if (std::string(status) == "failed") {
        emit(w, fmt::format("{{\"type\":\"test.start\",\"run\":\"{}\",\"id\":\"{}\",\"name\":"
                            "\"case {}\",\"attempt\":2}}",
                            st.run, tid, i));
        const char* s2 = u(rng) < 0.5 ? "passed" : "failed";
        emit(w, fmt::format("{{\"type\":\"test.end\",\"run\":\"{}\",\"id\":\"{}\",\"status\":"
                            "\"{}\",\"attempt\":2,\"duration_ms\":12.5}}",
                            st.run, tid, s2));
      }
    }
    emit(w, fmt::format("{{\"type\":\"suite.end\",\"run\":\"{}\",\"id\":\"{}\"}}", st.run, sid));
  }
  emit("ci-0", fmt::format("{{\"type\":\"run.end\",\"run\":\"{}\"}}", st.run));
  return st;
}

// Counts computed from the stream itself, independently of the engine.
struct ExpectedCounts {
  int64_t tests = 0, passed = 0, failed = 0, skipped = 0, flaky = 0;
};

inline ExpectedCounts expected_counts(const Stream& st) {
  // Last test.end status per test id, and whether an earlier attempt failed.
  std::map<std::string, std::pair<std::string, bool>> last;
  for (const auto& message : st.messages) {
    const std::string& json = message.second;
    if (json.find("\"type\":\"test.end\"") == std::string::npos) continue;
    auto field = [&](const char* key) {
      std::string k = fmt::format("\"{}\":\"", key);
      size_t p = json.find(k) + k.size();
      return json.substr(p, json.find('"', p) - p);
    };
    auto& entry = last[field("id")];
    if (entry.first == "failed") entry.second = true;
    entry.first = field("status");
  }
  ExpectedCounts c;
  for (const auto& [id, e] : last) {
    ++c.tests;
    if (e.first == "passed") {
      ++c.passed;
      if (e.second) ++c.flaky;
    } else if (e.first == "failed") {
      ++c.failed;
    } else if (e.first == "skipped") {
      ++c.skipped;
    }
  }
  return c;
}

// The rows of each query, in order, as text ("NULL" for null, '|' after each
// value): two stores whose dumps are equal hold the same rows. An error is
// returned as the dump itself, so a comparison of dumps fails loudly.
inline std::string dump_rows(EventStore* store, std::initializer_list<const char*> queries) {
  std::string out;
  for (const char* q : queries) {
    out += q;
    out += '\n';
    Status s = store->read(q, {}, [&](const Row& r) {
      for (int c = 0; c < r.columns(); ++c) {
        out += r.is_null(c) ? std::string("NULL") : std::string(r.text(c));
        out += '|';
      }
      out += '\n';
      return true;
    });
    if (!s) return "dump failed: " + s.message();
  }
  return out;
}

// The files of a SQLite database of baton's, by suffix: the database, its WAL
// and shared memory, and the two files of the ack journal.
inline constexpr const char* kDbFileSuffixes[] = {"", "-wal", "-shm", "-ackj0", "-ackj1"};

inline void remove_db_files(const std::string& path) {
  for (const char* suffix : kDbFileSuffixes) std::remove((path + suffix).c_str());
}

inline std::string temp_db(const std::string& name) {
  std::string path = fmt::format("{}/{}-{}.db", BATON_BINARY_DIR, name, ::getpid());
  remove_db_files(path);
  return path;
}

// Another connection makes the database refuse the event rows that `when`
// (a condition on NEW) selects, as a full disk would, until allow_events().
inline sqlite3* refuse_events(const std::string& path, const std::string& when = "1") {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("refuse_events: open");
  // The engine's writer may hold the write lock for a moment.
  sqlite3_busy_timeout(db, 10000);
  std::string sql = fmt::format(
      "CREATE TRIGGER refuse_events BEFORE INSERT ON events WHEN {} "
      "BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
      when);
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::string error = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("refuse_events: " + error);
  }
  return db;
}

// The first column of the first row of `sql`, read through the store (-1
// when there is no row). A failed read throws, failing the test.
inline int64_t store_integer(EventStore* store, std::string_view sql,
                             std::initializer_list<Value> params = {}) {
  int64_t v = -1;
  Status s = store->read(sql, params, [&](const Row& r) {
    v = r.int64(0);
    return false;
  });
  if (!s) throw std::runtime_error(fmt::format("store_integer: {}: {}", sql, s.message()));
  return v;
}

// The integer the first row of `sql` holds, read on a connection of its own
// to the SQLite database `path` (":memory:": a fresh one), without baton.
inline int64_t sqlite_integer(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("sqlite_integer: open " + path);
  }
  // The engine's writer may hold the write lock for a moment.
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt* st = nullptr;
  int64_t v = 0;
  bool found = sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW;
  if (found) v = sqlite3_column_int64(st, 0);
  std::string error = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (!found) throw std::runtime_error(fmt::format("sqlite_integer: {}: {}", sql, error));
  return v;
}

inline void allow_events(sqlite3* db) {
  int rc = sqlite3_exec(db, "DROP TRIGGER refuse_events", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("allow_events: DROP TRIGGER failed");
}

}  // namespace baton::testing

#endif  // BATON_TESTS_CORE_HELPERS_H_
