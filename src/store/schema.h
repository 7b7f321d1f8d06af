// The SQL schema of baton's stores, one migration per schema version.
#ifndef BATON_STORE_SCHEMA_H_
#define BATON_STORE_SCHEMA_H_

namespace baton {

// Migration to version 1 (SQLite dialect). The event log is append-only with
// the global sequence number as its key and no other index: replay and
// recovery scan it in key order. Derived tables are keyed for their queries.
inline constexpr const char* kSqliteSchemaV1 = R"sql(
CREATE TABLE events (
  seq INTEGER PRIMARY KEY,
  run TEXT,
  type TEXT NOT NULL,
  client TEXT,
  client_seq INTEGER,
  client_ts INTEGER,
  received_at INTEGER NOT NULL,
  payload TEXT NOT NULL
);
CREATE TABLE runs (
  run TEXT PRIMARY KEY,
  name TEXT,
  build TEXT,
  platform TEXT,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER,
  tests INTEGER NOT NULL DEFAULT 0,
  passed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0,
  timedout INTEGER NOT NULL DEFAULT 0,
  interrupted INTEGER NOT NULL DEFAULT 0,
  flaky INTEGER NOT NULL DEFAULT 0,
  config TEXT
) WITHOUT ROWID;
CREATE INDEX runs_by_start ON runs(started_at);
CREATE TABLE suites (
  run TEXT NOT NULL,
  suite TEXT NOT NULL,
  name TEXT,
  parent TEXT,
  file TEXT,
  started_at INTEGER,
  ended_at INTEGER,
  PRIMARY KEY (run, suite)
) WITHOUT ROWID;
CREATE TABLE attempts (
  run TEXT NOT NULL,
  test TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  name TEXT,
  suite TEXT,
  file TEXT,
  spec TEXT,
  worker TEXT,
  status TEXT NOT NULL,
  flaky INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER,
  ended_at INTEGER,
  duration_ms REAL,
  error_message TEXT,
  error TEXT,
  stdout TEXT,
  stderr TEXT,
  attachments TEXT,
  PRIMARY KEY (run, test, attempt)
) WITHOUT ROWID;
CREATE VIEW tests AS
  SELECT a.* FROM attempts a
  WHERE a.attempt = (SELECT MAX(b.attempt) FROM attempts b
                     WHERE b.run = a.run AND b.test = a.test);
CREATE TABLE clients (
  client TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE specs (
  run TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  worker TEXT,
  lease TEXT,
  lease_deadline INTEGER,
  status TEXT,
  estimate_ms REAL,
  duration_ms REAL,
  failures INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run, spec)
) WITHOUT ROWID;
CREATE TABLE spec_history (
  spec TEXT NOT NULL,
  platform TEXT NOT NULL DEFAULT '',
  build_name TEXT,
  run TEXT,
  at INTEGER NOT NULL,
  duration_ms REAL,
  status TEXT
);
CREATE INDEX spec_history_by_spec ON spec_history(spec, platform, at);
CREATE INDEX spec_history_by_build ON spec_history(build_name, at);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  client TEXT,
  code TEXT NOT NULL,
  field TEXT,
  rule TEXT,
  detail TEXT
);
)sql";

}  // namespace baton

#endif  // BATON_STORE_SCHEMA_H_
