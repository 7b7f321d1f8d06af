// Sample tests on strings, in a second file: the listener records one suite per file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <string>

TEST_CASE("upper-cases ASCII", "[text]") {
  std::string s = "baton";
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  REQUIRE(s == "BATON");
}

TEST_CASE("finds a substring", "[text]") {
  std::string s = "run.start";
  SECTION("present") { CHECK(s.find("start") == 4); }
  SECTION("absent") { CHECK(s.find("end") == std::string::npos); }
}
