// A throwaway PostgreSQL database for one Catch2 test outside the store
// suite, on the server of BATON_PG_DSN (pg_env.h): created on construction,
// dropped on destruction. Without a server the test fails saying what to do,
// or with BATON_PG_OPTIONAL=1 warns and has available() false.
#ifndef BATON_TESTS_STORE_PG_DATABASE_H_
#define BATON_TESTS_STORE_PG_DATABASE_H_

#include <unistd.h>

#include <atomic>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "store/pg_env.h"

namespace baton::testing {

class PgDatabase {
 public:
  explicit PgDatabase(std::string_view label) {
    std::optional<std::string> admin = pg_dsn();
    if (!admin) {
      if (pg_optional()) {
        WARN("PostgreSQL test skipped: BATON_PG_DSN is not set and BATON_PG_OPTIONAL=1");
        return;
      }
      FAIL(kPgDsnMissing);
    }
    static std::atomic<int> counter{0};
    admin_dsn_ = *admin;
    name_ = fmt::format("baton_{}_{}_{}", label, ::getpid(), counter++).substr(0, 63);
    PgConnection(admin_dsn_).exec(fmt::format("CREATE DATABASE {}", name_));
    dsn_ = dsn_with_database(admin_dsn_, name_);
  }
  ~PgDatabase() {
    if (name_.empty()) return;
    try {
      PgConnection(admin_dsn_).exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    } catch (const std::exception&) {
      // The server is gone: nothing is left to remove.
    }
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  bool available() const { return !dsn_.empty(); }
  const std::string& dsn() const { return dsn_; }
  // The DSN as the inside of a JSON string.
  std::string dsn_json() const {
    std::string out;
    for (char c : dsn_) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }

 private:
  std::string admin_dsn_;
  std::string name_;
  std::string dsn_;
};

}  // namespace baton::testing

#endif  // BATON_TESTS_STORE_PG_DATABASE_H_
