#include "faulty_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace faulty_vfs {

namespace {

// The wrapper file: our methods, followed in the same allocation by the real
// file of the wrapped VFS.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  const char* name;  // SQLite keeps it valid until xClose; may be null
};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
// One method table per io_methods version the real VFS may hand out.
sqlite3_io_methods g_methods[4];

std::atomic<int> g_fault{static_cast<int>(Fault::kNone)};
std::atomic<int64_t> g_target{0};
std::atomic<int64_t> g_writes{0}, g_syncs{0}, g_reads{0}, g_bytes{0}, g_injected{0};
std::atomic<int64_t> g_first_fault_at{-1}, g_first_fault_size{0};
std::atomic<void (*)(const char*)> g_write_observer{nullptr};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }
Fault armed() { return static_cast<Fault>(g_fault.load(std::memory_order_acquire)); }

bool hit(Fault kind, std::atomic<int64_t>& counter) {
  int64_t n = counter.fetch_add(1) + 1;
  if (armed() != kind || n != g_target.load()) return false;
  g_injected.fetch_add(1);
  return true;
}

int x_close(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }

int x_read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  if (hit(Fault::kRead, g_reads)) return SQLITE_IOERR_READ;
  return real(f)->pMethods->xRead(real(f), buf, amt, off);
}

int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  if (auto observe = g_write_observer.load(std::memory_order_acquire)) {
    observe(reinterpret_cast<File*>(f)->name);
  }
  if (hit(Fault::kWrite, g_writes)) return SQLITE_IOERR_WRITE;
  if (armed() == Fault::kFull) {
    // A full disk stays full: every write past the budget fails, none lands.
    int64_t before = g_bytes.load();
    if (before + amt > g_target.load()) {
      if (g_injected.fetch_add(1) == 0) {
        g_first_fault_at = before;
        g_first_fault_size = amt;
      }
      return SQLITE_FULL;
    }
  }
  g_bytes.fetch_add(amt);
  return real(f)->pMethods->xWrite(real(f), buf, amt, off);
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real(f)->pMethods->xTruncate(real(f), size);
}

int x_sync(sqlite3_file* f, int flags) {
  if (hit(Fault::kSync, g_syncs)) return SQLITE_IOERR_FSYNC;
  return real(f)->pMethods->xSync(real(f), flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real(f)->pMethods->xFileSize(real(f), size);
}
int x_lock(sqlite3_file* f, int lock) { return real(f)->pMethods->xLock(real(f), lock); }
int x_unlock(sqlite3_file* f, int lock) { return real(f)->pMethods->xUnlock(real(f), lock); }
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
int x_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** out) {
  return real(f)->pMethods->xFetch(real(f), off, amt, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = reinterpret_cast<File*>(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->name = name;
  std::memset(f->real, 0, static_cast<size_t>(g_real->szOsFile));
  int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  // SQLite calls xClose only when pMethods is set; mirror the real file.
  if (f->real->pMethods == nullptr) {
    f->base.pMethods = nullptr;
    return rc;
  }
  int version = f->real->pMethods->iVersion;
  if (version < 1 || version > 3) version = 3;
  f->base.pMethods = &g_methods[version];
  return rc;
}

}  // namespace

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kWrite: return "write";
    case Fault::kSync: return "sync";
    case Fault::kRead: return "read";
    case Fault::kFull: return "full";
  }
  return "?";
}

void install() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr) throw std::runtime_error("no default SQLite VFS");
    // Everything but xOpen goes straight to the wrapped VFS, which keeps its
    // own pAppData: its other methods never see a wrapped file.
    g_vfs = *g_real;
    g_vfs.pNext = nullptr;
    g_vfs.zName = kName;
    g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_real->szOsFile;
    g_vfs.xOpen = x_open;
    for (int v = 1; v <= 3; ++v) {
      sqlite3_io_methods& m = g_methods[v];
      m = sqlite3_io_methods{};
      m.iVersion = v;
      m.xClose = x_close;
      m.xRead = x_read;
      m.xWrite = x_write;
      m.xTruncate = x_truncate;
      m.xSync = x_sync;
      m.xFileSize = x_file_size;
      m.xLock = x_lock;
      m.xUnlock = x_unlock;
      m.xCheckReservedLock = x_check_reserved_lock;
      m.xFileControl = x_file_control;
      m.xSectorSize = x_sector_size;
      m.xDeviceCharacteristics = x_device_characteristics;
      if (v >= 2) {
        m.xShmMap = x_shm_map;
        m.xShmLock = x_shm_lock;
        m.xShmBarrier = x_shm_barrier;
        m.xShmUnmap = x_shm_unmap;
      }
      if (v >= 3) {
        m.xFetch = x_fetch;
        m.xUnfetch = x_unfetch;
      }
    }
    if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) {
      throw std::runtime_error("sqlite3_vfs_register failed");
    }
  });
}

void arm(Fault fault, int64_t n) {
  g_fault.store(static_cast<int>(Fault::kNone));
  g_writes = 0;
  g_syncs = 0;
  g_reads = 0;
  g_bytes = 0;
  g_injected = 0;
  g_first_fault_at = -1;
  g_first_fault_size = 0;
  g_target = n;
  g_fault.store(static_cast<int>(fault), std::memory_order_release);
}

void observe_writes(void (*fn)(const char* path)) {
  g_write_observer.store(fn, std::memory_order_release);
}

void disarm() { g_fault.store(static_cast<int>(Fault::kNone), std::memory_order_release); }

int64_t injected() { return g_injected.load(); }
int64_t writes() { return g_writes.load(); }
int64_t syncs() { return g_syncs.load(); }
int64_t reads() { return g_reads.load(); }
int64_t bytes_written() { return g_bytes.load(); }
int64_t bytes_before_first_fault() { return g_first_fault_at.load(); }
int64_t first_fault_size() { return g_first_fault_size.load(); }

}  // namespace faulty_vfs
