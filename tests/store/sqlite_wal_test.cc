// SQLite only: the WAL must stay bounded under a stream of one-event commits
// (normal durability: every push is its own transaction), and reopening finds
// every row.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "baton/store.h"
#include "core/helpers.h"

using namespace baton;
using namespace baton::testing;

TEST_CASE("a stream of one-event commits keeps the WAL bounded and loses nothing") {
  namespace fs = std::filesystem;
  std::string path = temp_db("store-wal");
  StoreOptions o;
  o.path = path;
  o.durability = Durability::kNormal;
  o.ack_journal = false;  // a SQLite commit per event
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  // Each commit rewrites at least one page, so without checkpoints the WAL
  // would end with more than `events` pages.
  const int64_t events = 20000;
  const std::string payload(300, 'x');
  for (int64_t seq = 1; seq <= events; ++seq) {
    store->write(Stmt::kInsertEvent, {seq, "r1", "log", "ci-1", seq, Value(), seq, payload}, seq);
    Status s = store->commit(seq);
    if (!s) FAIL("commit " << seq << ": " << s.message());
  }
  // The WAL file keeps the size of its longest run (up to journal_size_limit):
  // checkpoints (SQLite's, every 1000 pages) must have started it over well
  // before `events` pages.
  auto wal_pages = static_cast<int64_t>(fs::file_size(path + "-wal") / (4096 + 24));
  INFO("the WAL reached " << wal_pages << " pages");
  CHECK(wal_pages < 4000);
  CHECK(wal_pages < events);
  REQUIRE(store->close());

  store.reset();
  REQUIRE(open_sqlite_store(o, &store));
  CHECK(store->durable_seq() == events);
  CHECK(store_integer(store.get(), "SELECT COUNT(*) FROM events") == events);
  CHECK(store->check_integrity());
  REQUIRE(store->close());
  remove_db_files(path);
}
