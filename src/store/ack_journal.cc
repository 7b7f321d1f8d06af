#include "store/ack_journal.h"

#include <algorithm>
#include <array>
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
void put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}
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

void encode_rows(const Batch& batch, std::string* out) {
  for (const QueuedWrite& w : batch.writes) {
    put<uint8_t>(out, static_cast<uint8_t>(w.stmt));
    put<uint16_t>(out, w.count);
    put<int64_t>(out, w.seq);
    for (uint16_t k = 0; k < w.count; ++k) {
      const QueuedValue& q = batch.values[w.first + k];
      put<uint8_t>(out, static_cast<uint8_t>(q.kind));
      switch (q.kind) {
        case Value::Kind::kNull: break;
        case Value::Kind::kInt: put<int64_t>(out, q.i); break;
        case Value::Kind::kReal: put<double>(out, q.d); break;
        case Value::Kind::kText:
          put<uint32_t>(out, q.len);
          out->append(batch.arena, q.off, q.len);
          break;
      }
    }
  }
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

Status AckJournal::open(sqlite3_vfs* vfs, const std::string& base) {
  vfs_ = vfs;
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

Status AckJournal::reset_file(File* f, uint64_t db_id, bool truncate) {
  int rc = SQLITE_OK;
  if (truncate) {
    rc = f->file->pMethods->xTruncate(f->file, 0);
    if (rc != SQLITE_OK) return io_error(*f, "emptying", rc);
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
  int rc = f.file->pMethods->xWrite(f.file, buf_.data(), static_cast<int>(buf_.size()), f.end);
  if (rc != SQLITE_OK) {
    // Whatever part landed must not outlive a crash as a record.
    f.torn = f.file->pMethods->xTruncate(f.file, f.end) != SQLITE_OK;
    return io_error(f, "appending to", rc);
  }
  f.end += static_cast<int64_t>(buf_.size());
  f.last_record = record;
  return Status::ok();
}

Status AckJournal::close(bool remove) {
  Status result;
  for (File& f : files_) {
    if (f.file == nullptr) continue;
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
