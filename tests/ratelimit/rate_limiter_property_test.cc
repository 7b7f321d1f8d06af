// Property tests: random arrival sequences over many seeds.
//
// Windows are half-open, [t, t + per_ms): a rule of `events` per `per_ms`
// with `burst` must never admit more than events + burst in any of them, and
// a client keeping exactly to the sustained rate must never be refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "baton/rate_limiter.h"

using baton::RateLimiter;
using baton::RateLimitOptions;
using baton::RateRule;

namespace {

RateRule random_rule(std::mt19937_64& rng) {
  RateRule rule;
  // Mostly small counts, whose windows the sequences fill often; sometimes
  // large ones, whose intervals are fractions of a millisecond.
  rule.events = rng() % 4 == 0 ? 1 + static_cast<int64_t>(rng() % 5000)
                               : 1 + static_cast<int64_t>(rng() % 20);
  rule.per_ms = 1 + static_cast<int64_t>(rng() % 3000);
  rule.burst = rng() % 3 == 0 ? 0 : static_cast<int64_t>(rng() % 10);
  return rule;
}

int64_t random_start(std::mt19937_64& rng) {
  return rng() % 2 == 0 ? static_cast<int64_t>(rng() % 1000)
                        : 1'700'000'000'000 + static_cast<int64_t>(rng() % 100'000'000'000);
}

// The largest number of `times` (sorted) inside any window [t, t + length).
int64_t max_in_window(const std::vector<int64_t>& times, int64_t length) {
  int64_t best = 0;
  size_t end = 0;
  for (size_t begin = 0; begin < times.size(); ++begin) {
    end = std::max(end, begin);
    while (end < times.size() && times[end] < times[begin] + length) ++end;
    best = std::max(best, static_cast<int64_t>(end - begin));
  }
  return best;
}

std::string describe(const RateRule& r) {
  return std::to_string(r.events) + " per " + std::to_string(r.per_ms) + " ms, burst " +
         std::to_string(r.burst);
}

}  // namespace

TEST_CASE("property: one client never exceeds events + burst per window, and retry_after "
          "is exact",
          "[ratelimit][property]") {
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    std::mt19937_64 rng(seed);
    const RateRule rule = random_rule(rng);
    RateLimitOptions options;
    // The same single-client sequence against the per-client rule, the
    // global rule, or both (where the stricter decides).
    switch (seed % 3) {
      case 0: options.per_client = rule; break;
      case 1: options.global = rule; break;
      default: options.per_client = rule; options.global = rule; break;
    }
    RateLimiter limiter(options);
    INFO("seed " << seed << ": " << describe(rule));

    const int64_t interval_ms = std::max<int64_t>(1, rule.per_ms / rule.events);
    int64_t t = random_start(rng);
    int64_t deadline = -1;  // after a refusal: when the message becomes admissible
    std::vector<int64_t> admitted;
    for (int i = 0; i < 3000; ++i) {
      const uint64_t pick = rng() % 6;
      if (deadline >= 0 && pick == 0) {
        t = std::max(t, deadline);
      } else if (deadline >= 0 && pick == 1) {
        t = std::max(t, deadline - 1);
      } else if (pick <= 3) {
        // Bursts of arrivals in the same millisecond.
      } else {
        t += 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * interval_ms));
      }
      const int64_t wait = limiter.admit("client", t);
      REQUIRE(wait >= 0);
      if (deadline >= 0) {
        // Nothing was admitted since the refusal, so the limiter's state is
        // the same: refused exactly until the deadline, admitted from it on.
        INFO("t " << t << ", deadline " << deadline);
        REQUIRE(wait == std::max<int64_t>(0, deadline - t));
      }
      if (wait == 0) {
        admitted.push_back(t);
        deadline = -1;
      } else {
        deadline = t + wait;
      }
    }
    REQUIRE(max_in_window(admitted, rule.per_ms) <= rule.events + rule.burst);
  }
}

TEST_CASE("property: many clients under a global rule stay within both rules",
          "[ratelimit][property]") {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed * 7919);
    const RateRule client_rule = random_rule(rng);
    const RateRule global_rule = random_rule(rng);
    RateLimitOptions options;
    options.per_client = client_rule;
    options.global = global_rule;
    // A small cap sometimes, so that eviction happens during the sequence; an
    // evicted client may be admitted early, so its windows are not checked.
    const bool small_cap = seed % 4 == 0;
    options.max_tracked_clients = small_cap ? 3 : 1000;
    RateLimiter limiter(options);
    INFO("seed " << seed << ": client " << describe(client_rule) << "; global "
                 << describe(global_rule));

    const int clients = 1 + static_cast<int>(rng() % 12);
    int64_t t = random_start(rng);
    std::map<int, std::vector<int64_t>> per_client;
    std::vector<int64_t> all;
    for (int i = 0; i < 4000; ++i) {
      if (rng() % 3 == 0) t += static_cast<int64_t>(rng() % 50);
      const int c = static_cast<int>(rng() % static_cast<uint64_t>(clients));
      const int64_t wait = limiter.admit("client-" + std::to_string(c), t);
      REQUIRE(wait >= 0);
      REQUIRE(limiter.tracked_clients() <= options.max_tracked_clients);
      if (wait == 0) {
        per_client[c].push_back(t);
        all.push_back(t);
      }
    }
    REQUIRE(max_in_window(all, global_rule.per_ms) <= global_rule.events + global_rule.burst);
    if (!small_cap || clients <= 3) {
      for (const auto& [c, times] : per_client) {
        INFO("client " << c);
        REQUIRE(max_in_window(times, client_rule.per_ms) <= client_rule.events + client_rule.burst);
      }
    }
  }
}

TEST_CASE("property: a client sending at exactly the sustained rate is never refused",
          "[ratelimit][property]") {
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    std::mt19937_64 rng(seed * 104729);
    const RateRule rule = random_rule(rng);
    RateLimitOptions options;
    options.per_client = rule;
    if (seed % 2 == 0) options.global = rule;
    RateLimiter limiter(options);
    const int64_t start = random_start(rng);
    INFO("seed " << seed << ": " << describe(rule) << ", start " << start);
    // Message k is sent at the first whole millisecond at or after its slot
    // start + k * per_ms / events.
    const int64_t count = std::min<int64_t>(3 * rule.events + 50, 20000);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t t = start + (k * rule.per_ms + rule.events - 1) / rule.events;
      INFO("message " << k << " at " << t);
      REQUIRE(limiter.admit("steady", t) == 0);
    }
  }
}
