#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "baton/rate_limiter.h"

using baton::Code;
using baton::RateLimiter;
using baton::RateLimitOptions;
using baton::RateRule;
using baton::Status;

namespace {

RateLimitOptions options(RateRule per_client, RateRule global = {},
                         size_t max_tracked_clients = 1 << 20) {
  RateLimitOptions o;
  o.per_client = per_client;
  o.global = global;
  o.max_tracked_clients = max_tracked_clients;
  return o;
}

}  // namespace

TEST_CASE("retry_after is the exact number of milliseconds until admission", "[ratelimit]") {
  SECTION("whole-millisecond interval") {
    RateLimiter limiter(options({10, 1000, 0}));  // one event per 100 ms
    CHECK(limiter.admit("a", 0) == 0);
    CHECK(limiter.admit("a", 0) == 100);
    CHECK(limiter.admit("a", 60) == 40);
    CHECK(limiter.admit("a", 99) == 1);
    CHECK(limiter.admit("a", 100) == 0);
    CHECK(limiter.admit("a", 100) == 100);
  }
  SECTION("fractional interval: admitted in the millisecond its slot falls in") {
    RateLimiter limiter(options({3, 1000, 0}));  // one event per 333.33 ms
    CHECK(limiter.admit("a", 0) == 0);
    CHECK(limiter.admit("a", 0) == 333);   // next slot at 333.33, in millisecond 333
    CHECK(limiter.admit("a", 332) == 1);
    CHECK(limiter.admit("a", 333) == 0);   // next slot 666.67: no drift from the late stamp
    CHECK(limiter.admit("a", 333) == 333);
    CHECK(limiter.admit("a", 665) == 1);
    CHECK(limiter.admit("a", 666) == 0);   // next slot 1000 exactly
    CHECK(limiter.admit("a", 999) == 1);
    CHECK(limiter.admit("a", 1000) == 0);
    CHECK(limiter.admit("a", 1000) == 333);
  }
  SECTION("wall-clock milliseconds since the epoch") {
    const int64_t t = 1'764'000'000'123;
    RateLimiter limiter(options({7, 1000, 0}));
    CHECK(limiter.admit("a", t) == 0);
    CHECK(limiter.admit("a", t) == 142);  // next slot 142.86 ms later
    CHECK(limiter.admit("a", t + 141) == 1);
    CHECK(limiter.admit("a", t + 142) == 0);
  }
  SECTION("after a burst the wait runs to the next slot") {
    RateLimiter limiter(options({1, 1000, 2}));
    for (int i = 0; i < 3; ++i) CHECK(limiter.admit("a", 0) == 0);
    CHECK(limiter.admit("a", 0) == 1000);
    CHECK(limiter.admit("a", 250) == 750);
  }
}

TEST_CASE("burst admits that many extra events at once, then the sustained rate",
          "[ratelimit]") {
  RateLimiter limiter(options({1, 1000, 4}));
  for (int i = 0; i < 5; ++i) CHECK(limiter.admit("a", 0) == 0);
  CHECK(limiter.admit("a", 0) == 1000);
  CHECK(limiter.admit("a", 999) == 1);
  CHECK(limiter.admit("a", 1000) == 0);
  CHECK(limiter.admit("a", 1000) == 1000);
  // Idle for long enough, the whole burst is available again, not more.
  for (int i = 0; i < 5; ++i) CHECK(limiter.admit("a", 100'000) == 0);
  CHECK(limiter.admit("a", 100'000) == 1000);
  // Other clients have their own allowance.
  for (int i = 0; i < 5; ++i) CHECK(limiter.admit("b", 100'000) == 0);
  CHECK(limiter.admit("b", 100'000) == 1000);
}

TEST_CASE("the global rule bounds all clients together", "[ratelimit]") {
  RateLimiter limiter(options({2, 1000, 0}, {3, 1000, 2}));
  CHECK(limiter.admit("a", 0) == 0);
  CHECK(limiter.admit("b", 0) == 0);
  CHECK(limiter.admit("c", 0) == 0);
  // Global: three at once used; the next global slot is at 333.33.
  CHECK(limiter.admit("d", 0) == 333);
  // Both rules refuse: the later of the two.
  CHECK(limiter.admit("a", 0) == 500);
  CHECK(limiter.admit("d", 333) == 0);
  CHECK(limiter.admit("e", 333) == 333);  // next global slot 666.67
}

TEST_CASE("a message refused by one rule consumes nothing from the other", "[ratelimit]") {
  SECTION("refused globally: the client's allowance is intact") {
    RateLimiter limiter(options({1, 1000, 0}, {1, 1000, 0}));
    CHECK(limiter.admit("a", 0) == 0);
    CHECK(limiter.admit("b", 0) == 1000);
    CHECK(limiter.admit("b", 500) == 500);
    // b was never charged, so it is admitted as soon as the global rule allows.
    CHECK(limiter.admit("b", 1000) == 0);
  }
  SECTION("refused per client: the global allowance is intact") {
    RateLimiter limiter(options({1, 1000, 0}, {2, 1000, 0}));
    CHECK(limiter.admit("a", 0) == 0);
    CHECK(limiter.admit("a", 500) == 500);
    CHECK(limiter.admit("b", 500) == 0);
    CHECK(limiter.admit("c", 500) == 500);
  }
  SECTION("a refused unknown client is not tracked") {
    RateLimiter limiter(options({5, 1000, 0}, {1, 1000, 0}));
    CHECK(limiter.admit("a", 0) == 0);
    CHECK(limiter.tracked_clients() == 1);
    CHECK(limiter.admit("b", 0) == 1000);
    CHECK(limiter.tracked_clients() == 1);
  }
}

TEST_CASE("no rules: everything is admitted and nothing tracked", "[ratelimit]") {
  RateLimiter limiter{RateLimitOptions{}};
  CHECK_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) CHECK(limiter.admit("a", 0) == 0);
  CHECK(limiter.tracked_clients() == 0);

  RateLimiter global_only(options({}, {1, 1000, 0}));
  CHECK(global_only.enabled());
  CHECK(global_only.admit("a", 0) == 0);
  CHECK(global_only.admit("b", 0) == 1000);
  CHECK(global_only.tracked_clients() == 0);
}

TEST_CASE("idle clients are forgotten, exactly", "[ratelimit][memory]") {
  RateLimiter limiter(options({1, 100, 0}));
  for (int i = 0; i < 1000; ++i) CHECK(limiter.admit("c" + std::to_string(i), 0) == 0);
  CHECK(limiter.tracked_clients() == 1000);
  // Every key's theoretical arrival time (100) has passed: each new key
  // drops two of them, and a dropped key behaves like a fresh one.
  for (int i = 0; i < 500; ++i) CHECK(limiter.admit("n" + std::to_string(i), 200) == 0);
  CHECK(limiter.tracked_clients() == 500);
  CHECK(limiter.admit("c1", 200) == 0);
  CHECK(limiter.admit("c1", 200) == 100);
  CHECK(limiter.tracked_clients() == 501);
  // Known clients whose state expired are updated in place, not re-added.
  for (int i = 0; i < 500; ++i) CHECK(limiter.admit("n" + std::to_string(i), 400) == 0);
  CHECK(limiter.tracked_clients() == 501);
  CHECK(limiter.admit("n7", 400) == 100);
}

TEST_CASE("memory stays bounded with a million distinct clients", "[ratelimit][memory]") {
  SECTION("every client still live: the cap holds") {
    const size_t cap = 4096;
    // One event per 1000 s: no key expires during the test.
    RateLimiter limiter(options({1, 1'000'000'000, 0}, {}, cap));
    size_t max_seen = 0;
    std::string name;
    for (int i = 0; i < 1'000'000; ++i) {
      name = "client-" + std::to_string(i);
      REQUIRE(limiter.admit(name, i / 1000) == 0);
      max_seen = std::max(max_seen, limiter.tracked_clients());
    }
    CHECK(max_seen == cap);
    CHECK(limiter.tracked_clients() == cap);
    // The most recent clients are still limited.
    CHECK(limiter.admit("client-999999", 1000) > 0);
  }
  SECTION("clients expiring: only the live ones are tracked, far below the cap") {
    RateLimiter limiter(options({1, 10, 0}));  // default cap of 2^20
    size_t max_seen = 0;
    for (int i = 0; i < 1'000'000; ++i) {
      REQUIRE(limiter.admit("client-" + std::to_string(i), i) == 0);
      max_seen = std::max(max_seen, limiter.tracked_clients());
    }
    CHECK(max_seen <= 16);
  }
}

TEST_CASE("at the cap the least recently admitted client is evicted", "[ratelimit][memory]") {
  RateLimiter limiter(options({1, 1000, 5}, {}, 2));
  CHECK(limiter.admit("a", 0) == 0);
  CHECK(limiter.admit("b", 1) == 0);
  CHECK(limiter.admit("a", 2) == 0);
  CHECK(limiter.admit("c", 3) == 0);  // evicts b, a was admitted more recently
  CHECK(limiter.tracked_clients() == 2);
  // a kept its state: two of its six used, four left.
  for (int i = 0; i < 4; ++i) CHECK(limiter.admit("a", 3) == 0);
  CHECK(limiter.admit("a", 3) == 997);

  SECTION("an evicted live client starts afresh (the documented trade-off)") {
    RateLimiter small(options({1, 1000, 0}, {}, 2));
    CHECK(small.admit("victim", 0) == 0);
    CHECK(small.admit("victim", 0) == 1000);
    CHECK(small.admit("x", 0) == 0);
    CHECK(small.admit("y", 0) == 0);
    CHECK(small.admit("victim", 0) == 0);
  }
}

TEST_CASE("rate_limit options are read from JSON", "[ratelimit][options]") {
  RateLimitOptions o;
  SECTION("the documented shape") {
    REQUIRE(RateLimitOptions::from_json(
                R"({"per_client": {"events": 10000, "per_ms": 1000, "burst": 2000},
                    "global": {"events": 500000, "per_ms": 1000, "burst": 100000}})",
                &o)
                .is_ok());
    CHECK(o.per_client.events == 10000);
    CHECK(o.per_client.per_ms == 1000);
    CHECK(o.per_client.burst == 2000);
    CHECK(o.global.events == 500000);
    CHECK(o.global.burst == 100000);
    CHECK(o.max_tracked_clients == size_t{1} << 20);
  }
  SECTION("per_ms and burst default; rules and the cap are optional") {
    REQUIRE(RateLimitOptions::from_json(R"({"global": {"events": 5}})", &o).is_ok());
    CHECK_FALSE(o.per_client.enabled());
    CHECK(o.global.events == 5);
    CHECK(o.global.per_ms == 1000);
    CHECK(o.global.burst == 0);
    REQUIRE(RateLimitOptions::from_json(R"({"max_tracked_clients": 100})", &o).is_ok());
    CHECK(o.max_tracked_clients == 100);
    REQUIRE(RateLimitOptions::from_json("{}", &o).is_ok());
    CHECK_FALSE(RateLimiter(o).enabled());
    REQUIRE(RateLimitOptions::from_json("", &o).is_ok());
    CHECK_FALSE(o.global.enabled());
  }
  SECTION("bad options name the key and leave the output alone") {
    o.per_client.events = 42;
    struct Case {
      const char* json;
      const char* field;
    };
    const Case cases[] = {
        {R"({"per_clients": {"events": 1}})", "rate_limit.per_clients"},
        {R"({"global": {"events": 1, "window": 5}})", "rate_limit.global.window"},
        {R"({"global": {"events": 0}})", "rate_limit.global.events"},
        {R"({"global": {"events": -3}})", "rate_limit.global.events"},
        {R"({"global": {"events": 1.5}})", "rate_limit.global.events"},
        {R"({"global": {"events": "10"}})", "rate_limit.global.events"},
        {R"({"global": {"events": 18446744073709551615}})", "rate_limit.global.events"},
        {R"({"global": {"events": 1, "per_ms": 0}})", "rate_limit.global.per_ms"},
        {R"({"per_client": {"events": 1, "burst": -1}})", "rate_limit.per_client.burst"},
        {R"({"per_client": {"per_ms": 10}})", "rate_limit.per_client.events"},
        {R"({"per_client": {"events": 1, "events": 2}})", "rate_limit.per_client.events"},
        {R"({"per_client": 5})", "rate_limit.per_client"},
        {R"({"max_tracked_clients": 0})", "rate_limit.max_tracked_clients"},
        {R"([1, 2])", "rate_limit"},
        {R"({"global": )", "rate_limit"},
    };
    for (const Case& c : cases) {
      INFO(c.json);
      const Status st = RateLimitOptions::from_json(c.json, &o);
      CHECK(st.code() == Code::kInvalidArgument);
      CHECK(st.field() == c.field);
      const std::string& field = c.field;
      const std::string key = field.substr(field.rfind('.') + 1);
      CHECK_THAT(st.message(), Catch::Contains(key));
    }
    CHECK(o.per_client.events == 42);
  }
}

TEST_CASE("one limiter shared by several threads admits exactly its allowance",
          "[ratelimit][threads]") {
  // Nothing refills during the test (one event per 10^9 ms), so exactly
  // 1 + burst messages pass each rule, however the threads interleave.
  auto hammer = [](RateLimiter& limiter) {
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&limiter, &admitted, t] {
        for (int i = 0; i < 20000; ++i) {
          const std::string client = "c" + std::to_string((i * 4 + t) % 100);
          if (limiter.admit(client, 5) == 0) ++admitted;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    return admitted.load();
  };
  RateLimiter per_client(options({1, 1'000'000'000, 9}));
  CHECK(hammer(per_client) == 100 * 10);
  CHECK(per_client.tracked_clients() == 100);
  RateLimiter both(options({1, 1'000'000'000, 9}, {1, 1'000'000'000, 399}));
  CHECK(hammer(both) == 400);
  CHECK(both.tracked_clients() <= 100);
}
