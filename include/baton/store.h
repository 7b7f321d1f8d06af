// EventStore: persistence of the event log and the derived rows.
//
// The event log (append-only, global sequence number) is the source of truth;
// derived tables (runs, suites, attempts, specs, spec history, audit, client
// high-water marks) are written in the same transaction as the events that
// produced them, so after any crash the tables equal a rebuild from the log.
//
// Writes are queued, not executed: write() copies the values into the pending
// batch (the only copy of a payload baton makes), and commit(seq) makes
// everything up to seq durable. commit() is a leader/follower group commit:
// the first caller writes every pending row of every thread in one
// transaction; callers whose rows were in it return at once.
//
// Reads go through read() with constant SQL and bound parameters only: no
// statement is ever built from event data.
//
// Thread safety: every method may be called from any thread.
#ifndef BATON_STORE_H_
#define BATON_STORE_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "baton/status.h"

namespace baton {

enum class Durability : uint8_t {
  kFull,    // fsync before the ack: survives power loss
  kNormal,  // written (ack journal, or WAL) before the ack: survives a process crash
  kAsync,   // ack before commit; committed within `async_flush_ms`, and on close
};

// The statements a store knows how to execute, with their parameters in order.
enum class Stmt : uint8_t {
  // seq, run, type, client, client_seq, client_ts, received_at, payload
  kInsertEvent,
  // run, name, build, platform, status, started_at, ended_at, first_seq, last_seq,
  // tests, passed, failed, skipped, timedout, interrupted, flaky, config
  kUpsertRun,
  // run, suite, name, parent, file, started_at, ended_at
  kUpsertSuite,
  // run, test, attempt, name, suite, file, spec, worker, status, flaky, started_at,
  // ended_at, duration_ms, error_message, error, stdout, stderr, attachments
  kUpsertAttempt,
  // client, seq
  kUpsertClientSeq,
  // run, spec, state, attempts, worker, lease, lease_deadline, status, estimate_ms,
  // duration_ms, failures
  kUpsertSpec,
  // spec, platform, build_name, run, at, duration_ms, status
  kInsertSpecHistory,
  // at, client, code, field, rule, detail
  kInsertAudit,
  kCount,
};

// One bound value. Text is a view that write() copies.
struct Value {
  enum class Kind : uint8_t { kNull, kInt, kReal, kText };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0;
  std::string_view s;

  Value() = default;
  Value(std::nullptr_t) {}
  Value(int64_t v) : kind(Kind::kInt), i(v) {}
  Value(int v) : kind(Kind::kInt), i(v) {}
  Value(double v) : kind(Kind::kReal), d(v) {}
  Value(std::string_view v) : kind(Kind::kText), s(v) {}
  Value(const std::string& v) : kind(Kind::kText), s(v) {}
  Value(const char* v) : kind(Kind::kText), s(v) {}
  static Value text_or_null(std::string_view v) { return v.empty() ? Value() : Value(v); }
};

// A row handed to read() callbacks; valid during the callback only.
class Row {
 public:
  virtual ~Row() = default;
  virtual int columns() const = 0;
  virtual bool is_null(int col) const = 0;
  virtual int64_t int64(int col) const = 0;
  virtual double real(int col) const = 0;
  virtual std::string_view text(int col) const = 0;
};
// Return false to stop reading.
using RowFn = std::function<bool(const Row&)>;

struct StoreOptions {
  std::string path = ":memory:";
  Durability durability = Durability::kNormal;
  int64_t async_flush_ms = 20;  // async: the longest an acked event waits for its commit
  size_t async_max_batch = 4096;
  // async: queued rows beyond which the pusher whose write passes this
  // waits for the background writer to take the queue (backpressure), so
  // memory stays bounded when pushes outpace the writer. That push waits
  // for the writer's commit in progress: 16,384 rather than 65,536 halves
  // the slowest push (README, "Performance").
  int64_t async_backlog_rows = 16384;
  std::string dsn;  // PostgreSQL
  std::string sqlite_vfs;  // a registered SQLite VFS by name (fault injection); empty: default
  // SQLite, `normal`, a file database: acknowledge once the rows are appended
  // to the ack journal (copied into a shared mapping of the file: no system
  // call) and apply them to the tables in the background, instead of one
  // SQLite commit per push. Same guarantee: the event survives a process
  // crash, not a power loss.
  bool ack_journal = true;
  // Appends through the VFS's xWrite instead of the mapping, as on a VFS
  // whose files the operating system cannot open (for tests of that path).
  bool ack_journal_map = true;
  // The journal moves to its second file once the active one is this large
  // and every record of the other is in the tables.
  int64_t ack_journal_file_bytes = int64_t{64} << 20;
  // Journaled rows not yet in the tables beyond which each pusher waits
  // for the writer to bring them back under this before its ack
  // (backpressure). While the tables fail, pushes do not wait; at 16 times
  // this many rows they are refused with kStorage.
  int64_t ack_journal_backlog_rows = 65536;
};

struct StoreStats {
  int64_t commits = 0;
  int64_t rows_written = 0;
  int64_t failed_commits = 0;
  int64_t durable_seq = 0;
  int64_t pending_rows = 0;
  int64_t db_bytes = 0;
  // Ack journal: acknowledged rows not yet in the tables, and table writes
  // that failed with their rows kept for the next attempt.
  int64_t journal_rows = 0;
  int64_t deferred_commits = 0;
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Queues one write for the next commit. `seq` is the global sequence number
  // of the event the write belongs to (0: belongs to no event).
  virtual void write(Stmt stmt, std::initializer_list<Value> values, int64_t seq) = 0;
  // Between begin_group() and end_group() the calling thread's writes form
  // one unit that no commit splits: every row of one event lands in the same
  // transaction. Nothing but write() may be called on the store in between.
  virtual void begin_group() {}
  virtual void end_group() {}
  // Makes every write of sequence <= seq durable per the durability mode.
  // kStorage when the batch holding seq failed: none of its writes happened.
  virtual Status commit(int64_t seq) = 0;
  // Commits everything queued.
  virtual Status flush() = 0;
  // The highest sequence number whose batch committed (with the ack
  // journal: was journaled).
  virtual int64_t durable_seq() const = 0;
  // stats().failed_commits without the rest: read on every push.
  virtual int64_t failed_commits() const { return stats().failed_commits; }

  // Constant SQL with `?` placeholders and bound parameters only.
  virtual Status read(std::string_view sql, std::initializer_list<Value> params,
                      const RowFn& fn) = 0;
  // Statements that change stored rows outside the event flow (cleanup),
  // executed in one transaction after a flush. `changes` gets the rows touched.
  virtual Status execute(std::string_view sql, std::initializer_list<Value> params,
                         int64_t* changes) = 0;

  // A shared store (PostgreSQL) holds one log that several engines append
  // to. Its log grows by other engines' events too, so an engine takes the
  // log's write lock before deciding anything, applies what the others
  // appended since its last look, and commits before the lock is released.
  virtual bool shared() const { return false; }
  // Shared stores: blocks until this engine holds the log's write lock
  // (kStorage on timeout or a lost connection) and the calling thread has
  // joined the transaction that holds it. `*began` (optional) is true when
  // the lock was just taken: events other engines committed since this
  // engine last held it are visible to read() and must be applied first;
  // false when another thread of this engine held it already, so nothing
  // was appended by others meanwhile. No other engine appends until every
  // joined thread has called commit() (commit(0) just leaves); the last one
  // commits them all, which releases the lock. Unshared stores: no-op.
  virtual Status lock_log(bool* began = nullptr) {
    if (began) *began = false;
    return Status::ok();
  }

  virtual Durability durability() const = 0;
  // Called on every push: counters only, never a round trip to a server.
  virtual StoreStats stats() const = 0;
  // Runs the store's integrity check; ok or kStorage naming the problem.
  virtual Status check_integrity() = 0;
  // Stops background work and commits what is queued.
  virtual Status close() = 0;
};

// Scoped begin_group()/end_group().
class WriteGroup {
 public:
  explicit WriteGroup(EventStore* store) : store_(store) { store_->begin_group(); }
  ~WriteGroup() { store_->end_group(); }
  WriteGroup(const WriteGroup&) = delete;
  WriteGroup& operator=(const WriteGroup&) = delete;

 private:
  EventStore* store_;
};

// Opens (creating and migrating as needed) the SQLite store: WAL journal,
// schema versioned by PRAGMA user_version.
Status open_sqlite_store(const StoreOptions& options, std::unique_ptr<EventStore>* out);

// Opens (creating and migrating as needed) the PostgreSQL store on
// options.dsn, a libpq connection string. kInvalidArgument when this build
// has no PostgreSQL support.
Status open_postgres_store(const StoreOptions& options, std::unique_ptr<EventStore>* out);

// The schema version this build writes; opening a newer database is refused.
inline constexpr int kSchemaVersion = 1;

}  // namespace baton

#endif  // BATON_STORE_H_
