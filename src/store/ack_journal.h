// AckJournal: the append-only file that makes `normal` acknowledgements cheap.
//
// In `normal` durability an acknowledgement promises that the event survives
// a process crash (the OS holds the data), not a power loss. A SQLite commit
// per push keeps that promise at the price of a transaction, several page
// writes and lock calls per event. The journal keeps it with one append:
// the rows of the events being acknowledged are appended as one record, and
// the store applies journaled rows to the tables in big transactions behind
// the acknowledgements. Each of those transactions also stores the number of
// the last record it holds, so opening the database applies exactly the
// records past it, once.
//
// File: a 16-byte header ("baton-aj" and the database's id, so a journal left
// beside a different database is ignored), then records:
//   u32 magic | u32 payload length | u64 record number | u32 CRC-32C of the
//   record number and the payload | payload (rows, see encode_rows)
// Replay stops at the first record that is short, foreign, out of sequence or
// fails its checksum: a write cut short by a crash or a full disk.
//
// The files are opened, locked, read, grown and emptied through a SQLite VFS
// (the database's), so a fault-injecting VFS fails journal I/O as it fails
// database I/O. Appends, when the file is also a file of the operating
// system, copy the record into a shared mapping of the file's end instead
// of calling write(2): the bytes are in the page cache, which is what
// `normal` promises, without a system call per acknowledgement. The mapped
// range is always inside the file's length and was written (with zeros)
// through the VFS first, so its blocks are allocated and a full disk fails
// that growth, never a copy. A VFS whose files the operating system cannot
// open gets its appends through xWrite.
//
// Thread safety: none; the store serializes every call.
#ifndef BATON_STORE_ACK_JOURNAL_H_
#define BATON_STORE_ACK_JOURNAL_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "baton/status.h"
#include "store/batch.h"

namespace baton {

class AckJournal {
 public:
  AckJournal() = default;
  ~AckJournal();
  AckJournal(const AckJournal&) = delete;
  AckJournal& operator=(const AckJournal&) = delete;

  // Opens (creating if needed) the journal's two files, `base`0 and `base`1,
  // through `vfs`. Records go to one of them; once it holds more than about
  // `file_bytes` and every record of the other is in the tables, the other
  // starts over and becomes the active one, so no record that still matters
  // is ever overwritten. `map`: append through a mapping of the files when
  // the operating system can open them (else xWrite).
  Status open(sqlite3_vfs* vfs, const std::string& base, int64_t file_bytes, bool map);
  bool is_open() const { return files_[0].file != nullptr; }

  // Calls fn(record, payload) for every intact record past `applied` of a
  // journal written for database `db_id`, in record order, stopping at the
  // first gap. A journal of another database, or none, has no records.
  // kStorage when a file cannot be read.
  Status replay(uint64_t db_id, uint64_t applied,
                const std::function<Status(uint64_t record, std::string_view payload)>& fn);
  // Empties both files (whatever they held) and stamps them for `db_id`;
  // records go to the first.
  Status reset(uint64_t db_id);

  // Building one record: start_record() hands out the buffer to encode the
  // payload into (after the header space it reserves), append() writes it
  // to the active file. On failure nothing of the record counts: what part
  // of it reached the file is cut off before anything else is appended.
  std::string* start_record();
  Status append(uint64_t record);

  // Switching files, in four steps so that appends wait only for the first
  // and the third (see SqliteStore::rotate_journal):
  //   - may_rotate: the active file holds more than `limit` bytes and every
  //     record of the other is at most `applied` (in the tables);
  //   - reset_inactive: starts the other file over (no append touches it);
  //   - switch_files: makes it the active one;
  //   - release_inactive: unmaps the file left behind (no append touches
  //     it), whose window would otherwise stay resident (8 MiB by default)
  //     until it is active again.
  // Never while the active file is torn: the remains of a failed append
  // could hold the number of the next record, which would then be written
  // to the other file, and replay would meet the number twice.
  bool may_rotate(uint64_t applied, int64_t limit) const {
    const File& active = files_[active_];
    return !active.torn && active.end > limit && files_[active_ ^ 1].last_record <= applied;
  }
  // The file keeps its length: appends then overwrite blocks the file
  // system already holds instead of allocating new ones. The old records
  // left past the new ones are all applied and numbered below them, so
  // replay stops at the first (a record must follow its predecessor).
  Status reset_inactive(uint64_t db_id) {
    return reset_file(&files_[active_ ^ 1], db_id, false);
  }
  void switch_files() { active_ ^= 1; }
  void release_inactive() { unmap(&files_[active_ ^ 1]); }

  // Closes the files, deleting them when `remove` is set.
  Status close(bool remove);

 private:
  struct File {
    sqlite3_file* file = nullptr;
    std::string path;
    int64_t end = 0;
    uint64_t last_record = 0;  // the highest record appended since the last reset
    bool torn = false;         // a failed append left bytes past `end`
    // Mapped appends: the file's own descriptor (-1: appends use xWrite),
    // its length, and the mapped window [map_off, map_off + map_len).
    int fd = -1;
    int64_t size = 0;
    char* map = nullptr;
    int64_t map_off = 0;
    int64_t map_len = 0;
  };
  Status io_error(const File& f, const char* what, int rc) const;
  Status reset_file(File* f, uint64_t db_id, bool truncate);
  // Makes [f->end, f->end + n) part of the mapped window, growing the file
  // through the VFS when it is shorter.
  Status map_for(File* f, size_t n);
  static void unmap(File* f);

  sqlite3_vfs* vfs_ = nullptr;
  File files_[2];
  int active_ = 0;
  int64_t map_window_ = 0;  // the least a mapped window covers
  std::string buf_;
};

// CRC-32C (Castagnoli) of p[0, n), continuing from `crc` (0 to start).
uint32_t crc32c(uint32_t crc, const char* p, size_t n);

// Appends the rows of `batch` from its write `begin` on to `out` in the
// journal's payload encoding.
void encode_rows(const Batch& batch, size_t begin, std::string* out);
// Appends the rows of a payload to `batch`; kStorage when it is malformed.
Status decode_rows(std::string_view payload, Batch* batch);

}  // namespace baton

#endif  // BATON_STORE_ACK_JOURNAL_H_
