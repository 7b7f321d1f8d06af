// The conformance suite's PostgreSQL backend: a database per case, created
// on the server that BATON_PG_DSN names and dropped afterwards.
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include "store/backend.h"
#include "store/backend_common.h"
#include "store/pg_env.h"

namespace baton::testing {

namespace {

class PostgresDatabase final : public TestDatabase {
 public:
  explicit PostgresDatabase(std::string_view label) : admin_dsn_(pg_dsn_or_throw()) {
    static std::atomic<int> counter{0};
    // Unique per process and case; PostgreSQL keeps 63 bytes of a name.
    name_ = fmt::format("baton_t{}_{}_{}", ::getpid(), counter++, name_part(label)).substr(0, 63);
    dsn_ = dsn_with_database(admin_dsn_, name_);
    PgConnection admin(admin_dsn_);
    admin.exec(fmt::format("DROP DATABASE IF EXISTS {}", name_));
    admin.exec(fmt::format("CREATE DATABASE {}", name_));
  }
  ~PostgresDatabase() override {
    try {
      PgConnection admin(admin_dsn_);
      admin.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    } catch (const std::exception&) {
      // The server is gone: nothing is left to remove.
    }
  }

  std::string store_name() const override { return "postgresql"; }
  std::string describe() const override { return dsn_; }
  StoreOptions store_options() const override {
    StoreOptions o;
    o.dsn = dsn_;
    return o;
  }
  Status open_store(const StoreOptions& options, std::unique_ptr<EventStore>* out) const override {
    return open_postgres_store(options, out);
  }
  std::string engine_options(std::string_view extra) const override {
    return join_options("\"store\":\"postgresql\",\"dsn\":" + json_quote(dsn_), extra);
  }
  void set_schema_version(int version) override {
    PgConnection db(dsn_);
    db.exec(fmt::format("UPDATE baton_meta SET value = '{}' WHERE key = 'schema_version'",
                        version));
  }

 private:
  std::string admin_dsn_;
  std::string name_;
  std::string dsn_;
};

}  // namespace

std::unique_ptr<TestDatabase> new_test_database(std::string_view label) {
  return std::make_unique<PostgresDatabase>(label);
}

}  // namespace baton::testing
