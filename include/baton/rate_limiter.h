// RateLimiter: per-client and global admission of messages.
//
// GCRA (the generic cell rate algorithm): O(1) state per key (one timestamp),
// a burst allowance, and an exact retry-after. Idle keys are evicted so memory
// stays bounded however many distinct clients appear.
//
// Thread safety: admit() takes an internal lock; one limiter may be shared.
#ifndef BATON_RATE_LIMITER_H_
#define BATON_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "baton/status.h"

namespace baton {

struct RateRule {
  int64_t events = 0;  // events admitted per `per_ms` at the sustained rate; 0 = no rule
  int64_t per_ms = 1000;
  int64_t burst = 0;   // extra events admitted at once on top of the sustained rate
  bool enabled() const { return events > 0; }
};

struct RateLimitOptions {
  RateRule per_client;
  RateRule global;
  size_t max_tracked_clients = 1 << 20;  // beyond this, the idlest keys are evicted

  // Reads the `rate_limit` option object (CAPI.md). kInvalidArgument naming the key.
  static Status from_json(std::string_view json, RateLimitOptions* out);
};

class RateLimiter {
 public:
  explicit RateLimiter(const RateLimitOptions& options);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Admits one message from `client` at `now_ms`: returns 0 when admitted,
  // else the exact number of milliseconds (>= 1) after which the same message
  // would be admitted. A refused message consumes nothing.
  int64_t admit(std::string_view client, int64_t now_ms);

  size_t tracked_clients() const;
  bool enabled() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton

#endif  // BATON_RATE_LIMITER_H_
