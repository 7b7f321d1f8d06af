// PgStore: the EventStore on PostgreSQL, one log shared by several engines.
//
// Every engine on a database appends to the same `events` table. Appends are
// serialized by one transaction-scoped advisory lock (the log lock): an
// engine takes it (lock_log), reads what other engines appended since its
// last look, applies that to its state, decides, writes its rows and commits,
// which releases the lock. Sequence numbers therefore stay one total order
// across engines and every engine's state is the same function of the log;
// PostgreSQL is the truth and an engine's memory is a cache of it.
//
// Two connections: the writer (the log-lock transaction and every write) and
// the reader (queries, catch-up). A commit is one round trip: the rows and
// the COMMIT go out in libpq's pipeline mode. A lost connection is reset on
// the next use; the transaction it held was rolled back by the server, which
// also releases the log lock when an engine dies.
#include "baton/store.h"

#if BATON_WITH_POSTGRESQL

#include <libpq-fe.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "store/batch.h"
#include "store/schema.h"

namespace baton {

namespace {

// pg_advisory_xact_lock keys: the log's write lock and the migration lock.
constexpr int64_t kLogLockKey = 0x6261746f6e4c4f47;      // "batonLOG"
constexpr int64_t kMigrateLockKey = 0x6261746f6e4d4947;  // "batonMIG"

// How long an engine waits for the log lock before its push fails with
// `storage`, and how long the server lets a session sit idle inside a
// transaction (an engine frozen while holding the lock) before ending it.
constexpr const char* kSessionSettings =
    "SET lock_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'; "
    "SET client_min_messages = warning";

constexpr std::array<const char*, static_cast<size_t>(Stmt::kCount)> kWriteSql = {
    "INSERT INTO events(seq, run, type, client, client_seq, client_ts, received_at, payload) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    "INSERT INTO runs(run, name, build, platform, status, started_at, ended_at, first_seq, "
    "last_seq, tests, passed, failed, skipped, timedout, interrupted, flaky, config) VALUES ($1, "
    "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (run) DO "
    "UPDATE SET name = excluded.name, build = excluded.build, platform = excluded.platform, "
    "status = excluded.status, started_at = excluded.started_at, ended_at = excluded.ended_at, "
    "first_seq = excluded.first_seq, last_seq = excluded.last_seq, tests = excluded.tests, "
    "passed = excluded.passed, failed = excluded.failed, skipped = excluded.skipped, "
    "timedout = excluded.timedout, interrupted = excluded.interrupted, flaky = excluded.flaky, "
    "config = excluded.config",
    "INSERT INTO suites(run, suite, name, parent, file, started_at, ended_at) VALUES ($1, $2, "
    "$3, $4, $5, $6, $7) ON CONFLICT (run, suite) DO UPDATE SET name = excluded.name, parent = "
    "excluded.parent, file = excluded.file, started_at = excluded.started_at, ended_at = "
    "excluded.ended_at",
    "INSERT INTO attempts(run, test, attempt, name, suite, file, spec, worker, status, flaky, "
    "started_at, ended_at, duration_ms, error_message, error, stdout, stderr, attachments) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON "
    "CONFLICT (run, test, attempt) DO UPDATE SET name = excluded.name, suite = excluded.suite, "
    "file = excluded.file, spec = excluded.spec, worker = excluded.worker, status = "
    "excluded.status, flaky = excluded.flaky, started_at = excluded.started_at, ended_at = "
    "excluded.ended_at, duration_ms = excluded.duration_ms, error_message = "
    "excluded.error_message, error = excluded.error, stdout = excluded.stdout, stderr = "
    "excluded.stderr, attachments = excluded.attachments",
    "INSERT INTO clients(client, seq) VALUES ($1, $2) ON CONFLICT (client) DO UPDATE SET seq = "
    "GREATEST(clients.seq, excluded.seq)",
    "INSERT INTO specs(run, spec, state, attempts, worker, lease, lease_deadline, status, "
    "estimate_ms, duration_ms, failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (run, spec) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, "
    "worker = excluded.worker, lease = excluded.lease, lease_deadline = excluded.lease_deadline, "
    "status = excluded.status, estimate_ms = excluded.estimate_ms, duration_ms = "
    "excluded.duration_ms, failures = excluded.failures",
    "INSERT INTO spec_history(spec, platform, build_name, run, at, duration_ms, status) VALUES "
    "($1, $2, $3, $4, $5, $6, $7)",
    "INSERT INTO audit(at, client, code, field, rule, detail) VALUES ($1, $2, $3, $4, $5, $6)",
};

// The audit table keeps this many most recent refusals.
constexpr int64_t kAuditCapacity = 100000;

// Rewrites `?` placeholders as $1, $2, ... outside quoted text, so that both
// stores answer the same constant SQL.
std::string numbered_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      out.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
    } else if (c == '?') {
      out += fmt::format("${}", ++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Parameters in libpq's text format: pointers to NUL-terminated strings.
class Params {
 public:
  void clear() {
    ptrs_.clear();
    owned_.clear();
  }
  // With `nul_terminated`, the text of `v` is followed by a NUL and outlives
  // the statement, so it is passed without a copy.
  void add(const Value& v, bool nul_terminated) {
    switch (v.kind) {
      case Value::Kind::kNull: ptrs_.push_back(nullptr); return;
      case Value::Kind::kInt: own(fmt::format_int(v.i).str()); return;
      case Value::Kind::kReal: own(fmt::format("{}", v.d)); return;
      case Value::Kind::kText:
        if (nul_terminated) {
          ptrs_.push_back(v.s.data());
        } else {
          own(std::string(v.s));
        }
        return;
    }
  }
  const char* const* values() const { return ptrs_.data(); }
  int size() const { return static_cast<int>(ptrs_.size()); }

 private:
  // A deque never moves its elements, so the pointers stay valid.
  void own(std::string s) { ptrs_.push_back(owned_.emplace_back(std::move(s)).c_str()); }
  std::vector<const char*> ptrs_;
  std::deque<std::string> owned_;
};

class PgRow final : public Row {
 public:
  PgRow(const PGresult* res, int row) : res_(res), row_(row) {}
  int columns() const override { return PQnfields(res_); }
  bool is_null(int c) const override { return PQgetisnull(res_, row_, c) != 0; }
  int64_t int64(int c) const override {
    return is_null(c) ? 0 : std::strtoll(PQgetvalue(res_, row_, c), nullptr, 10);
  }
  double real(int c) const override {
    return is_null(c) ? 0 : std::strtod(PQgetvalue(res_, row_, c), nullptr);
  }
  std::string_view text(int c) const override {
    if (is_null(c)) return {};
    return {PQgetvalue(res_, row_, c), static_cast<size_t>(PQgetlength(res_, row_, c))};
  }

 private:
  const PGresult* res_;
  int row_;
};

// Owns a PGresult.
struct Result {
  PGresult* res = nullptr;
  explicit Result(PGresult* r) : res(r) {}
  ~Result() { PQclear(res); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ExecStatusType status() const { return res ? PQresultStatus(res) : PGRES_FATAL_ERROR; }
  bool ok() const { return status() == PGRES_COMMAND_OK || status() == PGRES_TUPLES_OK; }
};

// One connection with its prepared statements.
class Connection {
 public:
  ~Connection() { close(); }
  void close() {
    if (pg_ != nullptr) PQfinish(pg_);
    pg_ = nullptr;
    prepared_.clear();
  }
  PGconn* pg() { return pg_; }

  // `synchronous`: commits wait for PostgreSQL's WAL flush (full durability).
  Status open(const std::string& dsn, bool synchronous) {
    dsn_ = dsn;
    synchronous_ = synchronous;
    pg_ = PQconnectdb(dsn.c_str());
    return setup();
  }
  // Resets a connection the server or the network dropped; `*was_reset`
  // tells that any transaction it held is gone.
  Status ensure(bool* was_reset = nullptr) {
    if (was_reset) *was_reset = false;
    if (pg_ == nullptr) return Status::error(Code::kClosed, "storage: the store is closed");
    if (PQstatus(pg_) == CONNECTION_OK) return Status::ok();
    if (was_reset) *was_reset = true;
    prepared_.clear();
    PQreset(pg_);
    return setup();
  }
  Status error(std::string_view what) const {
    std::string msg = pg_ ? PQerrorMessage(pg_) : "no connection";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Status::error(Code::kStorage, fmt::format("storage: {} failed: {}", what, msg));
  }
  Status result_error(const Result& r, std::string_view what) const {
    if (r.res == nullptr) return error(what);
    std::string msg = PQresultErrorMessage(r.res);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (msg.empty()) msg = PQresStatus(r.status());
    return Status::error(Code::kStorage, fmt::format("storage: {} failed: {}", what, msg));
  }
  Status exec(const char* sql, std::string_view what) {
    Result r(PQexec(pg_, sql));
    return r.ok() ? Status::ok() : result_error(r, what);
  }
  // The name of `sql` prepared on this connection (prepared on first use).
  Status prepared(const std::string& sql, std::string* name) {
    auto it = prepared_.find(sql);
    if (it != prepared_.end()) {
      *name = it->second;
      return Status::ok();
    }
    std::string n = fmt::format("b{}", prepared_.size() + 1);
    Result r(PQprepare(pg_, n.c_str(), sql.c_str(), 0, nullptr));
    if (!r.ok()) return result_error(r, "preparing a statement");
    prepared_.emplace(sql, n);
    *name = std::move(n);
    return Status::ok();
  }

 private:
  Status setup() {
    if (PQstatus(pg_) != CONNECTION_OK) return error("connecting to PostgreSQL");
    PQsetClientEncoding(pg_, "UTF8");
    Status s = exec(kSessionSettings, "configuring the session");
    if (s) {
      s = exec(synchronous_ ? "SET synchronous_commit = on" : "SET synchronous_commit = off",
               "configuring the session");
    }
    return s;
  }

  PGconn* pg_ = nullptr;
  std::string dsn_;
  bool synchronous_ = true;
  std::unordered_map<std::string, std::string> prepared_;
};

// kIdle: no transaction; kOpen: the log-lock transaction is open and threads
// may join it; kBusy: one thread is using the connection (beginning,
// committing, executing).
enum class WriterState : uint8_t { kIdle, kOpen, kBusy };

class PgStore final : public EventStore {
 public:
  explicit PgStore(StoreOptions options) : options_(std::move(options)) {
    // The ack follows the commit in every mode: engines sharing the log must
    // see each other's events before they decide, so nothing waits unwritten.
    if (options_.durability == Durability::kAsync) options_.durability = Durability::kNormal;
  }
  ~PgStore() override { close(); }

  Status open();

  void write(Stmt stmt, std::initializer_list<Value> values, int64_t seq) override {
    std::unique_lock<std::mutex> lock(queue_mu_, std::defer_lock);
    if (group_owner_.load(std::memory_order_relaxed) != std::this_thread::get_id()) lock.lock();
    pending_.append(stmt, values, seq);
  }
  void begin_group() override {
    queue_mu_.lock();
    group_owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void end_group() override {
    group_owner_.store(std::thread::id(), std::memory_order_relaxed);
    queue_mu_.unlock();
  }
  Status commit(int64_t seq) override;
  // A thread inside the log-lock transaction has nothing to flush early: its
  // commit() ends its part. (A plugin querying the engine from a callback of
  // the push that holds the lock must not commit the push.)
  Status flush() override { return is_user() ? Status::ok() : commit(0); }
  int64_t durable_seq() const override { return durable_seq_.load(std::memory_order_acquire); }
  int64_t failed_commits() const override { return failed_commits_.load(); }
  Status read(std::string_view sql, std::initializer_list<Value> params,
              const RowFn& fn) override;
  Status execute(std::string_view sql, std::initializer_list<Value> params,
                 int64_t* changes) override;
  bool shared() const override { return true; }
  Status lock_log(bool* began) override;
  Durability durability() const override { return options_.durability; }
  StoreStats stats() const override;
  Status check_integrity() override;
  Status close() override;

 private:
  Status migrate();
  // Runs `batch` and COMMIT on the writer in one pipeline. `in_txn`: the
  // log-lock transaction is open already.
  Status write_batch(const Batch& batch, bool in_txn);
  // The calling thread joined the log-lock transaction and has not committed.
  bool is_user() const { return tls_user_ == this; }
  // txn_mu_ held via `lock`, the writer idle or open with no user: commits
  // what is pending (the open transaction, else a transaction of its own).
  Status lead_commit(std::unique_lock<std::mutex>& lock);
  // Waits until the writer is idle, then takes it for one operation.
  void take_idle_writer(std::unique_lock<std::mutex>& lock);
  void release_writer(std::unique_lock<std::mutex>& lock, WriterState next);

  StoreOptions options_;
  // The writer connection and the log-lock transaction on it, which every
  // thread of this engine that decides something joins (lock_log) and the
  // last of them to commit ends: commits group the events of concurrent
  // pushes, and the lock is never held while no thread uses it.
  // Lock order: txn_mu_ -> queue_mu_; reader_mu_ is separate.
  std::mutex txn_mu_;
  std::condition_variable txn_cv_;
  WriterState writer_state_ = WriterState::kIdle;  // txn_mu_
  int users_ = 0;  // txn_mu_: threads in the open transaction, not yet committed
  FailedBatches failures_;  // txn_mu_
  static thread_local const PgStore* tls_user_;
  Connection writer_;
  std::mutex reader_mu_;
  Connection reader_;
  mutable std::mutex queue_mu_;
  Batch pending_;  // queue_mu_
  // The thread holding queue_mu_ for a write group, whose writes skip locking.
  std::atomic<std::thread::id> group_owner_{};
  Batch writing_;  // the kBusy thread's
  Params params_;  // the kBusy thread's
  std::vector<uint8_t> skip_;  // the kBusy thread's: the batch's superseded upserts
  std::atomic<int64_t> durable_seq_{0};
  std::atomic<int64_t> commits_{0}, rows_written_{0}, failed_commits_{0};
  int64_t audit_rows_ = 0;  // the kBusy thread's
  bool closed_ = false;
};

Status PgStore::open() {
  if (options_.dsn.empty()) {
    return Status::error(Code::kInvalidArgument,
                         "option \"dsn\": the PostgreSQL store needs a libpq connection string");
  }
  const bool sync = options_.durability == Durability::kFull;
  Status s = writer_.open(options_.dsn, sync);
  if (s) s = reader_.open(options_.dsn, sync);
  if (!s) return s;
  if (!(s = migrate())) return s;
  return read("SELECT COALESCE(MAX(seq), 0) FROM events", {}, [&](const Row& r) {
    durable_seq_ = r.int64(0);
    return false;
  });
}

Status PgStore::migrate() {
  // Engines starting together migrate one at a time.
  Status s = writer_.exec(
      fmt::format("BEGIN; SELECT pg_advisory_xact_lock({}); CREATE TABLE IF NOT EXISTS "
                  "baton_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                  kMigrateLockKey)
          .c_str(),
      "creating baton_meta");
  if (!s) {
    writer_.exec("ROLLBACK", "rolling back");
    return s;
  }
  int version = 0;
  {
    Result r(PQexec(writer_.pg(), "SELECT value FROM baton_meta WHERE key = 'schema_version'"));
    if (!r.ok()) {
      s = writer_.result_error(r, "reading the schema version");
    } else if (PQntuples(r.res) > 0) {
      version = std::atoi(PQgetvalue(r.res, 0, 0));
    }
  }
  if (s && version > kSchemaVersion) {
    s = Status::error(Code::kStorage,
                      fmt::format("storage: the PostgreSQL database has baton schema version {}, "
                                  "newer than this baton's {}; open it with a newer baton",
                                  version, kSchemaVersion));
  }
  if (s && version < 1) s = writer_.exec(schema_v1(SqlDialect::kPostgres).c_str(), "creating the schema");
  if (s && version < kSchemaVersion) {
    s = writer_.exec(fmt::format("INSERT INTO baton_meta(key, value) VALUES ('schema_version', "
                                 "'{0}') ON CONFLICT (key) DO UPDATE SET value = '{0}'",
                                 kSchemaVersion)
                         .c_str(),
                     "recording the schema version");
  }
  if (s) s = writer_.exec("COMMIT", "committing the schema");
  if (!s) writer_.exec("ROLLBACK", "rolling back");
  return s;
}

thread_local const PgStore* PgStore::tls_user_ = nullptr;

void PgStore::take_idle_writer(std::unique_lock<std::mutex>& lock) {
  txn_cv_.wait(lock, [&] { return writer_state_ == WriterState::kIdle; });
  writer_state_ = WriterState::kBusy;
}

void PgStore::release_writer(std::unique_lock<std::mutex>& lock, WriterState next) {
  (void)lock;
  writer_state_ = next;
  txn_cv_.notify_all();
}

Status PgStore::lock_log(bool* began) {
  if (began) *began = false;
  if (is_user()) return Status::ok();
  std::unique_lock<std::mutex> lock(txn_mu_);
  txn_cv_.wait(lock, [&] { return writer_state_ != WriterState::kBusy; });
  if (writer_state_ == WriterState::kOpen) {
    // Another thread of this engine holds the lock: nothing was appended by
    // other engines since it looked, and this thread's rows join its commit.
    ++users_;
    tls_user_ = this;
    return Status::ok();
  }
  writer_state_ = WriterState::kBusy;
  lock.unlock();
  Status s = writer_.ensure();
  if (s) {
    s = writer_.exec(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({})", kLogLockKey).c_str(),
                     "taking the log lock");
  }
  if (!s && writer_.pg() && PQtransactionStatus(writer_.pg()) != PQTRANS_IDLE) {
    writer_.exec("ROLLBACK", "rolling back");
  }
  lock.lock();
  release_writer(lock, s ? WriterState::kOpen : WriterState::kIdle);
  if (!s) return s;
  ++users_;
  tls_user_ = this;
  if (began) *began = true;
  return Status::ok();
}

Status PgStore::write_batch(const Batch& batch, bool in_txn) {
  PGconn* pg = writer_.pg();
  // Statements are prepared before the pipeline starts (a failed prepare
  // inside it would abort everything after it).
  std::array<std::string, static_cast<size_t>(Stmt::kCount)> names;
  bool has_events = false;
  int64_t audit = 0;
  for (const QueuedWrite& w : batch.writes) {
    std::string& name = names[static_cast<size_t>(w.stmt)];
    if (name.empty()) {
      Status s = writer_.prepared(kWriteSql[static_cast<size_t>(w.stmt)], &name);
      if (!s) return s;
    }
    has_events |= w.stmt == Stmt::kInsertEvent;
    audit += w.stmt == Stmt::kInsertAudit;
  }
  audit_rows_ += audit;
  const bool trim_audit = audit_rows_ >= 1024;
  if (trim_audit) audit_rows_ = 0;
  if (PQenterPipelineMode(pg) != 1) return writer_.error("entering pipeline mode");
  int sent = 0;
  bool send_ok = true;
  auto send_sql = [&](const char* sql) {
    send_ok = send_ok && PQsendQueryParams(pg, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    ++sent;
  };
  if (!in_txn) {
    // Pipeline mode takes one statement per query: BEGIN, then the lock.
    send_sql("BEGIN");
    if (has_events) send_sql(fmt::format("SELECT pg_advisory_xact_lock({})", kLogLockKey).c_str());
  }
  batch.superseded(&skip_);
  int64_t written = 0;
  for (size_t i = 0; i < batch.writes.size(); ++i) {
    if (!send_ok) break;
    if (skip_[i]) continue;
    const QueuedWrite& w = batch.writes[i];
    ++written;
    params_.clear();
    for (uint16_t k = 0; k < w.count; ++k) params_.add(batch.value(w, k), true);
    send_ok = PQsendQueryPrepared(pg, names[static_cast<size_t>(w.stmt)].c_str(), params_.size(),
                                  params_.values(), nullptr, nullptr, 0) == 1;
    ++sent;
  }
  if (trim_audit) {
    send_sql(fmt::format("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - {}",
                         kAuditCapacity)
                 .c_str());
  }
  send_sql("COMMIT");
  if (send_ok && PQpipelineSync(pg) != 1) send_ok = false;

  Status s = send_ok ? Status::ok() : writer_.error("sending a batch");
  if (send_ok) {
    // Each query's results end with a NULL; the sync point ends the batch.
    for (int i = 0; i < sent; ++i) {
      for (PGresult* r = PQgetResult(pg); r != nullptr; r = PQgetResult(pg)) {
        Result res(r);
        if (s && !res.ok()) s = writer_.result_error(res, "writing a batch");
      }
    }
    Result sync(PQgetResult(pg));
    if (sync.status() != PGRES_PIPELINE_SYNC && s) s = writer_.error("ending a batch");
  }
  PQexitPipelineMode(pg);
  if (PQtransactionStatus(pg) != PQTRANS_IDLE) writer_.exec("ROLLBACK", "rolling back");
  if (!s) return s;
  rows_written_ += written;
  ++commits_;
  return Status::ok();
}

Status PgStore::lead_commit(std::unique_lock<std::mutex>& lock) {
  const bool in_txn = writer_state_ == WriterState::kOpen;
  writer_state_ = WriterState::kBusy;
  {
    std::lock_guard<std::mutex> queue(queue_mu_);
    std::swap(pending_, writing_);
  }
  lock.unlock();
  Status s;
  if (!writing_.empty() || in_txn) {
    bool reset = false;
    s = writer_.ensure(&reset);
    if (s && in_txn && (reset || PQtransactionStatus(writer_.pg()) != PQTRANS_INTRANS)) {
      // The server ended the log-lock transaction (connection lost, idle
      // timeout): what was decided under it must not be written without it.
      s = Status::error(Code::kStorage,
                        "storage: the PostgreSQL transaction holding the log lock was lost");
    }
    if (s) s = write_batch(writing_, in_txn);
  }
  const int64_t first = writing_.first_seq();
  const int64_t last = writing_.last_seq;
  writing_.clear();
  lock.lock();
  if (!s) {
    ++failed_commits_;
    failures_.record(s, first, last);
  }
  // A failed batch's numbers are used up too: the next event follows them.
  if (last > durable_seq_.load(std::memory_order_relaxed)) {
    durable_seq_.store(last, std::memory_order_release);
  }
  release_writer(lock, WriterState::kIdle);
  return s;
}

// Group commit: the last thread of the open transaction to commit writes
// every joined thread's rows and COMMITs, releasing the log lock; the others
// wait for it. A commit(0) of a joined thread only leaves the transaction
// (committing it when it was the last); of any other thread, it commits what
// is queued.
Status PgStore::commit(int64_t seq) {
  std::unique_lock<std::mutex> lock(txn_mu_);
  const bool was_user = is_user();
  if (was_user) {
    tls_user_ = nullptr;
    --users_;
  }
  for (;;) {
    if (seq > 0 && durable_seq_.load(std::memory_order_acquire) >= seq) {
      return failures_.outcome(seq);
    }
    if (writer_state_ == WriterState::kOpen && users_ == 0) {
      Status s = lead_commit(lock);
      if (seq == 0) return s;
      continue;
    }
    if (writer_state_ == WriterState::kOpen || writer_state_ == WriterState::kBusy) {
      // Joined threads still deciding, or a commit in flight.
      if (was_user && seq == 0) return Status::ok();
      txn_cv_.wait(lock);
      continue;
    }
    // Idle: rows queued outside the transaction (refusals' audit rows).
    bool queued;
    {
      std::lock_guard<std::mutex> queue(queue_mu_);
      queued = !pending_.empty();
    }
    if (!queued) return Status::ok();
    Status s = lead_commit(lock);
    if (seq == 0) return s;
  }
}

Status PgStore::read(std::string_view sql, std::initializer_list<Value> params,
                     const RowFn& fn) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  Status s = reader_.ensure();
  if (!s) return s;
  std::string name;
  if (!(s = reader_.prepared(numbered_placeholders(sql), &name))) return s;
  Params p;
  for (const Value& v : params) p.add(v, false);
  PGconn* pg = reader_.pg();
  if (PQsendQueryPrepared(pg, name.c_str(), p.size(), p.values(), nullptr, nullptr, 0) != 1) {
    return reader_.error("reading");
  }
  // Row by row, so that a scan of the whole log never sits in memory.
  PQsetSingleRowMode(pg);
  bool more = true;
  for (PGresult* r = PQgetResult(pg); r != nullptr; r = PQgetResult(pg)) {
    Result res(r);
    ExecStatusType st = res.status();
    if (st == PGRES_SINGLE_TUPLE) {
      if (more && s) more = fn(PgRow(res.res, 0));
    } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && s) {
      s = reader_.result_error(res, "reading");
    }
  }
  return s;
}

Status PgStore::execute(std::string_view sql, std::initializer_list<Value> params,
                        int64_t* changes) {
  Status s = flush();
  if (!s) return s;
  std::unique_lock<std::mutex> lock(txn_mu_);
  take_idle_writer(lock);
  lock.unlock();
  std::string name;
  s = writer_.ensure();
  if (s) s = writer_.prepared(numbered_placeholders(sql), &name);
  if (s) {
    Params p;
    for (const Value& v : params) p.add(v, false);
    Result r(
        PQexecPrepared(writer_.pg(), name.c_str(), p.size(), p.values(), nullptr, nullptr, 0));
    if (!r.ok()) {
      s = writer_.result_error(r, "executing a statement");
    } else if (changes) {
      *changes = std::strtoll(PQcmdTuples(r.res), nullptr, 10);
    }
  }
  lock.lock();
  release_writer(lock, WriterState::kIdle);
  return s;
}

StoreStats PgStore::stats() const {
  StoreStats st;
  st.commits = commits_.load();
  st.rows_written = rows_written_.load();
  st.failed_commits = failed_commits_.load();
  st.durable_seq = durable_seq_.load();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    st.pending_rows = static_cast<int64_t>(pending_.writes.size());
  }
  return st;
}

// PostgreSQL checks its own pages (data checksums, WAL); what baton can check
// is its schema and that the log and its derived tables agree on their ends.
Status PgStore::check_integrity() {
  std::string problem;
  Status s = read(
      "SELECT (SELECT value FROM baton_meta WHERE key = 'schema_version'), "
      "(SELECT COUNT(*) FROM runs WHERE first_seq > (SELECT COALESCE(MAX(seq), 0) FROM events))",
      {}, [&](const Row& r) {
        if (r.text(0) != fmt::format_int(kSchemaVersion).str()) {
          problem = fmt::format("schema version is {}", r.text(0));
        } else if (r.int64(1) > 0) {
          problem = fmt::format("{} runs start after the log ends", r.int64(1));
        }
        return false;
      });
  if (!s) return s;
  if (!problem.empty()) {
    return Status::error(Code::kStorage, fmt::format("storage: integrity check: {}", problem));
  }
  return Status::ok();
}

Status PgStore::close() {
  if (closed_) return Status::ok();
  Status s = writer_.pg() ? flush() : Status::ok();
  closed_ = true;
  {
    std::unique_lock<std::mutex> lock(txn_mu_);
    take_idle_writer(lock);
    writer_.close();
    release_writer(lock, WriterState::kIdle);
  }
  std::lock_guard<std::mutex> lock(reader_mu_);
  reader_.close();
  return s;
}

}  // namespace

Status open_postgres_store(const StoreOptions& options, std::unique_ptr<EventStore>* out) {
  auto store = std::make_unique<PgStore>(options);
  Status s = store->open();
  if (!s) return s;
  *out = std::move(store);
  return Status::ok();
}

}  // namespace baton

#else  // !BATON_WITH_POSTGRESQL

namespace baton {

Status open_postgres_store(const StoreOptions&, std::unique_ptr<EventStore>*) {
  return Status::error(Code::kInvalidArgument,
                       "option \"store\": this build of baton has no PostgreSQL store (libpq "
                       "was not found when it was built)");
}

}  // namespace baton

#endif  // BATON_WITH_POSTGRESQL
