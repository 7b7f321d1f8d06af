// A throwaway PostgreSQL schema for one test, on the server named by
// $BATON_PG_DSN (a libpq keyword/value connection string; `make test` starts
// a server and sets it). Without it the test fails, unless
// BATON_PG_OPTIONAL=1, when it is skipped with a warning: a broken setup is
// never silently green.
#ifndef BATON_TESTS_SUPPORT_PG_SCHEMA_H_
#define BATON_TESTS_SUPPORT_PG_SCHEMA_H_

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>
#include <fmt/format.h>

namespace baton::testing {

class PgSchema {
 public:
  explicit PgSchema(std::string_view name) {
    const char* base = std::getenv("BATON_PG_DSN");
    if (base == nullptr || *base == '\0') {
      const char* optional = std::getenv("BATON_PG_OPTIONAL");
      if (optional != nullptr && std::string_view(optional) == "1") {
        WARN("BATON_PG_DSN is not set: PostgreSQL test skipped (BATON_PG_OPTIONAL=1)");
        return;
      }
      FAIL("BATON_PG_DSN is not set: run the PostgreSQL tests through `make test` "
           "(scripts/pg-server.sh), or set BATON_PG_OPTIONAL=1 to skip them");
    }
    static std::atomic<int> counter{0};
    schema_ = fmt::format("t_{}_{}_{}", name, getpid(), counter++);
    base_ = base;
    exec(fmt::format("CREATE SCHEMA {}", schema_));
    dsn_ = fmt::format("{} options='-c search_path={}'", base_, schema_);
  }
  ~PgSchema() {
    if (!schema_.empty()) exec(fmt::format("DROP SCHEMA {} CASCADE", schema_));
  }
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;

  bool available() const { return !dsn_.empty(); }
  // A DSN whose tables live in the throwaway schema.
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
  void exec(const std::string& sql) {
    PGconn* pg = PQconnectdb(base_.c_str());
    INFO(PQerrorMessage(pg));
    REQUIRE(PQstatus(pg) == CONNECTION_OK);
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    PGresult* r = PQexec(pg, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(pg);
    INFO(sql << ": " << error);
    CHECK(ok);
  }

  std::string base_;
  std::string schema_;
  std::string dsn_;
};

}  // namespace baton::testing

#endif  // BATON_TESTS_SUPPORT_PG_SCHEMA_H_
