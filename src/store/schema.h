// The SQL schema of baton's stores, one migration per schema version.
#ifndef BATON_STORE_SCHEMA_H_
#define BATON_STORE_SCHEMA_H_

#include <string>
#include <string_view>
#include <utility>

namespace baton {

// Migration to version 1, written once for both dialects: schema_v1()
// substitutes @INT@ (integer), @REAL@ (floating point), @NOROWID@ (SQLite's
// WITHOUT ROWID on tables keyed by text), @ID@ (an auto-numbered key) and
// @HISTORY_ID@ (PostgreSQL's stand-in for SQLite's implicit rowid, the
// insertion order that breaks ties between equal times, so that both stores
// answer the same constant SQL).
//
// The event log is append-only with the global sequence number as its key and
// no other index: replay and recovery scan it in key order. Derived tables are
// keyed for their queries.
inline constexpr const char* kSchemaV1Template = R"sql(
CREATE TABLE events (
  seq @INT@ PRIMARY KEY,
  run TEXT,
  type TEXT NOT NULL,
  client TEXT,
  client_seq @INT@,
  client_ts @INT@,
  received_at @INT@ NOT NULL,
  payload TEXT NOT NULL
);
CREATE TABLE runs (
  run TEXT PRIMARY KEY,
  name TEXT,
  build TEXT,
  platform TEXT,
  status TEXT NOT NULL,
  started_at @INT@ NOT NULL,
  ended_at @INT@,
  first_seq @INT@ NOT NULL,
  last_seq @INT@,
  tests @INT@ NOT NULL DEFAULT 0,
  passed @INT@ NOT NULL DEFAULT 0,
  failed @INT@ NOT NULL DEFAULT 0,
  skipped @INT@ NOT NULL DEFAULT 0,
  timedout @INT@ NOT NULL DEFAULT 0,
  interrupted @INT@ NOT NULL DEFAULT 0,
  flaky @INT@ NOT NULL DEFAULT 0,
  config TEXT
)@NOROWID@;
CREATE INDEX runs_by_start ON runs(started_at);
CREATE TABLE suites (
  run TEXT NOT NULL,
  suite TEXT NOT NULL,
  name TEXT,
  parent TEXT,
  file TEXT,
  started_at @INT@,
  ended_at @INT@,
  PRIMARY KEY (run, suite)
)@NOROWID@;
CREATE TABLE attempts (
  run TEXT NOT NULL,
  test TEXT NOT NULL,
  attempt @INT@ NOT NULL,
  name TEXT,
  suite TEXT,
  file TEXT,
  spec TEXT,
  worker TEXT,
  status TEXT NOT NULL,
  flaky @INT@ NOT NULL DEFAULT 0,
  started_at @INT@,
  ended_at @INT@,
  duration_ms @REAL@,
  error_message TEXT,
  error TEXT,
  stdout TEXT,
  stderr TEXT,
  attachments TEXT,
  PRIMARY KEY (run, test, attempt)
)@NOROWID@;
CREATE VIEW tests AS
  SELECT a.* FROM attempts a
  WHERE a.attempt = (SELECT MAX(b.attempt) FROM attempts b
                     WHERE b.run = a.run AND b.test = a.test);
CREATE TABLE clients (
  client TEXT PRIMARY KEY,
  seq @INT@ NOT NULL
)@NOROWID@;
CREATE TABLE specs (
  run TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts @INT@ NOT NULL DEFAULT 0,
  worker TEXT,
  lease TEXT,
  lease_deadline @INT@,
  status TEXT,
  estimate_ms @REAL@,
  duration_ms @REAL@,
  failures @INT@ NOT NULL DEFAULT 0,
  PRIMARY KEY (run, spec)
)@NOROWID@;
CREATE TABLE spec_history (@HISTORY_ID@
  spec TEXT NOT NULL,
  platform TEXT NOT NULL DEFAULT '',
  build_name TEXT,
  run TEXT,
  at @INT@ NOT NULL,
  duration_ms @REAL@,
  status TEXT
);
CREATE INDEX spec_history_by_spec ON spec_history(spec, platform, at);
CREATE INDEX spec_history_by_build ON spec_history(build_name, at);
CREATE TABLE audit (
  id @ID@,
  at @INT@ NOT NULL,
  client TEXT,
  code TEXT NOT NULL,
  field TEXT,
  rule TEXT,
  detail TEXT
);
)sql";

enum class SqlDialect { kSqlite, kPostgres };

// The version 1 schema in `dialect`.
inline std::string schema_v1(SqlDialect dialect) {
  const bool pg = dialect == SqlDialect::kPostgres;
  const std::pair<std::string_view, std::string_view> subst[] = {
      {"@INT@", pg ? "BIGINT" : "INTEGER"},
      {"@REAL@", pg ? "DOUBLE PRECISION" : "REAL"},
      {"@NOROWID@", pg ? "" : " WITHOUT ROWID"},
      {"@ID@", pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY"},
      {"@HISTORY_ID@", pg ? "\n  rowid BIGSERIAL PRIMARY KEY," : ""},
  };
  std::string sql = kSchemaV1Template;
  for (const auto& [from, to] : subst) {
    for (size_t at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size())) {
      sql.replace(at, from.size(), to);
    }
  }
  return sql;
}

}  // namespace baton

#endif  // BATON_STORE_SCHEMA_H_
