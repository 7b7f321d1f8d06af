// SqliteStore: the embedded default EventStore (WAL, group commit).
#include <sqlite3.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "baton/store.h"
#include "store/batch.h"
#include "store/schema.h"

namespace baton {

namespace {

constexpr std::array<const char*, static_cast<size_t>(Stmt::kCount)> kWriteSql = {
    "INSERT INTO events(seq, run, type, client, client_seq, client_ts, received_at, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT OR REPLACE INTO runs(run, name, build, platform, status, started_at, ended_at, "
    "first_seq, last_seq, tests, passed, failed, skipped, timedout, interrupted, flaky, config) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT OR REPLACE INTO suites(run, suite, name, parent, file, started_at, ended_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "INSERT OR REPLACE INTO attempts(run, test, attempt, name, suite, file, spec, worker, "
    "status, flaky, started_at, ended_at, duration_ms, error_message, error, stdout, stderr, "
    "attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO clients(client, seq) VALUES (?, ?) "
    "ON CONFLICT(client) DO UPDATE SET seq = max(seq, excluded.seq)",
    "INSERT OR REPLACE INTO specs(run, spec, state, attempts, worker, lease, lease_deadline, "
    "status, estimate_ms, duration_ms, failures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO spec_history(spec, platform, build_name, run, at, duration_ms, status) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO audit(at, client, code, field, rule, detail) VALUES (?, ?, ?, ?, ?, ?)",
};

// The audit table keeps this many most recent refusals.
constexpr int64_t kAuditCapacity = 100000;

class SqliteRow final : public Row {
 public:
  explicit SqliteRow(sqlite3_stmt* st) : st_(st) {}
  int columns() const override { return sqlite3_column_count(st_); }
  bool is_null(int c) const override { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  int64_t int64(int c) const override { return sqlite3_column_int64(st_, c); }
  double real(int c) const override { return sqlite3_column_double(st_, c); }
  std::string_view text(int c) const override {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
    if (p == nullptr) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(st_, c))};
  }

 private:
  sqlite3_stmt* st_;
};

class SqliteStore final : public EventStore {
 public:
  explicit SqliteStore(StoreOptions options) : options_(std::move(options)) {
    // An in-memory database survives nothing, so waiting for its commits buys
    // no guarantee: it is written in the background like `async`.
    if (in_memory()) options_.durability = Durability::kAsync;
  }
  bool in_memory() const { return options_.path == ":memory:" || options_.path.empty(); }
  ~SqliteStore() override { close(); }

  Status open();

  void write(Stmt stmt, std::initializer_list<Value> values, int64_t seq) override;
  void begin_group() override {
    queue_mu_.lock();
    group_owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void end_group() override {
    group_owner_.store(std::thread::id(), std::memory_order_relaxed);
    queue_mu_.unlock();
  }
  Status commit(int64_t seq) override;
  Status flush() override;
  int64_t durable_seq() const override { return durable_seq_.load(std::memory_order_acquire); }
  Status read(std::string_view sql, std::initializer_list<Value> params,
              const RowFn& fn) override;
  Status execute(std::string_view sql, std::initializer_list<Value> params,
                 int64_t* changes) override;
  Durability durability() const override { return options_.durability; }
  StoreStats stats() const override;
  Status check_integrity() override;
  Status close() override;

 private:
  Status exec(const char* sql);
  Status sqlite_error(const char* what) const {
    return Status::error(Code::kStorage,
                         fmt::format("storage: {} failed: {}", what, sqlite3_errmsg(db_)));
  }
  Status migrate();
  Status write_batch(Batch* batch);  // conn_mu_ held
  Status bind(sqlite3_stmt* st, int index, const Value& v);
  sqlite3_stmt* cached(std::string_view sql, Status* status);  // conn_mu_ held
  void async_loop();

  StoreOptions options_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, static_cast<size_t>(Stmt::kCount)> write_stmts_{};
  std::unordered_map<std::string, sqlite3_stmt*> read_stmts_;
  std::vector<uint8_t> skip_;  // conn_mu_: the batch's superseded upserts

  // Lock order: commit_mu_ -> conn_mu_ ; queue_mu_ is a leaf.
  std::mutex commit_mu_;  // one committing leader at a time
  std::mutex conn_mu_;    // the connection
  mutable std::mutex queue_mu_;
  Batch pending_;         // queue_mu_
  // The thread holding queue_mu_ for a write group, whose writes skip locking.
  std::atomic<std::thread::id> group_owner_{};
  Batch writing_;         // commit_mu_
  std::atomic<int64_t> durable_seq_{0};
  FailedBatches failures_;  // commit_mu_

  std::atomic<int64_t> commits_{0}, rows_written_{0}, failed_commits_{0};
  int64_t audit_rows_ = 0;

  std::thread async_thread_;
  std::condition_variable async_cv_;
  bool stopping_ = false;  // queue_mu_
  bool closed_ = false;
};

Status SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return Status::error(Code::kStorage, fmt::format("storage: {}", msg));
  }
  return Status::ok();
}

Status SqliteStore::open() {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
              SQLITE_OPEN_URI;
  const char* vfs = options_.sqlite_vfs.empty() ? nullptr : options_.sqlite_vfs.c_str();
  if (sqlite3_open_v2(options_.path.c_str(), &db_, flags, vfs) != SQLITE_OK) {
    Status s = Status::error(
        Code::kStorage, fmt::format("storage: cannot open database \"{}\": {}", options_.path,
                                    db_ ? sqlite3_errmsg(db_) : "out of memory"));
    sqlite3_close(db_);
    db_ = nullptr;
    return s;
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 5000);
  // An in-memory database lives in RAM and is written in big batches: with
  // 32 KiB pages instead of 4 KiB its inserts split pages far less often
  // (bench_ingest's in-memory rows: +11% with one thread, +18% with two). A
  // file database keeps SQLite's default, as a one-event commit writes whole
  // pages to the WAL.
  if (in_memory()) {
    Status p = exec("PRAGMA page_size=32768");
    if (!p) return p;
  }
  Status s = exec("PRAGMA journal_mode=WAL");
  if (!s) return s;
  s = exec(options_.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                    : "PRAGMA synchronous=NORMAL");
  if (!s) return s;
  if (!(s = exec("PRAGMA foreign_keys=OFF"))) return s;
  // Keep the WAL from growing without bound between automatic checkpoints.
  if (!(s = exec("PRAGMA journal_size_limit=67108864"))) return s;
  if (!(s = migrate())) return s;
  for (size_t i = 0; i < write_stmts_.size(); ++i) {
    if (sqlite3_prepare_v3(db_, kWriteSql[i], -1, SQLITE_PREPARE_PERSISTENT, &write_stmts_[i],
                           nullptr) != SQLITE_OK) {
      return sqlite_error("preparing a write statement");
    }
  }
  // Resume the sequence where the log ends.
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(seq), 0) FROM events", -1, &st, nullptr) !=
      SQLITE_OK) {
    return sqlite_error("reading the log's end");
  }
  // A failed read here must fail the open: resuming from 0 would reuse
  // sequence numbers the log already holds.
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) durable_seq_ = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return sqlite_error("reading the log's end");
  if (options_.durability == Durability::kAsync) {
    async_thread_ = std::thread([this] { async_loop(); });
  }
  return Status::ok();
}

Status SqliteStore::migrate() {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr) != SQLITE_OK) {
    return sqlite_error("reading the schema version");
  }
  int version = 0;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return sqlite_error("reading the schema version");
  if (version > kSchemaVersion) {
    return Status::error(Code::kStorage,
                         fmt::format("storage: database \"{}\" has schema version {}, newer than "
                                     "this baton's {}; open it with a newer baton",
                                     options_.path, version, kSchemaVersion));
  }
  if (version == kSchemaVersion) return Status::ok();
  Status s = exec("BEGIN IMMEDIATE");
  if (!s) return s;
  if (version < 1) s = exec(schema_v1(SqlDialect::kSqlite).c_str());
  if (s) s = exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str());
  if (s) s = exec("COMMIT");
  if (!s) exec("ROLLBACK");
  return s;
}

void SqliteStore::write(Stmt stmt, std::initializer_list<Value> values, int64_t seq) {
  std::unique_lock<std::mutex> lock(queue_mu_, std::defer_lock);
  if (group_owner_.load(std::memory_order_relaxed) != std::this_thread::get_id()) lock.lock();
  pending_.append(stmt, values, seq);
  if (options_.durability == Durability::kAsync &&
      pending_.writes.size() >= options_.async_max_batch) {
    async_cv_.notify_one();
  }
}

Status SqliteStore::bind(sqlite3_stmt* st, int index, const Value& v) {
  int rc = SQLITE_OK;
  switch (v.kind) {
    case Value::Kind::kNull: rc = sqlite3_bind_null(st, index); break;
    case Value::Kind::kInt: rc = sqlite3_bind_int64(st, index, v.i); break;
    case Value::Kind::kReal: rc = sqlite3_bind_double(st, index, v.d); break;
    case Value::Kind::kText:
      rc = sqlite3_bind_text(st, index, v.s.data(), static_cast<int>(v.s.size()),
                             SQLITE_STATIC);
      break;
  }
  return rc == SQLITE_OK ? Status::ok() : sqlite_error("binding a value");
}

Status SqliteStore::write_batch(Batch* batch) {
  Status s = exec("BEGIN IMMEDIATE");
  if (!s) return s;
  int64_t audit = 0, written = 0;
  batch->superseded(&skip_);
  for (size_t i = 0; i < batch->writes.size(); ++i) {
    if (skip_[i]) continue;
    const QueuedWrite& w = batch->writes[i];
    sqlite3_stmt* st = write_stmts_[static_cast<size_t>(w.stmt)];
    // Every parameter is bound for every row, so no clear_bindings is needed.
    for (uint16_t k = 0; k < w.count && s; ++k) s = bind(st, k + 1, batch->value(w, k));
    if (s && sqlite3_step(st) != SQLITE_DONE) s = sqlite_error("writing a row");
    sqlite3_reset(st);
    if (!s) break;
    ++written;
    if (w.stmt == Stmt::kInsertAudit) ++audit;
  }
  if (s && audit > 0) {
    audit_rows_ += audit;
    if (audit_rows_ >= 1024) {
      audit_rows_ = 0;
      s = exec(fmt::format("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - {}",
                           kAuditCapacity)
                   .c_str());
    }
  }
  if (s) s = exec("COMMIT");
  if (!s) {
    // Nothing of the batch may remain: roll back whatever got in.
    if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");
    return s;
  }
  rows_written_ += written;
  ++commits_;
  return Status::ok();
}

Status SqliteStore::commit(int64_t seq) {
  std::lock_guard<std::mutex> leader(commit_mu_);
  if (seq > 0 && durable_seq_.load(std::memory_order_acquire) >= seq) {
    return failures_.outcome(seq);
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    std::swap(pending_, writing_);
  }
  if (writing_.empty()) return Status::ok();
  int64_t first_seq = writing_.first_seq();
  Status s;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    s = write_batch(&writing_);
  }
  int64_t last = writing_.last_seq;
  writing_.clear();
  if (!s) {
    ++failed_commits_;
    failures_.record(s, first_seq, last);
  }
  if (last > durable_seq_.load(std::memory_order_relaxed)) {
    durable_seq_.store(last, std::memory_order_release);
  }
  if (!s) return s;
  return failures_.outcome(seq);
}

Status SqliteStore::flush() { return commit(0); }

void SqliteStore::async_loop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  while (!stopping_) {
    async_cv_.wait_for(lock, std::chrono::milliseconds(options_.async_flush_ms), [this] {
      return stopping_ || pending_.writes.size() >= options_.async_max_batch;
    });
    if (pending_.empty()) continue;
    lock.unlock();
    commit(0);  // a failure is counted in stats; async mode acked already
    lock.lock();
  }
}

sqlite3_stmt* SqliteStore::cached(std::string_view sql, Status* status) {
  auto it = read_stmts_.find(std::string(sql));
  if (it != read_stmts_.end()) return it->second;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &st, nullptr) != SQLITE_OK) {
    *status = sqlite_error("preparing a query");
    return nullptr;
  }
  read_stmts_.emplace(std::string(sql), st);
  return st;
}

Status SqliteStore::read(std::string_view sql, std::initializer_list<Value> params,
                         const RowFn& fn) {
  std::lock_guard<std::mutex> lock(conn_mu_);
  if (db_ == nullptr) return Status::error(Code::kClosed, "storage: the store is closed");
  Status s;
  sqlite3_stmt* st = cached(sql, &s);
  if (st == nullptr) return s;
  int i = 1;
  for (const Value& v : params) {
    if (!(s = bind(st, i++, v))) break;
  }
  if (s) {
    SqliteRow row(st);
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        s = sqlite_error("reading");
        break;
      }
      if (!fn(row)) break;
    }
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return s;
}

Status SqliteStore::execute(std::string_view sql, std::initializer_list<Value> params,
                            int64_t* changes) {
  Status s = flush();
  if (!s) return s;
  std::lock_guard<std::mutex> leader(commit_mu_);
  std::lock_guard<std::mutex> lock(conn_mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr) !=
      SQLITE_OK) {
    return sqlite_error("preparing a statement");
  }
  int i = 1;
  for (const Value& v : params) {
    if (!(s = bind(st, i++, v))) break;
  }
  if (s && sqlite3_step(st) != SQLITE_DONE) s = sqlite_error("executing a statement");
  sqlite3_finalize(st);
  if (s && changes) *changes = sqlite3_changes64(db_);
  return s;
}

StoreStats SqliteStore::stats() const {
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

Status SqliteStore::check_integrity() {
  std::string result;
  Status s = read("PRAGMA integrity_check", {}, [&](const Row& r) {
    if (!result.empty()) result += "; ";
    result += r.text(0);
    return true;
  });
  if (!s) return s;
  if (result != "ok") {
    return Status::error(Code::kStorage, fmt::format("storage: integrity check: {}", result));
  }
  return Status::ok();
}

Status SqliteStore::close() {
  if (closed_) return Status::ok();
  closed_ = true;
  if (async_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      stopping_ = true;
    }
    async_cv_.notify_one();
    async_thread_.join();
  }
  Status s = db_ ? flush() : Status::ok();
  std::lock_guard<std::mutex> lock(conn_mu_);
  for (sqlite3_stmt*& st : write_stmts_) {
    sqlite3_finalize(st);
    st = nullptr;
  }
  for (auto& [sql, st] : read_stmts_) sqlite3_finalize(st);
  read_stmts_.clear();
  if (db_ != nullptr) {
    if (sqlite3_close(db_) != SQLITE_OK && s) s = sqlite_error("closing");
    db_ = nullptr;
  }
  return s;
}

}  // namespace

Status open_sqlite_store(const StoreOptions& options, std::unique_ptr<EventStore>* out) {
  auto store = std::make_unique<SqliteStore>(options);
  Status s = store->open();
  if (!s) return s;
  *out = std::move(store);
  return Status::ok();
}

}  // namespace baton
