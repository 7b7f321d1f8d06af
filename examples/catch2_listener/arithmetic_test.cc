// Sample tests the listener records: plain passing cases and one that fails
// only when BATON_EXAMPLE_FAIL is set, so the example's own run stays green.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <numeric>
#include <vector>

TEST_CASE("sums a vector", "[arithmetic]") {
  std::vector<int> v{1, 2, 3, 4};
  REQUIRE(std::accumulate(v.begin(), v.end(), 0) == 10);
}

TEST_CASE("integer division truncates toward zero", "[arithmetic]") {
  CHECK(7 / 2 == 3);
  CHECK(-7 / 2 == -3);
}

TEST_CASE("fails on purpose when asked", "[arithmetic][demo-failure]") {
  const bool asked = std::getenv("BATON_EXAMPLE_FAIL") != nullptr;
  INFO("BATON_EXAMPLE_FAIL is set, so this test fails to show a failure report");
  CHECK(2 + 2 == (asked ? 5 : 4));
}
