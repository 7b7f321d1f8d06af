// BriefMutex, BriefRecursiveMutex: std::mutex and std::recursive_mutex for
// short critical sections, whose waiters spin for a few microseconds before
// they sleep.
//
// A waiter that sleeps at once (a futex wait) has to be woken and then find
// a free core. When the pushing threads and the store's writer outnumber the
// cores, that wait is often tens of microseconds, far longer than the
// critical section it waited for: with two pushing threads on two cores,
// about 2% of pushes waited more than 30 us for the engine's lock (timed
// once in a build that measured each wait), and that set their p99
// (bench_ingest, `async`). A waiter that spins takes the lock
// as soon as it is released; only when the holder itself was preempted does
// the spin run out, and the waiter then sleeps as before.
//
// On one core the holder cannot run while a waiter spins, so waiters sleep
// at once when the process may use only one (see several_cores).
#ifndef BATON_COMMON_BRIEF_MUTEX_H_
#define BATON_COMMON_BRIEF_MUTEX_H_

#if defined(__linux__)
#include <sched.h>
#endif

#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

namespace baton {

template <class Mutex>
class BasicBriefMutex {
 public:
  // The longest a waiter spins: ten times the engine's critical section
  // (about 2 us per push), below the 30 us and more that 2% of sleeping
  // waiters took to run again.
  static constexpr int64_t kSpinNanos = 20'000;

  BasicBriefMutex() = default;
  BasicBriefMutex(const BasicBriefMutex&) = delete;
  BasicBriefMutex& operator=(const BasicBriefMutex&) = delete;

  void lock() {
    if (mu_.try_lock()) return;
    if (several_cores()) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kSpinNanos);
      do {
        // The clock is read once per few tries: a try and a pause take
        // tens of nanoseconds, a clock read about as long.
        for (int i = 0; i < 8; ++i) {
          relax();
          if (mu_.try_lock()) return;
        }
      } while (std::chrono::steady_clock::now() < until);
    }
    mu_.lock();
  }
  bool try_lock() { return mu_.try_lock(); }
  void unlock() { mu_.unlock(); }

 private:
  // Whether the process may run on more than one core: the cores it is
  // allowed (a process pinned to one core by taskset or a cpuset sees every
  // core of the machine in hardware_concurrency). Asked once per process:
  // the answer may read a file.
  static bool several_cores() {
    static const bool several = [] {
#if defined(__linux__)
      cpu_set_t allowed;
      if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) return CPU_COUNT(&allowed) > 1;
#endif
      return std::thread::hardware_concurrency() > 1;
    }();
    return several;
  }

  // Tells the core this is a spin: a sibling hyperthread gets the pipeline,
  // and the loop's exit does not pay a memory-order mis-speculation.
  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  Mutex mu_;
};

using BriefMutex = BasicBriefMutex<std::mutex>;
using BriefRecursiveMutex = BasicBriefMutex<std::recursive_mutex>;

}  // namespace baton

#endif  // BATON_COMMON_BRIEF_MUTEX_H_
