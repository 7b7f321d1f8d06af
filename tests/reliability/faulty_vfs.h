// A SQLite VFS that wraps the default one and injects storage faults, so the
// reliability tests can walk every I/O call of an operation (SQLite's own
// I/O-error loop, applied to baton).
//
// Register it once with faulty_vfs::install(); open an engine with the option
// {"sqlite_vfs": faulty_vfs::kName}. Until armed it only counts. Armed:
//   - kWrite / kSync / kRead: the Nth call of that kind after arming fails
//     once with SQLITE_IOERR_WRITE / _FSYNC / _READ; later calls succeed.
//   - kFull: once N bytes have been written after arming, every write fails
//     with SQLITE_FULL until disarm() (a disk that stays full).
//
// Thread safety: the counters are atomic; arm() and disarm() may be called
// from any thread, though the tests call them between operations.
#ifndef BATON_TESTS_RELIABILITY_FAULTY_VFS_H_
#define BATON_TESTS_RELIABILITY_FAULTY_VFS_H_

#include <cstdint>

namespace faulty_vfs {

inline constexpr const char* kName = "baton_faulty";

enum class Fault { kNone, kWrite, kSync, kRead, kFull };

const char* fault_name(Fault f);

// Registers the VFS (not as the default). Idempotent.
void install();

// Starts counting from zero and fails per `fault` and `n` (see above).
void arm(Fault fault, int64_t n);
// Stops failing; counting goes on.
void disarm();
// How many faults were injected since the last arm().
int64_t injected();
// Calls of each kind since the last arm() (or since install()).
int64_t writes();
int64_t syncs();
int64_t reads();
int64_t bytes_written();
// Calls fn(path) for every write, on the writing thread, before the write
// is made (nullptr: none); fn must be safe to call from any thread. Tests
// use it to see which thread writes which file.
void observe_writes(void (*fn)(const char* path));
// kFull: the bytes written before the first refused write, and that write's
// size; budget them both to move the failure one write further.
int64_t bytes_before_first_fault();
int64_t first_fault_size();

}  // namespace faulty_vfs

#endif  // BATON_TESTS_RELIABILITY_FAULTY_VFS_H_
