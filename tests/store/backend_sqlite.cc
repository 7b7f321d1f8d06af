// The conformance suite's SQLite backend: a database file per case in the
// build tree, removed afterwards.
#include <sqlite3.h>

#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

#include "core/helpers.h"
#include "store/backend.h"
#include "store/backend_common.h"

namespace baton::testing {

namespace {

class SqliteDatabase final : public TestDatabase {
 public:
  explicit SqliteDatabase(std::string_view label)
      : path_(temp_db(fmt::format("store-{}", name_part(label)))) {}
  ~SqliteDatabase() override {
    remove_db_files(path_);
  }

  std::string store_name() const override { return "sqlite"; }
  std::string describe() const override { return path_; }
  StoreOptions store_options() const override {
    StoreOptions o;
    o.path = path_;
    // The conformance suite holds every store to one commit contract: a
    // commit either lands in the tables or fails with none of its rows. The
    // ack journal acknowledges before the tables (tests/store/ack_journal_test.cc).
    o.ack_journal = false;
    return o;
  }
  Status open_store(const StoreOptions& options, std::unique_ptr<EventStore>* out) const override {
    return open_sqlite_store(options, out);
  }
  std::string engine_options(std::string_view extra) const override {
    return join_options("\"path\":" + json_quote(path_), extra);
  }
  void set_schema_version(int version) override {
    sqlite3* db = nullptr;
    int rc = sqlite3_open(path_.c_str(), &db);
    if (rc == SQLITE_OK) {
      rc = sqlite3_exec(db, fmt::format("PRAGMA user_version={}", version).c_str(), nullptr,
                        nullptr, nullptr);
    }
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw std::runtime_error("setting user_version: " + error);
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<TestDatabase> new_test_database(std::string_view label) {
  return std::make_unique<SqliteDatabase>(label);
}

}  // namespace baton::testing
