// SqliteStore: the embedded default EventStore (WAL, group commit).
#include <pthread.h>
#include <sqlite3.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "baton/store.h"
#include "common/brief_mutex.h"
#include "store/ack_journal.h"
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
  // Rows reach the tables in big transactions rather than one per push.
  bool batched() const {
    return in_memory() || options_.durability == Durability::kAsync ||
           (options_.durability == Durability::kNormal && options_.ack_journal);
  }
  ~SqliteStore() override { close(); }

  Status open();

  void write(Stmt stmt, std::initializer_list<Value> values, int64_t seq) override;
  void begin_group() override {
    queue_mu_.lock();
    group_owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void end_group() override {
    const bool behind = options_.durability == Durability::kAsync &&
                        static_cast<int64_t>(pending_.writes.size()) >=
                            options_.async_backlog_rows;
    group_owner_.store(std::thread::id(), std::memory_order_relaxed);
    queue_mu_.unlock();
    // A writer whose commits fail cannot be waited for: the pusher commits
    // the queue itself, and a failure is counted and handled as the
    // writer's would be (async acknowledged already).
    if (behind && !wait_for_writer()) commit(0);
  }
  Status commit(int64_t seq) override;
  Status flush() override;
  int64_t durable_seq() const override { return durable_seq_.load(std::memory_order_acquire); }
  int64_t failed_commits() const override { return failed_commits_.load(); }
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
  // One transaction of the batch's rows (conn_mu_ held). With the ack
  // journal, `record` > 0 is the last journal record the rows belong to.
  Status write_transaction(const Batch& batch, uint64_t record);
  Status bind(sqlite3_stmt* st, int index, const Value& v);
  sqlite3_stmt* cached(std::string_view sql, Status* status);  // conn_mu_ held
  // The background writer of `async` (commits what is queued) and of the
  // ack journal (writes what is journaled to the tables), within
  // async_flush_ms or once async_max_batch rows wait, or at once for a
  // pusher held back by wait_for_writer.
  void background_loop();
  // Backpressure: a pusher whose rows passed the backlog limit waits until
  // the writer has taken the queue (`async`) or brought the journal's
  // backlog back to the limit, so pushes go no faster than the tables take
  // rows. It does not write them itself: the writer would then stand idle
  // behind it, and both the wait and the throughput would be worse. False
  // when the writer's last write failed: then nobody is waited for.
  bool wait_for_writer();
  // queue_mu_ held: what wait_for_writer waits out, and what ends the wait.
  bool held_back() const;
  size_t waiting_rows() const;  // queue_mu_ held: what background_loop writes
  // queue_mu_ held, after rows were added to the `before` waiting: wakes
  // the writer once, as the waiting rows reach a batch. A writer busy then
  // counts them before it waits again, so no wake-up is lost, and rows
  // past the batch do not each pay for a notify.
  void wake_writer_past(size_t before) {
    if (before < options_.async_max_batch && waiting_rows() >= options_.async_max_batch) {
      async_cv_.notify_one();
    }
  }

  // The ack journal (see store/ack_journal.h). Appends are group commits
  // under journal_mu_; the background thread applies journaled batches to
  // the tables under commit_mu_. journal_mu_ and commit_mu_ are never held
  // together.
  bool journaled() const { return journal_.is_open(); }
  Status open_journal();
  Status journal_commit(int64_t seq);
  // journal_commit's append under journal_mu_; `behind`: the backlog passed
  // ack_journal_backlog_rows.
  Status journal_append(int64_t seq, bool* behind);
  // Beyond this many times the backlog limit, pushes are refused.
  static constexpr int64_t kBacklogRefuseFactor = 16;
  // After a batch's commit (or journal append) with outcome `s`: records a
  // failure, advances the durable seq, and gives the outcome for `seq`.
  // commit_mu_ held (journal_mu_ with the ack journal).
  Status finish_batch(const Status& s, int64_t first_seq, int64_t last_seq, int64_t seq);
  Status apply_journal();  // commit_mu_ held
  void rotate_journal();   // commit_mu_ held (one rotation at a time)

  StoreOptions options_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, static_cast<size_t>(Stmt::kCount)> write_stmts_{};
  std::unordered_map<std::string, sqlite3_stmt*> read_stmts_;
  std::vector<uint8_t> skip_;  // conn_mu_: the batch's superseded upserts

  // Lock order: commit_mu_ -> conn_mu_ ; queue_mu_ is a leaf. The locks
  // every push takes for a moment (queue_mu_, journal_mu_) are BriefMutex:
  // a pusher waiting for another's few rows spins instead of sleeping; the
  // ones held for a whole transaction are not.
  std::mutex commit_mu_;  // one committing leader at a time
  std::mutex conn_mu_;    // the connection
  mutable BriefMutex queue_mu_;
  Batch pending_;         // queue_mu_
  // The thread holding queue_mu_ for a write group, whose writes skip locking.
  std::atomic<std::thread::id> group_owner_{};
  Batch writing_;         // commit_mu_
  std::atomic<int64_t> durable_seq_{0};
  FailedBatches failures_;  // commit_mu_ (journal_mu_ with the ack journal)

  BriefMutex journal_mu_;  // one journal appender at a time
  AckJournal journal_;     // journal_mu_, but see rotate_journal()
  uint64_t next_record_ = 1;  // journal_mu_
  uint64_t db_id_ = 0;
  // With the journal, pending_ holds the journaled rows first: the first
  // journaled_writes_ of its writes are journaled and acknowledged, the rest
  // wait for the next append. An append encodes the rest in place and moves
  // the mark; the applier takes the journaled rows into applying_, where
  // they stay until they are in the tables. No row is copied on the way
  // from a push to its ack, and the applier's commit coalesces across every
  // append it takes.
  size_t journaled_writes_ = 0;     // queue_mu_
  uint64_t journaled_record_ = 0;   // queue_mu_: the last record journaled
  Batch applying_;                  // commit_mu_
  int64_t journal_rows_ = 0;        // queue_mu_: journaled rows, in both
  std::atomic<uint64_t> applied_record_{0};
  std::atomic<int64_t> deferred_commits_{0};
  sqlite3_stmt* journal_stmt_ = nullptr;

  std::atomic<int64_t> commits_{0}, rows_written_{0}, failed_commits_{0};
  int64_t audit_rows_ = 0;

  std::thread async_thread_;
  std::condition_variable_any async_cv_;  // waits with queue_mu_
  std::condition_variable_any drained_cv_;  // wait_for_writer, with queue_mu_
  int held_pushers_ = 0;        // queue_mu_: pushers in wait_for_writer
  // queue_mu_: the last write to the tables (a commit, or a journal apply)
  // failed.
  bool writes_failing_ = false;
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
  // A database written in big batches (in memory, `async`, or `normal` with
  // the ack journal) gets 32 KiB pages instead of 4 KiB: its inserts split
  // pages far less often (bench_ingest: in-memory +11% with one thread, +18%
  // with two; `async` on a file about +15%). A database made for a commit
  // per push keeps SQLite's default, as each commit writes its whole pages
  // to the WAL. The size is fixed when the file is created, so this only
  // decides for a new database.
  if (batched()) {
    Status p = exec("PRAGMA page_size=32768");
    if (!p) return p;
  }
  Status s = exec("PRAGMA journal_mode=WAL");
  if (!s) return s;
  s = exec(options_.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                    : "PRAGMA synchronous=NORMAL");
  if (!s) return s;
  if (!(s = exec("PRAGMA foreign_keys=OFF"))) return s;
  // Debian's SQLite zeroes deleted content by default (SECURE_DELETE), so
  // that it cannot be read back from the file. An in-memory database has no
  // file, and the zeroing costs its writer about 3% of its instructions.
  if (in_memory() && !(s = exec("PRAGMA secure_delete=OFF"))) return s;
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
  if (options_.durability == Durability::kNormal && options_.ack_journal && !in_memory()) {
    const char* file = sqlite3_db_filename(db_, "main");
    if (file != nullptr && file[0] != '\0' && !(s = open_journal())) {
      // Closed unapplied: kept for the next open, and this store is not journaled.
      journal_.close(false);
      return s;
    }
  }
  if (options_.durability == Durability::kAsync || journaled()) {
    async_thread_ = std::thread([this] {
      // Named so that top, perf and gdb tell the writer from the host's threads.
      pthread_setname_np(pthread_self(), "baton-writer");
      background_loop();
    });
  }
  return Status::ok();
}

Status SqliteStore::open_journal() {
  // Which database the journal belongs to, and its last record in the tables.
  Status s = exec(
      "CREATE TABLE IF NOT EXISTS ack_journal(id INTEGER PRIMARY KEY CHECK (id = 1), "
      "db_id INTEGER NOT NULL, record INTEGER NOT NULL)");
  if (!s) return s;
  uint64_t applied = 0;
  bool found = false;
  s = read("SELECT db_id, record FROM ack_journal WHERE id = 1", {}, [&](const Row& r) {
    db_id_ = static_cast<uint64_t>(r.int64(0));
    applied = static_cast<uint64_t>(r.int64(1));
    found = true;
    return false;
  });
  if (!s) return s;
  if (!found) {
    std::random_device rd;
    db_id_ = (uint64_t{rd()} << 32 | rd()) & 0x7FFFFFFFFFFFFFFF;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "INSERT INTO ack_journal(id, db_id, record) VALUES (1, ?, 0)", -1,
                           &st, nullptr) != SQLITE_OK) {
      return sqlite_error("preparing the journal's row");
    }
    s = bind(st, 1, Value(static_cast<int64_t>(db_id_)));
    if (s && sqlite3_step(st) != SQLITE_DONE) s = sqlite_error("writing the journal's row");
    sqlite3_finalize(st);
    if (!s) return s;
  }
  if (sqlite3_prepare_v3(db_, "UPDATE ack_journal SET record = ? WHERE id = 1", -1,
                         SQLITE_PREPARE_PERSISTENT, &journal_stmt_, nullptr) != SQLITE_OK) {
    return sqlite_error("preparing the journal statement");
  }
  sqlite3_vfs* vfs =
      sqlite3_vfs_find(options_.sqlite_vfs.empty() ? nullptr : options_.sqlite_vfs.c_str());
  if (vfs == nullptr) return Status::error(Code::kStorage, "storage: no SQLite VFS");
  if (!(s = journal_.open(vfs, std::string(sqlite3_db_filename(db_, "main")) + "-ackj",
                          options_.ack_journal_file_bytes, options_.ack_journal_map))) {
    return s;
  }
  // What the last run acknowledged but did not get into the tables.
  Batch replayed;
  uint64_t last = applied;
  s = journal_.replay(db_id_, applied, [&](uint64_t record, std::string_view payload) {
    last = record;
    return decode_rows(payload, &replayed);
  });
  if (!s) return s;
  if (!replayed.empty()) {
    if (!(s = write_transaction(replayed, last))) return s;
    if (replayed.last_seq > durable_seq_.load()) durable_seq_ = replayed.last_seq;
  }
  applied_record_ = last;
  next_record_ = last + 1;
  return journal_.reset(db_id_);
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
  std::unique_lock<BriefMutex> lock(queue_mu_, std::defer_lock);
  if (group_owner_.load(std::memory_order_relaxed) != std::this_thread::get_id()) lock.lock();
  pending_.append(stmt, values, seq);
  if (options_.durability == Durability::kAsync) wake_writer_past(pending_.writes.size() - 1);
}

// Binds `v` as parameter `index` of `st`; SQLite's result code.
int bind_value(sqlite3_stmt* st, int index, const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNull: return sqlite3_bind_null(st, index);
    case Value::Kind::kInt: return sqlite3_bind_int64(st, index, v.i);
    case Value::Kind::kReal: return sqlite3_bind_double(st, index, v.d);
    case Value::Kind::kText:
      return sqlite3_bind_text(st, index, v.s.data(), static_cast<int>(v.s.size()),
                               SQLITE_STATIC);
  }
  return SQLITE_MISUSE;
}

Status SqliteStore::bind(sqlite3_stmt* st, int index, const Value& v) {
  return bind_value(st, index, v) == SQLITE_OK ? Status::ok() : sqlite_error("binding a value");
}

Status SqliteStore::write_transaction(const Batch& batch, uint64_t record) {
  Status s = exec("BEGIN IMMEDIATE");
  if (!s) return s;
  int64_t audit = 0, written = 0;
  batch.superseded(&skip_);
  for (size_t i = 0; i < batch.writes.size(); ++i) {
    if (skip_[i]) continue;
    const QueuedWrite& w = batch.writes[i];
    sqlite3_stmt* st = write_stmts_[static_cast<size_t>(w.stmt)];
    // Every parameter is bound for every row, so no clear_bindings is
    // needed. Result codes, not a Status per value: this is the writer's
    // innermost loop.
    int rc = SQLITE_OK;
    for (uint16_t k = 0; k < w.count && rc == SQLITE_OK; ++k) {
      rc = bind_value(st, k + 1, batch.value(w, k));
    }
    if (rc != SQLITE_OK) {
      s = sqlite_error("binding a value");
    } else if (sqlite3_step(st) != SQLITE_DONE) {
      s = sqlite_error("writing a row");
    }
    sqlite3_reset(st);
    if (!s) break;
    ++written;
    if (w.stmt == Stmt::kInsertAudit) ++audit;
  }
  if (s && record > 0) {
    s = bind(journal_stmt_, 1, Value(static_cast<int64_t>(record)));
    if (s && sqlite3_step(journal_stmt_) != SQLITE_DONE) s = sqlite_error("noting the journal");
    sqlite3_reset(journal_stmt_);
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
  if (journaled()) return journal_commit(seq);
  std::lock_guard<std::mutex> leader(commit_mu_);
  if (seq > 0 && durable_seq_.load(std::memory_order_acquire) >= seq) {
    return failures_.outcome(seq);
  }
  {
    std::lock_guard<BriefMutex> lock(queue_mu_);
    std::swap(pending_, writing_);
    if (held_pushers_ > 0) drained_cv_.notify_all();
  }
  if (writing_.empty()) return Status::ok();
  int64_t first_seq = writing_.first_seq();
  Status s;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    s = write_transaction(writing_, 0);
  }
  int64_t last = writing_.last_seq;
  writing_.clear();
  {
    std::lock_guard<BriefMutex> lock(queue_mu_);
    writes_failing_ = !s;
    if (held_pushers_ > 0) drained_cv_.notify_all();
  }
  return finish_batch(s, first_seq, last, seq);
}

Status SqliteStore::finish_batch(const Status& s, int64_t first_seq, int64_t last_seq,
                                 int64_t seq) {
  if (!s) {
    ++failed_commits_;
    failures_.record(s, first_seq, last_seq);
  }
  // A failed batch's sequence numbers are spent too: none is used twice.
  if (last_seq > durable_seq_.load(std::memory_order_relaxed)) {
    durable_seq_.store(last_seq, std::memory_order_release);
  }
  if (!s) return s;
  return failures_.outcome(seq);
}

Status SqliteStore::flush() {
  if (!journaled()) return commit(0);
  // Journal what is queued, then write every journaled row to the tables. A
  // failed table write keeps the rows (they are acknowledged) for the next.
  bool behind = false;  // a flush writes the backlog itself, below
  Status j = journal_append(0, &behind);
  Status a;
  {
    std::lock_guard<std::mutex> leader(commit_mu_);
    a = apply_journal();
  }
  return j ? a : j;
}

Status SqliteStore::journal_commit(int64_t seq) {
  bool behind = false;
  Status s = journal_append(seq, &behind);
  if (behind) wait_for_writer();
  return s;
}

bool SqliteStore::held_back() const {
  if (journaled()) return journal_rows_ > options_.ack_journal_backlog_rows;
  return static_cast<int64_t>(pending_.writes.size()) >= options_.async_backlog_rows;
}

bool SqliteStore::wait_for_writer() {
  std::unique_lock<BriefMutex> lock(queue_mu_);
  if (held_back() && !writes_failing_ && !stopping_) {
    ++held_pushers_;
    async_cv_.notify_one();
    drained_cv_.wait(lock, [&] { return stopping_ || writes_failing_ || !held_back(); });
    --held_pushers_;
  }
  // With the journal, failing tables keep the rows journaled: pushes go on
  // until kBacklogRefuseFactor times the limit (journal_append).
  return !writes_failing_;
}

Status SqliteStore::journal_append(int64_t seq, bool* behind) {
  std::lock_guard<BriefMutex> leader(journal_mu_);
  if (seq > 0 && durable_seq_.load(std::memory_order_acquire) >= seq) {
    return failures_.outcome(seq);
  }
  // The rows past the mark, encoded where they are. Pushers wait for
  // queue_mu_ meanwhile; the applier may move them (to the front of a new
  // pending_) once it is released, but never past the mark.
  size_t count = 0;
  int64_t first_seq = 0, last = 0;
  Status s;
  {
    std::lock_guard<BriefMutex> lock(queue_mu_);
    count = pending_.writes.size() - journaled_writes_;
    if (count == 0) return failures_.outcome(seq);
    pending_.seq_range(journaled_writes_, pending_.writes.size(), &first_seq, &last);
    const int64_t limit = options_.ack_journal_backlog_rows;
    if (journal_rows_ >= kBacklogRefuseFactor * limit) {
      // Even pushers writing the backlog could not get it into the tables.
      s = Status::error(Code::kStorage,
                        fmt::format("storage: {} acknowledged rows are waiting for the "
                                    "database, whose writes keep failing; pushes are refused "
                                    "until they are written",
                                    journal_rows_));
    } else {
      encode_rows(pending_, journaled_writes_, journal_.start_record());
    }
  }
  if (s) s = journal_.append(next_record_);
  {
    std::lock_guard<BriefMutex> lock(queue_mu_);
    if (s) {
      journaled_writes_ += count;
      const size_t before = waiting_rows();
      journal_rows_ += static_cast<int64_t>(count);
      journaled_record_ = next_record_++;
      wake_writer_past(before);
      *behind = journal_rows_ > options_.ack_journal_backlog_rows;
    } else {
      // Not acknowledged: the rows go, as after a failed commit. Rows that
      // other pushers queued meanwhile stay for the next append.
      pending_.erase_writes(journaled_writes_, journaled_writes_ + count);
    }
  }
  return finish_batch(s, first_seq, last, seq);
}

Status SqliteStore::apply_journal() {
  uint64_t record = 0;  // the last record whose rows applying_ holds
  {
    std::lock_guard<BriefMutex> lock(queue_mu_);
    const size_t marked = journaled_writes_;
    if (marked > 0) {
      if (applying_.empty()) {
        // Take pending_ whole and give back the rows past the mark.
        std::swap(applying_, pending_);
        pending_.append_writes(applying_, marked, applying_.writes.size());
        applying_.truncate(marked);
      } else {
        // A failed write's rows are still waiting: these go after them.
        applying_.append_writes(pending_, 0, marked);
        pending_.erase_writes(0, marked);
      }
      journaled_writes_ = 0;
    }
    record = journaled_record_;
  }
  if (applying_.empty()) return Status::ok();
  Status s;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    s = write_transaction(applying_, record);
  }
  if (!s) {
    ++deferred_commits_;
    std::lock_guard<BriefMutex> lock(queue_mu_);
    writes_failing_ = true;
    if (held_pushers_ > 0) drained_cv_.notify_all();
    return s;
  }
  applied_record_.store(record, std::memory_order_release);
  {
    std::lock_guard<BriefMutex> lock(queue_mu_);
    journal_rows_ -= static_cast<int64_t>(applying_.writes.size());
    applying_.clear();
    writes_failing_ = false;
    if (held_pushers_ > 0) drained_cv_.notify_all();
  }
  // Whoever applied (the writer, a read, a flush) may free the other file:
  // a host that reads after every push leaves the writer nothing to apply,
  // and the active file would otherwise grow without bound.
  rotate_journal();
  return Status::ok();
}

void SqliteStore::rotate_journal() {
  {
    std::lock_guard<BriefMutex> lock(journal_mu_);
    if (!journal_.may_rotate(applied_record_.load(), options_.ack_journal_file_bytes)) return;
  }
  // Appends go to the active file only, so the other starts over unlocked.
  if (!journal_.reset_inactive(db_id_)) return;  // tried again after the next apply
  {
    std::lock_guard<BriefMutex> lock(journal_mu_);
    journal_.switch_files();
  }
  // Unlocked too: an munmap of the old window would hold up every append.
  journal_.release_inactive();
}

size_t SqliteStore::waiting_rows() const {
  return journaled() ? static_cast<size_t>(journal_rows_) : pending_.writes.size();
}

void SqliteStore::background_loop() {
  std::unique_lock<BriefMutex> lock(queue_mu_);
  bool failing = false;
  while (!stopping_) {
    // After a failed write, wait the whole interval before trying again.
    async_cv_.wait_for(lock, std::chrono::milliseconds(options_.async_flush_ms), [&] {
      return stopping_ ||
             (!failing && (waiting_rows() >= options_.async_max_batch ||
                           (held_pushers_ > 0 && held_back() && !writes_failing_)));
    });
    if (waiting_rows() == 0) continue;
    lock.unlock();
    if (journaled()) {
      std::lock_guard<std::mutex> leader(commit_mu_);
      failing = !apply_journal();  // the rows stay journaled for the next try
    } else {
      failing = !commit(0);  // counted in stats; async mode acked already
    }
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
  if (journaled()) {
    // Reads see every acknowledged row: journaled ones are written first.
    std::lock_guard<std::mutex> leader(commit_mu_);
    Status a = apply_journal();
    if (!a) return a;
  }
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
    std::lock_guard<BriefMutex> lock(queue_mu_);
    st.pending_rows = static_cast<int64_t>(pending_.writes.size() - journaled_writes_);
    st.journal_rows = journal_rows_;
  }
  st.deferred_commits = deferred_commits_.load();
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
      std::lock_guard<BriefMutex> lock(queue_mu_);
      stopping_ = true;
    }
    async_cv_.notify_one();
    drained_cv_.notify_all();
    async_thread_.join();
  }
  Status s = db_ ? flush() : Status::ok();
  if (journaled()) {
    // Every journaled row in the tables: the journal has nothing left to
    // give, so it goes. Otherwise the next open applies it.
    bool empty;
    {
      std::lock_guard<BriefMutex> lock(queue_mu_);
      empty = journal_rows_ == 0;
    }
    Status j = journal_.close(s && empty);
    if (s) s = j;
  }
  std::lock_guard<std::mutex> lock(conn_mu_);
  sqlite3_finalize(journal_stmt_);
  journal_stmt_ = nullptr;
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
