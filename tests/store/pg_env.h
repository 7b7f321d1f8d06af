// The PostgreSQL server the tests use: BATON_PG_DSN names it (a libpq
// connection string; `scripts/pg-server.sh start DIR` prints one, and
// `make test` exports it). Without it the PostgreSQL tests fail, unless
// BATON_PG_OPTIONAL=1 lets them be skipped.
#ifndef BATON_TESTS_STORE_PG_ENV_H_
#define BATON_TESTS_STORE_PG_ENV_H_

#include <libpq-fe.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace baton::testing {

inline constexpr const char* kPgDsnMissing =
    "BATON_PG_DSN is not set, so the PostgreSQL store cannot be tested. Start a throwaway "
    "server with `scripts/pg-server.sh start DIR` and export BATON_PG_DSN=<the DSN it prints> "
    "(`make test` does both), or set BATON_PG_OPTIONAL=1 to skip the PostgreSQL tests.";

inline std::optional<std::string> pg_dsn() {
  const char* dsn = std::getenv("BATON_PG_DSN");
  if (dsn == nullptr || *dsn == '\0') return std::nullopt;
  return std::string(dsn);
}

inline bool pg_optional() {
  const char* v = std::getenv("BATON_PG_OPTIONAL");
  return v != nullptr && std::string(v) == "1";
}

inline std::string pg_dsn_or_throw() {
  if (auto dsn = pg_dsn()) return *dsn;
  throw std::runtime_error(kPgDsnMissing);
}

// `dsn` (key=value or URI form) naming `database` instead of its own.
inline std::string dsn_with_database(const std::string& dsn, const std::string& database) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    std::string detail = error ? error : "out of memory";
    PQfreemem(error);
    throw std::runtime_error(fmt::format("BATON_PG_DSN is not a libpq connection string: {}", detail));
  }
  auto quoted = [](const char* value) {
    std::string out = "'";
    for (const char* p = value; *p; ++p) {
      if (*p == '\'' || *p == '\\') out += '\\';
      out += *p;
    }
    return out + "'";
  };
  std::string out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string(o->keyword) == "dbname") continue;
    out += fmt::format("{}={} ", o->keyword, quoted(o->val));
  }
  PQconninfoFree(options);
  return out + "dbname=" + quoted(database.c_str());
}

// One connection for setting up and inspecting test databases.
class PgConnection {
 public:
  explicit PgConnection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string error = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error(
          fmt::format("cannot connect to PostgreSQL ({}): {}", dsn, error));
    }
    // Notices ("database ... does not exist, skipping") are no news here.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  }
  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs `sql` (no parameters: test setup only); throws on failure.
  void exec(const std::string& sql) { PQclear(run(sql)); }
  // The first column of the first row of `sql` as text ("" for NULL or no row).
  std::string scalar(const std::string& sql) {
    PGresult* r = run(sql);
    std::string out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return out;
  }

 private:
  PGresult* run(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      std::string error = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error(fmt::format("PostgreSQL: {}: {}", sql, error));
    }
    return r;
  }

  PGconn* conn_;
};

}  // namespace baton::testing

#endif  // BATON_TESTS_STORE_PG_ENV_H_
