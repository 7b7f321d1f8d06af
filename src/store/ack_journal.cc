#include "store/ack_journal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace baton {

namespace {

constexpr char kFileMagic[8] = {'b', 'a', 't', 'o', 'n', '-', 'a', 'j'};
constexpr size_t kFileHeader = 16;
constexpr uint32_t kRecordMagic = 0x524A4142;  // "BAJR" little-endian
constexpr size_t kRecordHeader = 20;
// A record longer than this is not one baton wrote: the batch arena indexes
// text with 32-bit offsets, and one commit never holds gigabytes.
constexpr uint32_t kMaxPayload = 1u << 30;
// Mapped appends: the most the window of a large journal maps at once.
constexpr int64_t kMaxMapWindow = int64_t{8} << 20;
// The most one VFS write is given: SQLite's unix VFS writes at most 128 KiB
// per call and reports the rest as a full disk.
constexpr size_t kWritePiece = size_t{64} << 10;

// CRC-32C (Castagnoli), reflected, one table lookup per byte.
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

uint32_t crc32c_table(uint32_t crc, const char* p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc = kCrcTable[(crc ^ static_cast<uint8_t>(p[i])) & 0xFF] ^ (crc >> 8);
  }
  return ~crc;
}

#if defined(__x86_64__)
// SSE4.2 has CRC-32C as an instruction: eight bytes per step instead of one.
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const char* p, size_t n) {
  uint64_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    c = __builtin_ia32_crc32di(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, static_cast<uint8_t>(*p));
  return ~c32;
}
bool have_sse42() {
  static const bool have = [] {
    __builtin_cpu_init();  // may run before the runtime's own initializer
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return have;
}
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const char* p, size_t n) {
#if defined(__x86_64__)
  if (have_sse42()) return crc32c_sse42(crc, p, n);
#endif
  return crc32c_table(crc, p, n);
}

namespace {

template <typename T>
void put_at(std::string* out, size_t at, T v) {
  std::memcpy(out->data() + at, &v, sizeof v);
}

// Reads fixed-size values off a payload; any overrun marks it malformed.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool get(T* v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_text(uint32_t len, std::string_view* v) {
    if (in_.size() - pos_ < len) return false;
    *v = in_.substr(pos_, len);
    pos_ += len;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

namespace {

// Hands each field of the writes of `batch` from `begin` on to emit(bytes, n), in
// the journal's payload encoding.
template <typename Emit>
void for_each_field(const Batch& batch, size_t begin, Emit&& emit) {
  for (size_t i = begin; i < batch.writes.size(); ++i) {
    const QueuedWrite& w = batch.writes[i];
    const uint8_t stmt = static_cast<uint8_t>(w.stmt);
    emit(&stmt, 1);
    emit(&w.count, 2);
    emit(&w.seq, 8);
    for (uint16_t k = 0; k < w.count; ++k) {
      const QueuedValue& q = batch.values[w.first + k];
      const uint8_t kind = static_cast<uint8_t>(q.kind);
      emit(&kind, 1);
      switch (q.kind) {
        case Value::Kind::kNull: break;
        case Value::Kind::kInt: emit(&q.i, 8); break;
        case Value::Kind::kReal: emit(&q.d, 8); break;
        case Value::Kind::kText:
          emit(&q.len, 4);
          emit(batch.arena.data() + q.off, q.len);
          break;
      }
    }
  }
}

}  // namespace

void encode_rows(const Batch& batch, size_t begin, std::string* out) {
  // Sized first, then written through a cursor: one resize per record
  // instead of a string append per field.
  size_t bytes = 0;
  for_each_field(batch, begin, [&bytes](const void*, size_t n) { bytes += n; });
  const size_t at = out->size();
  out->resize(at + bytes);
  char* p = out->data() + at;
  for_each_field(batch, begin, [&p](const void* v, size_t n) {
    std::memcpy(p, v, n);
    p += n;
  });
}

Status decode_rows(std::string_view payload, Batch* batch) {
  auto bad = [] { return Status::error(Code::kStorage, "storage: a journal record is malformed"); };
  Reader r(payload);
  std::vector<Value> row;
  while (!r.done()) {
    uint8_t stmt = 0;
    uint16_t count = 0;
    int64_t seq = 0;
    if (!r.get(&stmt) || !r.get(&count) || !r.get(&seq)) return bad();
    if (stmt >= static_cast<uint8_t>(Stmt::kCount)) return bad();
    row.clear();
    for (uint16_t k = 0; k < count; ++k) {
      uint8_t kind = 0;
      if (!r.get(&kind)) return bad();
      Value v;
      switch (static_cast<Value::Kind>(kind)) {
        case Value::Kind::kNull: break;
        case Value::Kind::kInt:
          v.kind = Value::Kind::kInt;
          if (!r.get(&v.i)) return bad();
          break;
        case Value::Kind::kReal:
          v.kind = Value::Kind::kReal;
          if (!r.get(&v.d)) return bad();
          break;
        case Value::Kind::kText: {
          v.kind = Value::Kind::kText;
          uint32_t len = 0;
          if (!r.get(&len) || !r.get_text(len, &v.s)) return bad();
          break;
        }
        default: return bad();
      }
      row.push_back(v);
    }
    batch->append(static_cast<Stmt>(stmt), row.data(), row.size(), seq);
  }
  return Status::ok();
}

AckJournal::~AckJournal() { close(false); }

Status AckJournal::io_error(const File& f, const char* what, int rc) const {
  return Status::error(Code::kStorage, fmt::format("storage: {} the ack journal \"{}\" failed: {}",
                                                   what, f.path, sqlite3_errstr(rc)));
}

Status AckJournal::open(sqlite3_vfs* vfs, const std::string& base, int64_t file_bytes,
                        bool map) {
  vfs_ = vfs;
  // A quarter of a file's size, so that growing in windows keeps each file
  // near the size it is switched at.
  map_window_ = std::clamp<int64_t>(file_bytes / 4, 1, kMaxMapWindow);
  for (int i = 0; i < 2; ++i) {
    File& f = files_[i];
    f.path = fmt::format("{}{}", base, i);
    auto* file = static_cast<sqlite3_file*>(sqlite3_malloc(vfs->szOsFile));
    if (file == nullptr) return Status::error(Code::kStorage, "storage: out of memory");
    std::memset(file, 0, static_cast<size_t>(vfs->szOsFile));
    int out_flags = 0;
    // Opened as a main database file, the only kind SQLite's unix VFS
    // locks (others get no-op locks); it is never handed to SQLite itself.
    int rc = vfs->xOpen(vfs, f.path.c_str(), file,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB,
                        &out_flags);
    if (rc != SQLITE_OK) {
      if (file->pMethods) file->pMethods->xClose(file);
      sqlite3_free(file);
      close(false);
      return io_error(f, "opening", rc);
    }
    f.file = file;
    sqlite3_int64 size = 0;
    rc = file->pMethods->xFileSize(file, &size);
    if (rc != SQLITE_OK) {
      close(false);
      return io_error(f, "sizing", rc);
    }
    f.end = size;
    f.size = size;
  }
  // One engine per journal: a second one appending to the same files would
  // interleave records. The lock lasts until close (or the process's end).
  sqlite3_file* first = files_[0].file;
  int rc = first->pMethods->xLock(first, SQLITE_LOCK_SHARED);
  if (rc == SQLITE_OK) rc = first->pMethods->xLock(first, SQLITE_LOCK_EXCLUSIVE);
  if (rc != SQLITE_OK) {
    Status s = rc == SQLITE_BUSY
                   ? Status::error(Code::kStorage,
                                   fmt::format("storage: the ack journal \"{}\" is in use: another "
                                               "engine has this database open",
                                               files_[0].path))
                   : io_error(files_[0], "locking", rc);
    close(false);
    return s;
  }
  // The same files by their names, for mapped appends; a VFS whose files
  // are not the operating system's keeps xWrite. Opened only once the lock
  // is held, and closed only with the journal: closing any descriptor of a
  // file drops the process's POSIX locks on it, the VFS's included.
  if (map) {
    for (File& f : files_) f.fd = ::open(f.path.c_str(), O_RDWR | O_CLOEXEC);
  }
  return Status::ok();
}

Status AckJournal::replay(
    uint64_t db_id, uint64_t applied,
    const std::function<Status(uint64_t record, std::string_view payload)>& fn) {
  struct Found {
    uint64_t record;
    std::string_view payload;
  };
  std::string data[2];
  std::vector<Found> found;
  for (int i = 0; i < 2; ++i) {
    File& f = files_[i];
    sqlite3_int64 size = 0;
    int rc = f.file->pMethods->xFileSize(f.file, &size);
    if (rc != SQLITE_OK) return io_error(f, "sizing", rc);
    if (size < static_cast<sqlite3_int64>(kFileHeader)) continue;
    std::string& d = data[i];
    d.assign(static_cast<size_t>(size), '\0');
    // In pieces, as a VFS may bound one read.
    constexpr size_t kChunk = size_t{1} << 20;
    for (size_t at = 0; at < d.size(); at += kChunk) {
      int n = static_cast<int>(std::min(kChunk, d.size() - at));
      rc = f.file->pMethods->xRead(f.file, d.data() + at, n, static_cast<sqlite3_int64>(at));
      if (rc != SQLITE_OK) return io_error(f, "reading", rc);
    }
    uint64_t id = 0;
    std::memcpy(&id, d.data() + 8, sizeof id);
    if (std::memcmp(d.data(), kFileMagic, sizeof kFileMagic) != 0 || id != db_id) continue;
    size_t at = kFileHeader;
    uint64_t expected = 0;
    while (d.size() - at >= kRecordHeader) {
      uint32_t magic = 0, len = 0, crc = 0;
      uint64_t record = 0;
      std::memcpy(&magic, d.data() + at, 4);
      std::memcpy(&len, d.data() + at + 4, 4);
      std::memcpy(&record, d.data() + at + 8, 8);
      std::memcpy(&crc, d.data() + at + 16, 4);
      if (magic != kRecordMagic || len > kMaxPayload) break;
      if (d.size() - at - kRecordHeader < len) break;
      if (expected != 0 && record != expected) break;
      std::string_view payload(d.data() + at + kRecordHeader, len);
      uint32_t c = crc32c(0, d.data() + at + 8, 8);
      if (crc32c(c, payload.data(), payload.size()) != crc) break;
      if (record > applied) found.push_back({record, payload});
      expected = record + 1;
      at += kRecordHeader + len;
    }
  }
  // Each file is in order and the two hold disjoint ranges: sorting merges
  // them (stably, so that a number seen twice keeps file 0's first).
  std::stable_sort(found.begin(), found.end(),
                   [](const Found& a, const Found& b) { return a.record < b.record; });
  uint64_t expected = applied + 1;
  for (const Found& f : found) {
    if (f.record < expected) continue;  // a number seen twice: the first wins
    if (f.record != expected) break;
    Status s = fn(f.record, f.payload);
    if (!s) return s;
    ++expected;
  }
  return Status::ok();
}

namespace {

// Writes p[0, n) at `offset` in pieces a VFS takes.
int write_at(sqlite3_file* file, const char* p, size_t n, int64_t offset) {
  for (size_t at = 0; at < n; at += kWritePiece) {
    int amount = static_cast<int>(std::min(kWritePiece, n - at));
    int rc = file->pMethods->xWrite(file, p + at, amount, offset + static_cast<int64_t>(at));
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace

void AckJournal::unmap(File* f) {
  if (f->map != nullptr) munmap(f->map, static_cast<size_t>(f->map_len));
  f->map = nullptr;
  f->map_off = 0;
  f->map_len = 0;
}

Status AckJournal::map_for(File* f, size_t n) {
  const int64_t need = f->end + static_cast<int64_t>(n);
  if (f->map != nullptr && f->end >= f->map_off && need <= f->map_off + f->map_len) {
    return Status::ok();
  }
  unmap(f);
  static const int64_t page = sysconf(_SC_PAGESIZE);
  const int64_t off = f->end / page * page;
  const int64_t len = (std::max(map_window_, need - off) + page - 1) / page * page;
  // Zeros written through the VFS: the file system allocates the blocks
  // now, so a copy into the mapping cannot meet a full disk. Replay stops
  // at zeros (no record magic).
  static const std::string zeros(kWritePiece, '\0');
  while (f->size < off + len) {
    size_t amount = static_cast<size_t>(std::min<int64_t>(kWritePiece, off + len - f->size));
    int rc = write_at(f->file, zeros.data(), amount, f->size);
    if (rc != SQLITE_OK) return io_error(*f, "growing", rc);
    f->size += static_cast<int64_t>(amount);
  }
  void* p = mmap(nullptr, static_cast<size_t>(len), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, f->fd, off);
  if (p == MAP_FAILED) {
    return Status::error(Code::kStorage, fmt::format("storage: mapping the ack journal \"{}\" "
                                                     "failed: {}",
                                                     f->path, std::strerror(errno)));
  }
  f->map = static_cast<char*>(p);
  f->map_off = off;
  f->map_len = len;
  return Status::ok();
}

Status AckJournal::reset_file(File* f, uint64_t db_id, bool truncate) {
  int rc = SQLITE_OK;
  if (truncate) {
    unmap(f);  // a mapped page past the end of a file faults
    rc = f->file->pMethods->xTruncate(f->file, 0);
    if (rc != SQLITE_OK) return io_error(*f, "emptying", rc);
    f->size = 0;
  }
  f->end = 0;
  f->last_record = 0;
  f->torn = false;
  char header[kFileHeader];
  std::memcpy(header, kFileMagic, sizeof kFileMagic);
  std::memcpy(header + 8, &db_id, sizeof db_id);
  rc = f->file->pMethods->xWrite(f->file, header, sizeof header, 0);
  if (rc != SQLITE_OK) return io_error(*f, "writing the header of", rc);
  f->end = kFileHeader;
  f->size = std::max<int64_t>(f->size, kFileHeader);
  return Status::ok();
}

Status AckJournal::reset(uint64_t db_id) {
  active_ = 0;
  Status s = reset_file(&files_[1], db_id, true);
  if (s) s = reset_file(&files_[0], db_id, true);
  return s;
}

std::string* AckJournal::start_record() {
  buf_.assign(kRecordHeader, '\0');
  return &buf_;
}

Status AckJournal::append(uint64_t record) {
  File& f = files_[active_];
  if (f.end < static_cast<int64_t>(kFileHeader)) {
    // The header never made it (a failed reset): records without it would
    // be ignored by replay.
    return io_error(f, "appending to", SQLITE_IOERR_WRITE);
  }
  if (f.torn) {
    // Cut off the remains of a failed append before anything follows them.
    int rc = f.file->pMethods->xTruncate(f.file, f.end);
    if (rc != SQLITE_OK) return io_error(f, "repairing", rc);
    f.torn = false;
  }
  size_t len = buf_.size() - kRecordHeader;
  if (len > kMaxPayload) {
    return Status::error(Code::kStorage,
                         fmt::format("storage: a journal record of {} bytes is too large", len));
  }
  put_at<uint32_t>(&buf_, 0, kRecordMagic);
  put_at<uint32_t>(&buf_, 4, static_cast<uint32_t>(len));
  put_at<uint64_t>(&buf_, 8, record);
  uint32_t crc = crc32c(0, buf_.data() + 8, 8);
  put_at<uint32_t>(&buf_, 16, crc32c(crc, buf_.data() + kRecordHeader, len));
  if (f.fd >= 0) {
    Status s = map_for(&f, buf_.size());
    if (!s) return s;
    std::memcpy(f.map + (f.end - f.map_off), buf_.data(), buf_.size());
  } else {
    int rc = write_at(f.file, buf_.data(), buf_.size(), f.end);
    if (rc != SQLITE_OK) {
      // Whatever part landed must not outlive a crash as a record.
      f.torn = f.file->pMethods->xTruncate(f.file, f.end) != SQLITE_OK;
      return io_error(f, "appending to", rc);
    }
    f.size = std::max(f.size, f.end + static_cast<int64_t>(buf_.size()));
  }
  f.end += static_cast<int64_t>(buf_.size());
  f.last_record = record;
  return Status::ok();
}

Status AckJournal::close(bool remove) {
  Status result;
  for (File& f : files_) {
    if (f.file == nullptr) continue;
    unmap(&f);
    if (f.fd >= 0) ::close(f.fd);
    f.fd = -1;
    f.file->pMethods->xClose(f.file);
    sqlite3_free(f.file);
    f.file = nullptr;
    if (remove) {
      int rc = vfs_->xDelete(vfs_, f.path.c_str(), 0);
      if (rc != SQLITE_OK && rc != SQLITE_IOERR_DELETE_NOENT && result) {
        result = io_error(f, "deleting", rc);
      }
    }
  }
  return result;
}

}  // namespace baton
