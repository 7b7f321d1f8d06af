// BriefMutex: exclusion while waiters spin, sleeping after the spin, and
// recursion for the engine's lock.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "common/brief_mutex.h"

namespace {

// Increments a plain counter under the lock from several threads; a lock
// that let two threads in at once loses increments (and TSan names the race).
template <class Mutex>
int64_t count_under_contention(int threads, int per_thread) {
  Mutex mu;
  int64_t counter = 0;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        std::lock_guard<Mutex> lock(mu);
        // A read and a write apart, so an overlap shows as a lost increment.
        int64_t seen = counter;
        if ((i & 63) == 0) std::this_thread::yield();
        counter = seen + 1;
      }
    });
  }
  for (std::thread& th : pool) th.join();
  return counter;
}

}  // namespace

TEST_CASE("brief mutex excludes while its waiters spin", "[brief_mutex]") {
  CHECK(count_under_contention<baton::BriefMutex>(4, 20000) == 80000);
  CHECK(count_under_contention<baton::BriefRecursiveMutex>(4, 20000) == 80000);
}

TEST_CASE("a waiter past its spin still waits for the holder and gets the lock on release",
          "[brief_mutex]") {
  baton::BriefMutex mu;
  std::atomic<bool> got{false};
  mu.lock();
  std::thread waiter([&] {
    std::lock_guard<baton::BriefMutex> lock(mu);
    got = true;
  });
  // Far past the spin: the waiter has gone on to the underlying mutex.
  std::this_thread::sleep_for(std::chrono::nanoseconds(baton::BriefMutex::kSpinNanos * 20));
  CHECK_FALSE(got.load());
  mu.unlock();
  waiter.join();
  CHECK(got.load());
}

TEST_CASE("brief mutex try_lock", "[brief_mutex]") {
  baton::BriefMutex mu;
  REQUIRE(mu.try_lock());
  bool other = true;
  std::thread([&] { other = mu.try_lock(); }).join();
  CHECK_FALSE(other);
  mu.unlock();
  std::thread([&] {
    other = mu.try_lock();
    if (other) mu.unlock();
  }).join();
  CHECK(other);
}

TEST_CASE("the recursive brief mutex is taken again by its holder", "[brief_mutex]") {
  baton::BriefRecursiveMutex mu;
  std::lock_guard<baton::BriefRecursiveMutex> outer(mu);
  {
    std::lock_guard<baton::BriefRecursiveMutex> inner(mu);
    bool other = true;
    std::thread([&] { other = mu.try_lock(); }).join();
    CHECK_FALSE(other);
  }
  bool other = true;
  std::thread([&] { other = mu.try_lock(); }).join();
  CHECK_FALSE(other);  // still held once
}
