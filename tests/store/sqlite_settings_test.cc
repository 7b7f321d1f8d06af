// SQLite only: the settings a store gives its database depend on how it is
// written (src/store/sqlite_store.cc, SqliteStore::open).
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <string>

#include "baton/store.h"
#include "core/helpers.h"

using namespace baton;
using namespace baton::testing;

namespace {

int64_t pragma(EventStore* store, const char* sql) {
  int64_t v = -1;
  REQUIRE(store->read(sql, {}, [&](const Row& r) {
    v = r.int64(0);
    return false;
  }));
  return v;
}

// What a connection of this SQLite library starts with.
int64_t library_secure_delete() {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA secure_delete", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

std::unique_ptr<EventStore> open_store(const std::string& path, Durability durability) {
  StoreOptions o;
  o.path = path;
  o.durability = durability;
  std::unique_ptr<EventStore> store;
  REQUIRE(open_sqlite_store(o, &store));
  return store;
}

}  // namespace

TEST_CASE("an in-memory database has big pages and does not zero deleted content") {
  auto store = open_store(":memory:", Durability::kAsync);
  CHECK(pragma(store.get(), "PRAGMA page_size") == 32768);
  CHECK(pragma(store.get(), "PRAGMA secure_delete") == 0);
  REQUIRE(store->close());
}

TEST_CASE("a database file keeps the library's secure_delete; its page size follows its commits") {
  const int64_t secure_delete = library_secure_delete();
  SECTION("async: big batches, big pages") {
    const std::string path = temp_db("settings-async");
    auto store = open_store(path, Durability::kAsync);
    CHECK(pragma(store.get(), "PRAGMA page_size") == 32768);
    CHECK(pragma(store.get(), "PRAGMA secure_delete") == secure_delete);
    REQUIRE(store->close());
    remove_db_files(path);
  }
  SECTION("full: a commit per push, SQLite's default pages") {
    const std::string path = temp_db("settings-full");
    auto store = open_store(path, Durability::kFull);
    CHECK(pragma(store.get(), "PRAGMA page_size") == 4096);
    CHECK(pragma(store.get(), "PRAGMA secure_delete") == secure_delete);
    REQUIRE(store->close());
    remove_db_files(path);
  }
}
