// Shared by the reliability tests: a deterministic message stream per client,
// and the checks every test ends with (integrity, exactly-once, rebuild
// equality). Each check returns an empty string when it holds and a
// description of the first violation otherwise, so that the crash harness
// (a plain program) and the Catch2 tests can both use them.
#ifndef BATON_TESTS_RELIABILITY_RELIABILITY_H_
#define BATON_TESTS_RELIABILITY_RELIABILITY_H_

#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "baton/orchestrator.h"

namespace baton::reliability {

// ---- The stream -----------------------------------------------------------
//
// Client k sends an endless sequence of runs, each the same shape: run.start,
// suite.start, tests (some failing and retried, some with logs), suite.end,
// run.end. The message with client seq s is a pure function of (k, s), so a
// client can resend any of them and a checker can recompute what was sent.

struct TemplateMessage {
  std::string type;
  std::string rest;  // the fields after "run", starting with a comma (or empty)
};

inline const std::vector<TemplateMessage>& run_template() {
  static const std::vector<TemplateMessage> tpl = [] {
    std::vector<TemplateMessage> t;
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int> pct(0, 99);
    t.push_back({"run.start", R"(,"name":"reliability","config":{"retries":1})"});
    t.push_back({"suite.start", R"(,"id":"s","name":"src/reliability.spec.ts")"});
    for (int i = 0; i < 24; ++i) {
      std::string id = fmt::format("s/t{}", i);
      t.push_back({"test.start",
                   fmt::format(R"(,"id":"{}","name":"case {}","suite":"s","attempt":1)", id, i)});
      int roll = pct(rng);
      if (roll < 20) {
        t.push_back({"test.log", fmt::format(R"(,"id":"{}","message":"step {} done","level":"info")",
                                             id, i)});
      }
      const char* status = roll < 12 ? "failed" : roll < 16 ? "skipped" : "passed";
      std::string extra = std::string(status) == "failed"
                              ? R"(,"error":{"message":"expected 1 to equal 2","stack":"at x in a.ts:1"})"
                              : "";
      t.push_back({"test.end", fmt::format(R"(,"id":"{}","status":"{}","attempt":1,"duration_ms":{}{})",
                                           id, status, 3 + i, extra)});
      if (std::string(status) == "failed") {
        t.push_back({"test.start", fmt::format(
                                       R"(,"id":"{}","name":"case {}","suite":"s","attempt":2)", id, i)});
        t.push_back({"test.end", fmt::format(R"(,"id":"{}","status":"{}","attempt":2,"duration_ms":7)",
                                             id, i % 2 ? "passed" : "failed")});
      }
    }
    t.push_back({"suite.end", R"(,"id":"s")"});
    t.push_back({"run.end", ""});
    return t;
  }();
  return tpl;
}

inline std::string client_name(int client) { return fmt::format("c{}", client); }

// The run that client seq `seq` (>= 1) of `client` belongs to; `prefix`
// separates the runs of different tests sharing a database.
inline std::string run_of(const std::string& prefix, int client, int64_t seq) {
  int64_t index = (seq - 1) / static_cast<int64_t>(run_template().size());
  return fmt::format("{}c{}-r{}", prefix, client, index);
}

inline std::string message(const std::string& prefix, int client, int64_t seq) {
  const auto& tpl = run_template();
  const TemplateMessage& m = tpl[static_cast<size_t>((seq - 1) % static_cast<int64_t>(tpl.size()))];
  return fmt::format(R"({{"type":"{}","run":"{}"{},"client":"c{}","seq":{}}})", m.type,
                     run_of(prefix, client, seq), m.rest, client, seq);
}

// ---- Checks ---------------------------------------------------------------

// Every row of the log and the derived tables, in key order, as text.
inline std::string dump_tables(EventStore* store, std::string* error) {
  std::string out;
  const char* queries[] = {
      "SELECT * FROM runs ORDER BY run",
      "SELECT * FROM suites ORDER BY run, suite",
      "SELECT * FROM attempts ORDER BY run, test, attempt",
      "SELECT * FROM clients ORDER BY client",
      "SELECT * FROM specs ORDER BY run, spec",
      ("SELECT seq, run, type, client, client_seq, client_ts, received_at, payload FROM events "
       "ORDER BY seq"),
  };
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
    if (!s) {
      *error = fmt::format("dump: {}", s.message());
      return {};
    }
  }
  return out;
}

// The first line where two dumps differ, with its neighbourhood.
inline std::string first_difference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  size_t line = a.rfind('\n', i == 0 ? 0 : i - 1);
  line = line == std::string::npos ? 0 : line + 1;
  return fmt::format("live:    {}\nrebuilt: {}", a.substr(line, 300), b.substr(line, 300));
}

// Rebuilds the log of `live` into a fresh in-memory store and compares every
// table. Empty when equal.
inline std::string check_rebuild(EventStore* live) {
  std::unique_ptr<EventStore> rebuilt;
  StoreOptions so;
  Status s = open_sqlite_store(so, &rebuilt);
  if (!s) return "open in-memory store: " + s.message();
  s = rebuild_from_log(live, rebuilt.get());
  if (!s) return "rebuild_from_log: " + s.message();
  std::string error;
  std::string a = dump_tables(live, &error);
  if (!error.empty()) return error;
  std::string b = dump_tables(rebuilt.get(), &error);
  if (!error.empty()) return error;
  if (a != b) return "derived tables differ from a rebuild of the log:\n" + first_difference(a, b);
  return {};
}

// Direct SQLite access for checks that must not go through baton.
class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      error_ = fmt::format("sqlite3_open {}: {}", path, db_ ? sqlite3_errmsg(db_) : "no memory");
    }
    if (db_) sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  const std::string& error() const { return error_; }

  // Rows of a query as text, columns separated by '|'.
  std::vector<std::string> rows(const std::string& sql, std::string* error) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      *error = fmt::format("{}: {}", sql, sqlite3_errmsg(db_));
      return out;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        if (c) row += '|';
        const unsigned char* t = sqlite3_column_text(st, c);
        row += t ? reinterpret_cast<const char*>(t) : "NULL";
      }
      out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) *error = fmt::format("{}: {}", sql, sqlite3_errmsg(db_));
    sqlite3_finalize(st);
    return out;
  }
  std::string one(const std::string& sql, std::string* error) {
    auto r = rows(sql, error);
    return r.empty() ? std::string() : r[0];
  }

 private:
  sqlite3* db_ = nullptr;
  std::string error_;
};

// PRAGMA integrity_check, and the log's exactly-once shape: no (client,
// client_seq) twice, and each client's seqs contiguous from 1 (a client
// sends one message at a time, so a gap is a lost acknowledged event).
inline std::string check_log(const std::string& path) {
  Db db(path);
  if (!db.error().empty()) return db.error();
  std::string error;
  std::string integrity = db.one("PRAGMA integrity_check", &error);
  if (!error.empty()) return error;
  if (integrity != "ok") return "integrity_check: " + integrity;
  auto dups = db.rows(
      "SELECT client, client_seq, COUNT(*) FROM events WHERE client_seq IS NOT NULL "
      "GROUP BY client, client_seq HAVING COUNT(*) > 1 LIMIT 5",
      &error);
  if (!error.empty()) return error;
  if (!dups.empty()) return "duplicate (client, client_seq) in the log: " + dups[0];
  auto gaps = db.rows(
      "SELECT client, COUNT(*), MAX(client_seq) FROM events WHERE client_seq IS NOT NULL "
      "GROUP BY client HAVING COUNT(*) != MAX(client_seq)",
      &error);
  if (!error.empty()) return error;
  if (!gaps.empty()) return "a client's seqs have a gap (client|count|max): " + gaps[0];
  auto hw = db.rows(
      "SELECT c.client, c.seq, (SELECT MAX(client_seq) FROM events e WHERE e.client = c.client) "
      "FROM clients c WHERE c.seq IS NOT (SELECT MAX(client_seq) FROM events e "
      "WHERE e.client = c.client)",
      &error);
  if (!error.empty()) return error;
  if (!hw.empty()) return "clients table disagrees with the log (client|hw|log max): " + hw[0];
  return {};
}

// How many events of `client` the log holds (its highest client seq, given
// check_log passed).
inline int64_t logged_seq(const std::string& path, const std::string& client) {
  Db db(path);
  std::string error;
  std::string v = db.one(
      fmt::format("SELECT COALESCE(MAX(client_seq), 0) FROM events WHERE client = '{}'", client),
      &error);
  return v.empty() ? -1 : std::stoll(v);
}

inline void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal", "-ackj0", "-ackj1"}) std::remove((path + suffix).c_str());
}

}  // namespace baton::reliability

#endif  // BATON_TESTS_RELIABILITY_RELIABILITY_H_
