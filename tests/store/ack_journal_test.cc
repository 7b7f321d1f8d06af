// SQLite only: the ack journal of `normal` durability (src/store/ack_journal.h).
// A crash is a child process that acknowledges events and exits without
// closing, while the background writer is told to wait for a day: what it
// acknowledged is then only in the journal, and the next open must apply it,
// once.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "baton/store.h"
#include "core/helpers.h"
#include "reliability/faulty_vfs.h"
#include "store/ack_journal.h"

using namespace baton;
using namespace baton::testing;

namespace {

// Writes to the database and its WAL (not the ack journal) made by threads
// other than the store's writer ("baton-writer"), seen through the
// fault-injecting VFS, which only counts while unarmed.
std::atomic<int64_t> g_other_writes{0};

void count_other_writes(const char* path) {
  if (path != nullptr && std::string_view(path).find("-ackj") != std::string_view::npos) return;
  char thread[16] = {};
  pthread_getname_np(pthread_self(), thread, sizeof thread);
  if (std::string_view(thread) != "baton-writer") ++g_other_writes;
}

// Options that open the store through that VFS, with writes counted.
void count_writes_by_thread(StoreOptions* o) {
  faulty_vfs::install();
  faulty_vfs::observe_writes(count_other_writes);
  o->sqlite_vfs = faulty_vfs::kName;
}

StoreOptions journal_options(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.durability = Durability::kNormal;
  // The writer applies nothing on its own: only reads, flushes, close and
  // the pushers that backpressure holds back make it write.
  o.async_flush_ms = 24 * 3600 * 1000;
  o.async_max_batch = size_t{1} << 30;
  return o;
}

// Small files (4 KiB) that switch often, and a writer that wakes every
// millisecond to apply (and switch) as it goes.
StoreOptions rotating_options(const std::string& path) {
  StoreOptions o = journal_options(path);
  o.async_flush_ms = 1;
  o.ack_journal_file_bytes = 4096;
  return o;
}

void write_event(EventStore* store, int64_t seq, const std::string& payload) {
  WriteGroup group(store);
  store->write(Stmt::kInsertEvent, {seq, "r1", "log", "ci-1", seq, Value(), seq, payload}, seq);
  store->write(Stmt::kUpsertClientSeq, {"ci-1", seq}, seq);
}

// Commits events 1..3000 with 200-byte payloads, each acknowledged, calling
// after_commit(seq) after each: enough records for small files to switch
// many times.
void commit_3000(EventStore* store, const std::function<void(int64_t)>& after_commit) {
  const std::string payload(200, 'x');
  for (int64_t seq = 1; seq <= 3000; ++seq) {
    write_event(store, seq, payload);
    REQUIRE(store->commit(seq));
    after_commit(seq);
  }
}

// Events in the database file itself, read without baton (no replay).
int64_t events_in_file(const std::string& path) {
  return sqlite_integer(path, "SELECT COUNT(*) FROM events");
}

// Acknowledges events [from, to] in a child that then dies without closing.
void crash_after(const StoreOptions& o, int64_t from, int64_t to) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::unique_ptr<EventStore> store;
    if (!open_sqlite_store(o, &store)) _exit(2);
    for (int64_t seq = from; seq <= to; ++seq) {
      write_event(store.get(), seq, fmt::format("payload {}", seq));
      if (!store->commit(seq)) _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

int64_t file_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(n);
}

// Where the records of a journal file end, give or take the zero bytes a
// last record may end with: past the last byte that is not 0. Always inside
// the last record, whose header starts with a magic that is not 0.
int64_t records_end(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t end = data.find_last_not_of('\0');
  return end == std::string::npos ? 0 : static_cast<int64_t>(end + 1);
}

// How many of the journal files of the database at `path` this process has
// mapped.
int mapped_journal_files(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  bool mapped[2] = {false, false};
  for (std::string line; std::getline(maps, line);) {
    for (int i = 0; i < 2; ++i) {
      const std::string file = path + "-ackj" + std::to_string(i);
      const bool ends_with_file =
          line.size() >= file.size() &&
          line.compare(line.size() - file.size(), file.size(), file) == 0;
      if (ends_with_file) mapped[i] = true;
    }
  }
  return int{mapped[0]} + int{mapped[1]};
}

}  // namespace

TEST_CASE("the journal's checksum is CRC-32C") {
  // The check value of the CRC catalogue, and a split computation.
  CHECK(crc32c(0, "123456789", 9) == 0xE3069283u);
  CHECK(crc32c(crc32c(0, "12345", 5), "6789", 4) == 0xE3069283u);
  std::string zeros(32, '\0');
  CHECK(crc32c(0, zeros.data(), zeros.size()) == 0x8A9136AAu);
}

TEST_CASE("journal records carry every kind of value") {
  Batch in;
  std::string nul("a\0b", 3);
  in.append(Stmt::kInsertAudit, {int64_t{-7}, Value(), 2.5, "", nul, "text"}, 0);
  in.append(Stmt::kUpsertClientSeq, {"c", int64_t{1} << 40}, 9);
  std::string payload;
  encode_rows(in, 0, &payload);
  Batch out;
  REQUIRE(decode_rows(payload, &out));
  REQUIRE(out.writes.size() == 2);
  CHECK(out.last_seq == 9);
  const QueuedWrite& w = out.writes[0];
  CHECK(w.stmt == Stmt::kInsertAudit);
  CHECK(out.value(w, 0).i == -7);
  CHECK(out.value(w, 1).kind == Value::Kind::kNull);
  CHECK(out.value(w, 2).d == 2.5);
  CHECK(out.value(w, 3).kind == Value::Kind::kText);
  CHECK(out.value(w, 3).s.empty());
  CHECK(out.value(w, 4).s == nul);
  CHECK(out.value(out.writes[1], 1).i == int64_t{1} << 40);
  // A payload cut anywhere but between rows is refused, never half-read.
  Batch first;
  first.append(Stmt::kInsertAudit, {int64_t{-7}, Value(), 2.5, "", nul, "text"}, 0);
  std::string first_row;
  encode_rows(first, 0, &first_row);
  for (size_t cut = 1; cut < payload.size(); ++cut) {
    if (cut == first_row.size()) continue;
    Batch partial;
    CHECK_FALSE(decode_rows(std::string_view(payload).substr(0, cut), &partial));
  }
}

TEST_CASE("acknowledged rows are read back before they reach the tables") {
  std::string path = temp_db("ackj-read");
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(journal_options(path), &store));
  for (int64_t seq = 1; seq <= 10; ++seq) {
    write_event(store.get(), seq, "p");
    { Status cs = store->commit(seq); INFO(cs.message()); REQUIRE(cs); }
  }
  CHECK(store->durable_seq() == 10);
  CHECK(store->stats().journal_rows == 20);
  CHECK(events_in_file(path) == 0);
  // A read applies the journal first: it sees every acknowledged row.
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 10);
  CHECK(store->stats().journal_rows == 0);
  CHECK(events_in_file(path) == 10);
  REQUIRE(store->close());
  // A clean close leaves no journal behind.
  CHECK(file_size(path + "-ackj0") == -1);
  CHECK(file_size(path + "-ackj1") == -1);
}

TEST_CASE("a crash leaves acknowledged rows in the journal; the next open applies them once") {
  std::string path = temp_db("ackj-crash");
  StoreOptions o = journal_options(path);
  crash_after(o, 1, 50);
  CHECK(events_in_file(path) == 0);
  CHECK(file_size(path + "-ackj0") > 0);
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store->durable_seq() == 50);
  CHECK(events_in_file(path) == 50);
  CHECK(store_integer(store.get(), "SELECT seq FROM clients WHERE client = 'ci-1'") == 50);
  store.reset();  // closes

  // Again, with a database that already holds rows, twice in a row: the
  // second crash's journal holds only its own records.
  crash_after(o, 51, 60);
  crash_after(o, 61, 75);
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 75);
  CHECK(store_integer(store.get(), "SELECT MAX(seq) FROM events") == 75);
  CHECK(store->check_integrity());
  REQUIRE(store->close());
  // Reopening applies nothing twice.
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 75);
  REQUIRE(store->close());
}

TEST_CASE("records larger than one VFS write are appended and replayed, mapped or not") {
  // SQLite's unix VFS writes at most 128 KiB per xWrite call and calls the
  // rest a full disk: a record past that is written in pieces.
  for (bool map : {true, false}) {
    INFO("mapped appends: " << map);
    std::string path = temp_db(map ? "ackj-big-map" : "ackj-big-write");
    StoreOptions o = journal_options(path);
    o.ack_journal_map = map;
    o.ack_journal_file_bytes = 1 << 20;  // a record larger than the mapped window
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::unique_ptr<EventStore> store;
      if (!open_sqlite_store(o, &store)) _exit(2);
      for (int64_t seq = 1; seq <= 4; ++seq) {
        write_event(store.get(), seq, std::string(static_cast<size_t>(300000 * seq), 'a' + seq));
        if (!store->commit(seq)) _exit(3);
      }
      _exit(0);  // a crash: everything is in the journal only
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    std::unique_ptr<EventStore> store;
    REQUIRE(open_sqlite_store(o, &store));
    CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 4);
    CHECK(store_integer(store.get(), "SELECT SUM(LENGTH(payload)) FROM events") == 3000000);
    REQUIRE(store->close());
    remove_db_files(path);
  }
}

TEST_CASE("a torn journal tail is ignored, and a journal of another database too") {
  std::string path = temp_db("ackj-torn");
  StoreOptions o = journal_options(path);
  crash_after(o, 1, 20);
  // Cut the last record short, as a crash in the middle of a write would.
  // The file runs on in zeros past its records (appends fill a window of it
  // that was grown ahead): the records end at the last byte that is not 0.
  int64_t size = records_end(path + "-ackj0");
  REQUIRE(size > 100);
  std::filesystem::resize_file(path + "-ackj0", static_cast<uintmax_t>(size - 5));
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 19);
  REQUIRE(store->close());

  // A second database's journal put beside this one is not applied here.
  std::string other = temp_db("ackj-other");
  StoreOptions oo = journal_options(other);
  crash_after(oo, 1, 5);
  std::filesystem::copy_file(other + "-ackj0", path + "-ackj0",
                             std::filesystem::copy_options::overwrite_existing);
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 19);
  REQUIRE(store->close());
  REQUIRE(open_sqlite_store(oo, &store));
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 5);
  REQUIRE(store->close());
}

TEST_CASE("an open that cannot apply the journal fails and keeps it for the next") {
  std::string path = temp_db("ackj-keep");
  StoreOptions o = journal_options(path);
  crash_after(o, 1, 30);
  sqlite3* db = refuse_events(path);
  std::unique_ptr<EventStore> store;
  Status s = open_sqlite_store(o, &store);
  CHECK(s.code() == Code::kStorage);
  CHECK(s.message().find("disk says no") != std::string::npos);
  CHECK(file_size(path + "-ackj0") > 16);
  allow_events(db);
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 30);
  REQUIRE(store->close());
}

TEST_CASE("a second engine cannot open a database whose journal is in use") {
  std::string path = temp_db("ackj-busy");
  std::unique_ptr<EventStore> first, second;
  REQUIRE(open_sqlite_store(journal_options(path), &first));
  Status s = open_sqlite_store(journal_options(path), &second);
  CHECK(s.code() == Code::kStorage);
  CHECK(s.message().find("another engine has this database open") != std::string::npos);
  REQUIRE(first->close());
  first.reset();
  REQUIRE(open_sqlite_store(journal_options(path), &second));
  REQUIRE(second->close());
}

TEST_CASE("rows the tables refuse stay acknowledged and are written once they are taken") {
  std::string path = temp_db("ackj-refuse");
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(journal_options(path), &store));
  write_event(store.get(), 1, "p");
  REQUIRE(store->flush());
  sqlite3* db = refuse_events(path);
  write_event(store.get(), 2, "p");
  REQUIRE(store->commit(2));  // journaled: acknowledged
  Status s = store->flush();
  CHECK(s.code() == Code::kStorage);
  CHECK(s.message().find("disk says no") != std::string::npos);
  StoreStats st = store->stats();
  CHECK(st.failed_commits == 0);  // nothing was dropped
  CHECK(st.deferred_commits >= 1);
  CHECK(st.journal_rows == 2);
  allow_events(db);
  REQUIRE(store->flush());
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 2);
  CHECK(store->stats().journal_rows == 0);
  REQUIRE(store->close());
}

TEST_CASE("pushers wait for the writer once it is behind") {
  std::string path = temp_db("ackj-backlog");
  // The writer wakes for the pusher it holds back, and for nothing else.
  StoreOptions o = journal_options(path);
  o.ack_journal_backlog_rows = 100;
  count_writes_by_thread(&o);
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  const int64_t opening_writes = g_other_writes.load();
  int64_t most = 0;
  for (int64_t seq = 1; seq <= 1000; ++seq) {
    write_event(store.get(), seq, "p");
    REQUIRE(store->commit(seq));
    most = std::max(most, store->stats().journal_rows);
  }
  CHECK(most <= 100);
  // The writer wrote the backlog; the pushers only waited for it.
  CHECK(g_other_writes.load() == opening_writes);
  CHECK(events_in_file(path) >= 1000 - 50);
  REQUIRE(store->close());
}

TEST_CASE("async: a pusher waits for the writer to take the queue once it is behind") {
  for (const char* where : {"file", ":memory:"}) {
    INFO(where);
    std::string path = std::string(where) == "file" ? temp_db("async-backlog") : ":memory:";
    StoreOptions o = journal_options(path);  // as above
    o.durability = Durability::kAsync;
    o.async_backlog_rows = 100;
    count_writes_by_thread(&o);
    std::unique_ptr<EventStore> store;
    REQUIRE(open_sqlite_store(o, &store));
    const int64_t opening_writes = g_other_writes.load();
    int64_t most = 0;
    for (int64_t seq = 1; seq <= 1000; ++seq) {
      write_event(store.get(), seq, "p");  // two rows; async: no commit per push
      most = std::max(most, store->stats().pending_rows);
    }
    // Each write group ends below the limit, or once the writer took the queue.
    CHECK(most < 100);
    CHECK(store->stats().commits >= 1000 * 2 / 100 - 1);
    CHECK(g_other_writes.load() == opening_writes);  // the writer's commits
    REQUIRE(store->flush());
    CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 1000);
    REQUIRE(store->close());
  }
}

TEST_CASE("async: a pusher behind commits the queue itself while commits fail") {
  // Waiting for a writer that waits a day after a failure would hang the
  // pusher; it commits the queue instead, as the writer would, and the
  // queue stays bounded.
  std::string path = temp_db("async-failing");
  StoreOptions o = journal_options(path);
  o.durability = Durability::kAsync;
  o.async_backlog_rows = 100;
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  sqlite3* db = refuse_events(path);
  int64_t most = 0;
  for (int64_t seq = 1; seq <= 1000; ++seq) {
    write_event(store.get(), seq, "p");
    most = std::max(most, store->stats().pending_rows);
  }
  CHECK(most < 100);
  // The writer's failed commit, then one per pusher that met the limit.
  CHECK(store->stats().failed_commits >= 1000 * 2 / 100 - 1);
  allow_events(db);
  write_event(store.get(), 1001, "p");
  REQUIRE(store->flush());
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events WHERE seq = 1001") == 1);
  REQUIRE(store->close());
}

TEST_CASE("while the tables keep failing, a bounded backlog is kept and then pushes are refused") {
  std::string path = temp_db("ackj-bound");
  StoreOptions o = journal_options(path);
  o.ack_journal_backlog_rows = 10;  // refused from 160 waiting rows
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  sqlite3* db = refuse_events(path);
  int64_t acked = 0;
  Status s;
  for (int64_t seq = 1; seq <= 1000; ++seq) {
    write_event(store.get(), seq, "p");
    s = store->commit(seq);
    if (!s) break;
    acked = seq;
  }
  CHECK(s.code() == Code::kStorage);
  CHECK(s.message().find("acknowledged rows are waiting for the database") != std::string::npos);
  CHECK(acked == 80);  // 2 rows per event
  CHECK(store->stats().journal_rows == 160);
  CHECK(store->stats().failed_commits == 1);
  allow_events(db);
  REQUIRE(store->flush());
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == acked);
  // The refused event's seq is spent; the next one is taken.
  write_event(store.get(), acked + 2, "p");
  REQUIRE(store->commit(acked + 2));
  REQUIRE(store->close());
}

TEST_CASE("the journal switches files when reads, not the writer, apply it") {
  // A host that reads after every push (a dashboard, a harness checking
  // each event) applies the journal itself, and the background writer then
  // wakes to find nothing waiting. The files must still switch.
  std::string path = temp_db("ackj-rotate-reads");
  const StoreOptions o = rotating_options(path);
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  commit_3000(store.get(), [&](int64_t seq) {
    REQUIRE(store_integer(store.get(), "SELECT MAX(seq) FROM events") == seq);
  });
  // Every record is applied by the read after it, so each file may switch
  // as soon as it passes its limit: it stays within the limit plus one
  // mapped window (4 KiB pages here) and one record.
  int64_t a = file_size(path + "-ackj0"), b = file_size(path + "-ackj1");
  INFO("journal files: " << a << " and " << b << " bytes");
  CHECK(a <= 3 * 4096);
  CHECK(b <= 3 * 4096);
  // Both files have been active many times; only the active one keeps a
  // mapped window (none, if the last read switched files and nothing was
  // appended since).
  CHECK(mapped_journal_files(path) <= 1);
  REQUIRE(store->close());
}

TEST_CASE("the journal alternates between its two files and loses nothing across a crash") {
  std::string path = temp_db("ackj-rotate");
  const StoreOptions o = rotating_options(path);
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  commit_3000(store.get(), [&](int64_t seq) {
    if (seq % 50 != 0) return;
    // Let the writer catch up, so that file sizes do not depend on load.
    for (int i = 0; i < 10000 && store->stats().journal_rows > 0; ++i) usleep(200);
  });
  // 3000 records of over 200 bytes each were appended; switching files
  // reuses the space of applied records, so each file stays near its limit
  // plus a round or two of 50 records.
  int64_t a = file_size(path + "-ackj0"), b = file_size(path + "-ackj1");
  INFO("journal files: " << a << " and " << b << " bytes");
  CHECK(a + b < 3000 * 200 / 4);
  store.reset();
  // A crash while the writer applies and switches files behind the acks.
  crash_after(o, 3001, 6000);
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == 6000);
  CHECK(store_integer(store.get(), "SELECT MAX(seq) FROM events") == 6000);
  REQUIRE(store->close());
}
