// What the benchmarks share: percentiles, SQLite files to throw away, and
// PostgreSQL databases of their own for the --pg rows.
#ifndef BATON_BENCH_BENCH_UTIL_H_
#define BATON_BENCH_BENCH_UTIL_H_

#include <baton/baton.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#if BATON_WITH_POSTGRESQL
#include <unistd.h>

#include "store/pg_env.h"
#endif
#include "store/backend_common.h"

namespace baton_bench {

// The p-quantile (0..1) of `v`, which it reorders.
inline double percentile(std::vector<float>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

inline void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal", "-ackj0", "-ackj1"}) std::remove((path + suffix).c_str());
}

[[noreturn]] inline void die(const char* bench, const char* what) {
  std::fprintf(stderr, "%s: %s: %s\n", bench, what, baton_last_error());
  std::exit(1);
}

// baton_open's options for the SQLite database at `path`.
inline std::string sqlite_options(const std::string& path, const char* durability) {
  return fmt::format(R"({{"path":{},"durability":"{}"}})", baton::testing::json_quote(path),
                     durability);
}

#if BATON_WITH_POSTGRESQL
// A database of the benchmark's own on the server of `admin_dsn`, empty
// after reset(), dropped by the destructor.
class PgScratch {
 public:
  explicit PgScratch(std::string admin_dsn)
      : admin_dsn_(std::move(admin_dsn)),
        name_(fmt::format("baton_bench_{}", ::getpid())),
        dsn_(baton::testing::dsn_with_database(admin_dsn_, name_)) {}
  ~PgScratch() {
    try {
      baton::testing::PgConnection(admin_dsn_)
          .exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    } catch (const std::exception&) {
      // The server is gone: nothing is left to drop.
    }
  }
  PgScratch(const PgScratch&) = delete;
  PgScratch& operator=(const PgScratch&) = delete;

  // Drops and creates the database. Throws std::runtime_error.
  void reset() {
    baton::testing::PgConnection admin(admin_dsn_);
    admin.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    admin.exec(fmt::format("CREATE DATABASE {}", name_));
  }
  // baton_open's options for this database.
  std::string options(const char* durability) const {
    return fmt::format(R"({{"store":"postgresql","dsn":{},"durability":"{}"}})",
                       baton::testing::json_quote(dsn_), durability);
  }

 private:
  std::string admin_dsn_;
  std::string name_;
  std::string dsn_;
};
#endif

// Exits with a message when --pg is given to a build without PostgreSQL.
inline void require_postgres_support(const char* bench) {
#if !BATON_WITH_POSTGRESQL
  std::fprintf(stderr, "%s: --pg: this build of baton has no PostgreSQL store (libpq-dev)\n", bench);
  std::exit(2);
#else
  (void)bench;
#endif
}

}  // namespace baton_bench

#endif  // BATON_BENCH_BENCH_UTIL_H_
