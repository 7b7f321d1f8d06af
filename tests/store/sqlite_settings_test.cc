// SQLite only: the settings a store gives its database depend on how it is
// written (src/store/sqlite_store.cc, SqliteStore::open).
#include <catch2/catch.hpp>

#include <string>

#include "baton/store.h"
#include "core/helpers.h"

using namespace baton;
using namespace baton::testing;

namespace {

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
  CHECK(store_integer(store.get(), "PRAGMA page_size") == 32768);
  CHECK(store_integer(store.get(), "PRAGMA secure_delete") == 0);
  REQUIRE(store->close());
}

TEST_CASE("a database file keeps the library's secure_delete; its page size follows its commits") {
  // What a connection of this SQLite library starts with.
  const int64_t secure_delete = sqlite_integer(":memory:", "PRAGMA secure_delete");
  struct Case {
    const char* name;
    Durability durability;
    int64_t page_size;
  };
  // async writes big batches and gets big pages; full commits every push
  // and keeps SQLite's default.
  for (const Case& c : {Case{"async", Durability::kAsync, 32768},
                        Case{"full", Durability::kFull, 4096}}) {
    INFO(c.name);
    const std::string path = temp_db(fmt::format("settings-{}", c.name));
    auto store = open_store(path, c.durability);
    CHECK(store_integer(store.get(), "PRAGMA page_size") == c.page_size);
    CHECK(store_integer(store.get(), "PRAGMA secure_delete") == secure_delete);
    REQUIRE(store->close());
    remove_db_files(path);
  }
}
