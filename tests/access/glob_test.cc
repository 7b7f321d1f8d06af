#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "baton/access.h"

using baton::glob_match;

TEST_CASE("glob: literals, * and ?", "[access][glob]") {
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*", "anything at all"));
  CHECK(glob_match("", ""));
  CHECK_FALSE(glob_match("", "a"));
  CHECK(glob_match("nightly", "nightly"));
  CHECK_FALSE(glob_match("nightly", "nightly-1"));
  CHECK_FALSE(glob_match("nightly", "nightl"));
  CHECK(glob_match("nightly-*", "nightly-"));
  CHECK(glob_match("nightly-*", "nightly-2024-01-02"));
  CHECK_FALSE(glob_match("nightly-*", "weekly-2024"));
  CHECK_FALSE(glob_match("nightly-*", "xnightly-1"));
  CHECK(glob_match("*-ci", "build-ci"));
  CHECK_FALSE(glob_match("*-ci", "build-cii"));
  CHECK(glob_match("ci-?", "ci-3"));
  CHECK_FALSE(glob_match("ci-?", "ci-"));
  CHECK_FALSE(glob_match("ci-?", "ci-33"));
  CHECK(glob_match("?", "x"));
  CHECK_FALSE(glob_match("?", ""));
  CHECK(glob_match("a*b*c", "abc"));
  CHECK(glob_match("a*b*c", "a-b-b-c-c"));
  CHECK_FALSE(glob_match("a*b*c", "a-b-b-c-d"));
  CHECK(glob_match("**", ""));
  CHECK(glob_match("a**b", "ab"));
  CHECK(glob_match("*?", "x"));
  CHECK_FALSE(glob_match("*?", ""));
  CHECK(glob_match("?*?", "xy"));
  CHECK_FALSE(glob_match("?*?", "x"));
  CHECK(glob_match("*a", "aaaa"));
  CHECK(glob_match("*aab", "aaaab"));
  CHECK(glob_match("*ab*ab", "abxabyab"));
  // No escapes and no classes: only * and ? are special.
  CHECK(glob_match("[ab]", "[ab]"));
  CHECK_FALSE(glob_match("[ab]", "a"));
  CHECK(glob_match("a\\*", "a\\xyz"));
  // Case matters.
  CHECK_FALSE(glob_match("Nightly-*", "nightly-1"));
}

TEST_CASE("glob: ? is one UTF-8 character", "[access][glob]") {
  CHECK(glob_match("run-?", "run-\xc3\xa9"));           // é, two bytes
  CHECK(glob_match("run-?", "run-\xe2\x82\xac"));       // €, three bytes
  CHECK(glob_match("?", "\xf0\x9f\x9a\x80"));           // four bytes
  CHECK_FALSE(glob_match("run-??", "run-\xc3\xa9"));
  CHECK(glob_match("*?", "\xc3\xa9"));
  CHECK_FALSE(glob_match("*??", "\xc3\xa9"));
  CHECK(glob_match("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"));
}

TEST_CASE("glob: pathological patterns finish in linear time", "[access][glob]") {
  const auto started = std::chrono::steady_clock::now();
  const std::string as(100'000, 'a');
  CHECK_FALSE(glob_match("a*a*a*a*a*b", as));
  CHECK(glob_match("a*a*a*a*a*a", as));
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", as));
  CHECK_FALSE(glob_match("*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?b", as));
  CHECK(glob_match(std::string(1000, '*') + "a", as));
  CHECK_FALSE(glob_match(std::string(50'000, '?'), as));
  CHECK(glob_match(std::string(100'000, '?'), as));
  // A generous bound: a backtracking matcher takes longer than the universe.
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(elapsed < std::chrono::seconds(2));
}
