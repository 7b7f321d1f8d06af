// The PostgreSQL tests' main: without a server in BATON_PG_DSN they fail with
// what to do, or, with BATON_PG_OPTIONAL=1, report themselves skipped (exit
// 77, CTest's SKIP_RETURN_CODE) rather than passing.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "store/pg_env.h"

int main(int argc, char** argv) {
  if (!baton::testing::pg_dsn()) {
    if (baton::testing::pg_optional()) {
      std::printf("skipped: BATON_PG_DSN is not set and BATON_PG_OPTIONAL=1\n");
      return 77;
    }
    std::fprintf(stderr, "FAILED: %s\n", baton::testing::kPgDsnMissing);
    return 1;
  }
  return Catch::Session().run(argc, argv);
}
