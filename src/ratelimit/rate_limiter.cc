// RateLimiter: GCRA per client and globally (see include/baton/rate_limiter.h).
//
// Exactness. A rule of `events` per `per_ms` has an emission interval of
// per_ms/events milliseconds, which is rarely a whole number of milliseconds
// or microseconds (1000 ms / 3 events). Rounding it would make the limiter
// drift: slightly too permissive, or refusing a client that keeps exactly to
// the sustained rate. Each rule therefore counts time in its own tick of
// 1/e ms, where e/p is events/per_ms in lowest terms; the interval is then
// exactly p ticks, the burst tolerance exactly burst*p ticks, and retry-after
// is exact (see Gcra::check for how a millisecond clock meets it). Ticks are 128-bit so that an absolute clock
// (milliseconds since the epoch) times e cannot overflow for any accepted
// option (every value is capped at kMaxOptionValue).
//
// Memory. Per client the state is one theoretical arrival time (TAT). A key
// whose TAT is not after `now` behaves exactly like a key never seen, so such
// keys are dropped from the least recently admitted end of an LRU list
// whenever a new key is added (two per new key, so the expired keys drain
// faster than new ones arrive). A known client's key is updated in place, even
// when expired: dropping and re-adding it would cost more. Because every
// admission sets TAT to at least now + interval and below
// now + 1 ms + interval + tolerance, the LRU order is the TAT order to within
// one burst tolerance (plus a millisecond), and everything admitted longer
// ago than that has expired and sits at the LRU tail.
//
// Under a flood of distinct clients every key may still be live. Then
// max_tracked_clients is enforced by evicting the least recently admitted key,
// whose TAT is within one burst tolerance plus a millisecond of the oldest TAT
// tracked. The trade-off: an evicted key restarts from a
// fresh state, so that client may be admitted earlier than its rule allows
// (up to one burst plus one event early). Evicting can only make the limiter
// more permissive for that key, never refuse anyone wrongly; the global rule,
// which is one key and never evicted, still bounds the total.
//
// Hot path. A known client costs one seeded hash, a probe of an
// open-addressing index, a few integer operations and an LRU splice, under one
// mutex; nothing is allocated. New clients reuse the storage (including string
// capacity) of evicted ones.
#include "baton/rate_limiter.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace baton {

namespace {

__extension__ typedef __int128 Ticks;

// Larger values are certainly configuration mistakes, and bounding them keeps
// every tick computation far from overflowing 128 bits.
constexpr int64_t kMaxOptionValue = 1'000'000'000'000;  // 10^12
constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
// Expired keys dropped per new key: more than one, so the table shrinks back
// to the live keys whatever the arrival pattern.
constexpr int kSweepPerCall = 2;

// One rule, converted to its own exact time base.
struct Gcra {
  bool enabled = false;
  int64_t ticks_per_ms = 1;  // e
  Ticks interval = 0;        // p: one event's share of time, in ticks
  Ticks tolerance = 0;       // burst * p

  static Gcra from_rule(const RateRule& rule) {
    Gcra g;
    if (rule.events <= 0) return g;
    const int64_t events = std::min(rule.events, kMaxOptionValue);
    const int64_t per_ms = std::clamp<int64_t>(rule.per_ms, 1, kMaxOptionValue);
    const int64_t burst = std::clamp<int64_t>(rule.burst, 0, kMaxOptionValue);
    const int64_t divisor = std::gcd(events, per_ms);
    g.enabled = true;
    g.ticks_per_ms = events / divisor;
    g.interval = per_ms / divisor;
    g.tolerance = static_cast<Ticks>(burst) * g.interval;
    return g;
  }

  Ticks to_ticks(int64_t now_ms) const { return static_cast<Ticks>(now_ms) * ticks_per_ms; }

  // Checks one message arriving in millisecond `now_ms` (`now` in ticks)
  // against a key whose TAT is `tat` (a fresh key may pass any tat <= now).
  // Returns 0 and sets *next_tat when it conforms; otherwise the whole
  // milliseconds until it would.
  //
  // The clock counts whole milliseconds, so a message stamped now_ms arrived
  // somewhere in [now_ms, now_ms + 1). It conforms when the earliest instant
  // the rule admits it (tat - tolerance) falls in or before that millisecond.
  // This keeps a client whose k-th message is stamped with the millisecond
  // holding start + k * per_ms / events (the sustained rate on a millisecond
  // clock) from ever being refused, and still never admits more than
  // events + burst in any window [t, t + per_ms): for messages i..j admitted
  // in such a window, TAT before j is at least t_i + (j - i) * interval, and
  // admitting j needs it below t + per_ms + tolerance, so j - i < events + burst.
  int64_t check(Ticks tat, Ticks now, int64_t now_ms, Ticks* next_tat) const {
    const Ticks earliest = tat - tolerance;
    // Admitted iff earliest < (now_ms + 1) ms; the 128-bit division below is
    // paid only on refusal.
    if (earliest < now + ticks_per_ms) {
      *next_tat = (tat > now ? tat : now) + interval;
      return 0;
    }
    // floor(earliest / ticks_per_ms): the millisecond holding the earliest
    // admissible instant (a manual clock may run below zero).
    Ticks admit_ms = earliest / ticks_per_ms;
    if (earliest < 0 && earliest % ticks_per_ms != 0) --admit_ms;
    const Ticks wait = admit_ms - now_ms;
    constexpr Ticks kMax = std::numeric_limits<int64_t>::max();
    return wait > kMax ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(wait);
  }
};

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  return x;
}

// Seeded per limiter so that client names colliding in the index cannot be
// computed ahead of time; it is not a cryptographic PRF. With names it cannot
// aim, probes stay short at the index's load factor of at most one half, and
// whatever a flood does, max_tracked_clients still bounds memory.
inline uint64_t hash_key(std::string_view s, uint64_t seed) {
  uint64_t h = seed ^ (static_cast<uint64_t>(s.size()) * 0x9e3779b97f4a7c15ULL);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  // The last 0..7 bytes, read as at most two fixed-size loads (overlapping
  // when n < 8) rather than a byte loop; the length is already in h.
  uint64_t tail = 0;
  if (n >= 4) {
    uint32_t first, last;
    std::memcpy(&first, p, 4);
    std::memcpy(&last, p + n - 4, 4);
    tail = static_cast<uint64_t>(first) << 32 | last;
  } else if (n > 0) {
    tail = static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16 |
           static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
           static_cast<unsigned char>(p[n - 1]);
  }
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
  return mix64(h ^ (seed >> 7));
}

uint64_t random_seed(const void* salt) {
  uint64_t seed = 0;
  try {
    std::random_device device;
    seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  } catch (...) {
    // No entropy source: still differ between processes and limiters.
    seed = static_cast<uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return mix64(seed ^ reinterpret_cast<uintptr_t>(salt));
}

}  // namespace

struct RateLimiter::Impl {
  struct Entry {
    std::string key;
    Ticks tat = 0;
    uint64_t hash = 0;
    uint32_t prev = kNil;  // towards the most recently admitted
    uint32_t next = kNil;  // towards the least recently admitted
  };

  Gcra client_rule;
  Gcra global_rule;
  Ticks global_tat = std::numeric_limits<int64_t>::min();
  size_t max_clients = 1;
  uint64_t seed = 0;

  mutable std::mutex mu;
  std::vector<Entry> entries;  // slab; indices are stable while an entry lives
  std::vector<uint32_t> free_entries;
  // Linear-probing index: 0 = empty, else (hash >> 32) << 32 | (entry + 1).
  // The high hash bits let most mismatches be rejected without touching the
  // entry; the low bits pick the home slot.
  std::vector<uint64_t> slots;
  size_t count = 0;
  uint32_t head = kNil;  // most recently admitted
  uint32_t tail = kNil;  // least recently admitted

  size_t mask() const { return slots.size() - 1; }
  static uint32_t slot_entry(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }
  static uint64_t make_slot(uint64_t hash, uint32_t entry) {
    return (hash & 0xffffffff00000000ULL) | (static_cast<uint64_t>(entry) + 1);
  }

  uint32_t find(std::string_view key, uint64_t hash) const {
    if (slots.empty()) return kNil;
    const uint64_t tag = hash & 0xffffffff00000000ULL;
    for (size_t i = hash & mask();; i = (i + 1) & mask()) {
      const uint64_t s = slots[i];
      if (s == 0) return kNil;
      if ((s & 0xffffffff00000000ULL) == tag && entries[slot_entry(s)].key == key) {
        return slot_entry(s);
      }
    }
  }

  void place(uint64_t hash, uint32_t entry) {
    size_t i = hash & mask();
    while (slots[i] != 0) i = (i + 1) & mask();
    slots[i] = make_slot(hash, entry);
  }

  // Keeps the load factor at or below one half.
  void reserve_for(size_t n) {
    size_t want = slots.empty() ? 16 : slots.size();
    while (want < 2 * n) want *= 2;
    if (want == slots.size()) return;
    slots.assign(want, 0);
    for (uint32_t e = head; e != kNil; e = entries[e].next) place(entries[e].hash, e);
  }

  // Removes `entry` from the index with backward-shift deletion, so no
  // tombstones accumulate however many keys come and go.
  void unindex(uint32_t entry) {
    const uint64_t hash = entries[entry].hash;
    size_t hole = hash & mask();
    while (slot_entry(slots[hole]) != entry) hole = (hole + 1) & mask();
    for (size_t j = (hole + 1) & mask(); slots[j] != 0; j = (j + 1) & mask()) {
      const size_t home = entries[slot_entry(slots[j])].hash & mask();
      // The entry at j may move into the hole unless its home lies
      // cyclically in (hole, j].
      const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        slots[hole] = slots[j];
        hole = j;
      }
    }
    slots[hole] = 0;
  }

  void unlink(uint32_t e) {
    Entry& x = entries[e];
    if (x.prev != kNil) entries[x.prev].next = x.next; else head = x.next;
    if (x.next != kNil) entries[x.next].prev = x.prev; else tail = x.prev;
    x.prev = x.next = kNil;
  }

  void push_front(uint32_t e) {
    entries[e].prev = kNil;
    entries[e].next = head;
    if (head != kNil) entries[head].prev = e;
    head = e;
    if (tail == kNil) tail = e;
  }

  void drop(uint32_t e) {
    unindex(e);
    unlink(e);
    free_entries.push_back(e);
    --count;
  }

  // Drops a few keys whose TAT has passed: exact, they equal fresh keys.
  void sweep(Ticks now) {
    for (int i = 0; i < kSweepPerCall && tail != kNil && entries[tail].tat <= now; ++i) {
      drop(tail);
    }
  }

  void insert(std::string_view key, uint64_t hash, Ticks tat) {
    if (count >= max_clients) drop(tail);  // every key is live: see the file comment
    uint32_t e;
    if (!free_entries.empty()) {
      e = free_entries.back();
      free_entries.pop_back();
    } else {
      e = static_cast<uint32_t>(entries.size());
      entries.emplace_back();
    }
    Entry& x = entries[e];
    x.key.assign(key.data(), key.size());  // reuses an evicted key's capacity
    x.hash = hash;
    x.tat = tat;
    ++count;
    reserve_for(count);
    place(hash, e);
    push_front(e);
  }
};

RateLimiter::RateLimiter(const RateLimitOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->client_rule = Gcra::from_rule(options.per_client);
  impl_->global_rule = Gcra::from_rule(options.global);
  // The index uses 32-bit entry numbers with one value reserved.
  impl_->max_clients = std::clamp<size_t>(options.max_tracked_clients, 1, kNil - 1);
  impl_->seed = random_seed(impl_.get());
}

RateLimiter::~RateLimiter() = default;

bool RateLimiter::enabled() const {
  return impl_->client_rule.enabled || impl_->global_rule.enabled;
}

size_t RateLimiter::tracked_clients() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->count;
}

int64_t RateLimiter::admit(std::string_view client, int64_t now_ms) {
  Impl& s = *impl_;
  if (!s.client_rule.enabled && !s.global_rule.enabled) return 0;
  const uint64_t hash = s.client_rule.enabled ? hash_key(client, s.seed) : 0;
  std::lock_guard<std::mutex> lock(s.mu);

  // Both rules are checked before either is charged, so a message refused by
  // one rule consumes nothing from the other.
  int64_t wait = 0;
  uint32_t entry = kNil;
  Ticks client_now = 0, client_next = 0;
  if (s.client_rule.enabled) {
    client_now = s.client_rule.to_ticks(now_ms);
    entry = s.find(client, hash);
    const Ticks tat = entry != kNil ? s.entries[entry].tat : client_now;
    wait = s.client_rule.check(tat, client_now, now_ms, &client_next);
  }
  Ticks global_next = 0;
  if (s.global_rule.enabled) {
    const Ticks global_now = s.global_rule.to_ticks(now_ms);
    wait = std::max(wait, s.global_rule.check(s.global_tat, global_now, now_ms, &global_next));
  }
  if (wait > 0) return wait;

  if (s.global_rule.enabled) s.global_tat = global_next;
  if (s.client_rule.enabled) {
    if (entry != kNil) {
      s.entries[entry].tat = client_next;
      if (s.head != entry) {
        s.unlink(entry);
        s.push_front(entry);
      }
    } else {
      s.sweep(client_now);
      s.insert(client, hash, client_next);
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Options

namespace {

Status invalid_option(std::string field, std::string message) {
  return Status::error(Code::kInvalidArgument, std::move(message), std::move(field), "option");
}

bool is_blank(std::string_view json) {
  return json.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

Status read_integer(simdjson::dom::element value, const std::string& field, int64_t min,
                    int64_t* out) {
  int64_t n = 0;
  const auto type = value.type();
  const bool integral = type == simdjson::dom::element_type::INT64 ||
                        type == simdjson::dom::element_type::UINT64;
  if (!integral || value.get_int64().get(n) != simdjson::SUCCESS || n < min ||
      n > kMaxOptionValue) {
    return invalid_option(field, field + " must be an integer from " + std::to_string(min) +
                                     " to " + std::to_string(kMaxOptionValue));
  }
  *out = n;
  return Status::ok();
}

Status read_rule(simdjson::dom::element value, const std::string& field, RateRule* out) {
  simdjson::dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return invalid_option(field, field + " must be an object {\"events\", \"per_ms\", \"burst\"}");
  }
  RateRule rule;
  bool seen_events = false, seen_per_ms = false, seen_burst = false;
  for (auto member : object) {
    const std::string_view key = member.key;
    bool* seen = nullptr;
    int64_t* target = nullptr;
    int64_t min = 1;
    if (key == "events") {
      seen = &seen_events;
      target = &rule.events;
    } else if (key == "per_ms") {
      seen = &seen_per_ms;
      target = &rule.per_ms;
    } else if (key == "burst") {
      seen = &seen_burst;
      target = &rule.burst;
      min = 0;
    } else {
      return invalid_option(field + "." + std::string(key),
                            field + " has no option \"" + std::string(key) + "\"");
    }
    const std::string member_field = field + "." + std::string(key);
    if (*seen) return invalid_option(member_field, member_field + " is given twice");
    *seen = true;
    Status st = read_integer(member.value, member_field, min, target);
    if (!st) return st;
  }
  if (!seen_events) return invalid_option(field + ".events", field + ".events is required");
  *out = rule;
  return Status::ok();
}

}  // namespace

Status RateLimitOptions::from_json(std::string_view json, RateLimitOptions* out) {
  RateLimitOptions options;
  if (is_blank(json)) {
    *out = options;
    return Status::ok();
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root); error != simdjson::SUCCESS) {
    return invalid_option("rate_limit", std::string("rate_limit is not valid JSON: ") +
                                            simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return invalid_option("rate_limit", "rate_limit must be an object");
  }
  bool seen_client = false, seen_global = false, seen_max = false;
  for (auto member : object) {
    const std::string_view key = member.key;
    const std::string field = "rate_limit." + std::string(key);
    Status st;
    if (key == "per_client") {
      if (seen_client) return invalid_option(field, field + " is given twice");
      seen_client = true;
      st = read_rule(member.value, field, &options.per_client);
    } else if (key == "global") {
      if (seen_global) return invalid_option(field, field + " is given twice");
      seen_global = true;
      st = read_rule(member.value, field, &options.global);
    } else if (key == "max_tracked_clients") {
      if (seen_max) return invalid_option(field, field + " is given twice");
      seen_max = true;
      int64_t n = 0;
      st = read_integer(member.value, field, 1, &n);
      if (st && static_cast<uint64_t>(n) >= kNil) {
        st = invalid_option(field, field + " must be below " + std::to_string(kNil));
      }
      if (st) options.max_tracked_clients = static_cast<size_t>(n);
    } else {
      return invalid_option(field, "rate_limit has no option \"" + std::string(key) + "\"");
    }
    if (!st) return st;
  }
  *out = options;
  return Status::ok();
}

}  // namespace baton
