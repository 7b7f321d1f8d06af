// The queue of writes a store has accepted but not yet committed.
//
// write() copies each value once into a batch; text lives in one arena so a
// batch of thousands of rows costs three vector appends per row, and every
// text is followed by a NUL so that drivers wanting C strings (libpq's text
// parameters) can point into the arena directly.
#ifndef BATON_STORE_BATCH_H_
#define BATON_STORE_BATCH_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "baton/status.h"
#include "baton/store.h"

namespace baton {

struct QueuedValue {
  Value::Kind kind;
  int64_t i;
  double d;
  uint32_t off;  // text: [off, off + len) in the arena
  uint32_t len;
};

struct QueuedWrite {
  Stmt stmt;
  uint16_t count;
  uint32_t first;  // index of its first value
  int64_t seq;
};

struct Batch {
  std::vector<QueuedWrite> writes;
  std::vector<QueuedValue> values;
  std::string arena;
  int64_t last_seq = 0;

  bool empty() const { return writes.empty(); }
  // Keeps the buffers for the next batch, unless a burst grew them past what
  // a steady stream needs: those are given back.
  void clear() {
    if (arena.capacity() > kKeepArenaBytes || values.capacity() > kKeepValues) {
      std::vector<QueuedWrite>().swap(writes);
      std::vector<QueuedValue>().swap(values);
      std::string().swap(arena);
    } else {
      writes.clear();
      values.clear();
      arena.clear();
    }
    last_seq = 0;
  }
  static constexpr size_t kKeepArenaBytes = size_t{16} << 20;
  static constexpr size_t kKeepValues = 256 * 1024;
  void append(Stmt stmt, std::initializer_list<Value> row, int64_t seq) {
    append(stmt, row.begin(), row.size(), seq);
  }
  void append(Stmt stmt, const Value* row, size_t count, int64_t seq) {
    QueuedWrite w{stmt, static_cast<uint16_t>(count), static_cast<uint32_t>(values.size()), seq};
    for (const Value* end = row + count; row != end; ++row) {
      push_value(QueuedValue{row->kind, row->i, row->d, 0, 0}, row->s);
    }
    push_write(w);
  }
  // Appends writes [begin, end) of `other`, as if each had been appended
  // here.
  void append_writes(const Batch& other, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      QueuedWrite w = other.writes[i];
      const uint32_t from = w.first;
      w.first = static_cast<uint32_t>(values.size());
      for (uint16_t k = 0; k < w.count; ++k) {
        const QueuedValue& q = other.values[from + k];
        push_value(q, q.kind == Value::Kind::kText
                          ? std::string_view(other.arena).substr(q.off, q.len)
                          : std::string_view());
      }
      push_write(w);
    }
  }
  // Keeps the first `n` writes and drops the rest, with their values.
  void truncate(size_t n) {
    if (n >= writes.size()) return;
    const uint32_t first_value = writes[n].first;
    for (size_t v = first_value; v < values.size(); ++v) {
      if (values[v].kind == Value::Kind::kText) {
        arena.resize(values[v].off);  // texts are appended in value order
        break;
      }
    }
    values.resize(first_value);
    writes.resize(n);
    last_seq = 0;
    for (const QueuedWrite& w : writes) last_seq = std::max(last_seq, w.seq);
  }
  // Drops writes [begin, end), keeping the others in order.
  void erase_writes(size_t begin, size_t end) {
    Batch kept;
    kept.append_writes(*this, 0, begin);
    kept.append_writes(*this, end, writes.size());
    std::swap(*this, kept);
  }
  // The lowest and highest event sequence numbers of writes [begin, end)
  // (0 and 0: none).
  void seq_range(size_t begin, size_t end, int64_t* first, int64_t* last) const {
    *first = 0;
    *last = 0;
    for (size_t i = begin; i < end; ++i) {
      const int64_t seq = writes[i].seq;
      if (seq <= 0) continue;
      if (*first == 0) *first = seq;
      *last = std::max(*last, seq);
    }
  }
  // The k-th value of `w`; text views point into the arena (NUL follows).
  Value value(const QueuedWrite& w, uint16_t k) const {
    const QueuedValue& q = values[w.first + k];
    Value v;
    v.kind = q.kind;
    v.i = q.i;
    v.d = q.d;
    if (q.kind == Value::Kind::kText) v.s = std::string_view(arena).substr(q.off, q.len);
    return v;
  }
  // Queues a value; a text's bytes (`text`) go to the arena, NUL-terminated.
  void push_value(QueuedValue q, std::string_view text) {
    if (q.kind == Value::Kind::kText) {
      q.off = static_cast<uint32_t>(arena.size());
      q.len = static_cast<uint32_t>(text.size());
      arena.append(text);
      arena.push_back('\0');
    }
    values.push_back(q);
  }
  // Queues a write whose values were just pushed.
  void push_write(const QueuedWrite& w) {
    writes.push_back(w);
    if (w.seq > last_seq) last_seq = w.seq;
  }
  // Marks in `skip` the upserts that a later write of the same statement and
  // key in this batch makes redundant, so that a commit writes each derived
  // row once however many events of the batch touched it. Every upsert but
  // the clients' replaces the whole row, so the last one wins; the clients'
  // keeps the highest seq, so the write holding it is the one kept. The
  // rows of one batch commit in one transaction, so the result is the same.
  // Small batches are left alone: one event rarely writes a key twice.
  void superseded(std::vector<uint8_t>* skip) const {
    skip->assign(writes.size(), 0);
    if (writes.size() < kCoalesceFrom) return;
    // An open-addressing table of the kept writes, by key hash; equal
    // hashes are told apart by comparing the keys themselves.
    struct Slot {
      uint64_t hash;
      uint32_t write;  // index + 1 of the kept write; 0: empty
    };
    static thread_local std::vector<Slot> table;
    size_t cap = 16;
    while (cap < writes.size() * 2) cap <<= 1;
    table.assign(cap, Slot{0, 0});
    for (size_t i = writes.size(); i-- > 0;) {
      const QueuedWrite& w = writes[i];
      size_t key_values = key_columns(w.stmt);
      if (key_values == 0 || w.count < key_values) continue;
      uint64_t h = key_hash(w, key_values);
      size_t at = h & (cap - 1);
      while (table[at].write != 0 &&
             (table[at].hash != h || !same_key(writes[table[at].write - 1], w, key_values))) {
        at = (at + 1) & (cap - 1);
      }
      Slot& slot = table[at];
      if (slot.write == 0) {
        slot = Slot{h, static_cast<uint32_t>(i + 1)};
        continue;
      }
      size_t kept_at = slot.write - 1;
      if (w.stmt == Stmt::kUpsertClientSeq) {
        // Keep whichever holds the higher seq.
        const QueuedValue& kept = values[writes[kept_at].first + 1];
        const QueuedValue& here = values[w.first + 1];
        if (here.kind == Value::Kind::kInt && kept.kind == Value::Kind::kInt && here.i > kept.i) {
          (*skip)[kept_at] = 1;
          slot.write = static_cast<uint32_t>(i + 1);
          continue;
        }
      }
      (*skip)[i] = 1;
    }
  }
  // The hash of the statement and first `n` values of `w`.
  uint64_t key_hash(const QueuedWrite& w, size_t n) const {
    uint64_t h = static_cast<uint64_t>(w.stmt) * 0x9E3779B97F4A7C15ull;
    for (size_t k = 0; k < n; ++k) {
      const QueuedValue& q = values[w.first + k];
      uint64_t v = q.kind == Value::Kind::kText
                       ? std::hash<std::string_view>()(std::string_view(arena).substr(q.off, q.len))
                       : static_cast<uint64_t>(q.i);
      h = (h ^ (v + static_cast<uint64_t>(q.kind))) * 0x100000001B3ull;
      h ^= h >> 29;
    }
    return h;
  }
  // Whether `a` and `b` are the same statement with equal first `n` values.
  bool same_key(const QueuedWrite& a, const QueuedWrite& b, size_t n) const {
    if (a.stmt != b.stmt) return false;
    for (size_t k = 0; k < n; ++k) {
      const QueuedValue& x = values[a.first + k];
      const QueuedValue& y = values[b.first + k];
      if (x.kind != y.kind) return false;
      if (x.kind == Value::Kind::kText) {
        if (x.len != y.len || arena.compare(x.off, x.len, arena, y.off, y.len) != 0) return false;
      } else if (x.i != y.i || (x.kind == Value::Kind::kReal && x.d != y.d)) {
        return false;
      }
    }
    return true;
  }
  static constexpr size_t kCoalesceFrom = 8;
  // How many leading values form the key of a coalesced upsert (0: every
  // write is kept). An attempt's row is written once, when the attempt ends
  // or is interrupted, so looking for its repeats costs the writer more
  // (three hashed keys per row) than it could save; its writes all run, in
  // order, which gives the same row.
  static size_t key_columns(Stmt stmt) {
    switch (stmt) {
      case Stmt::kUpsertRun: return 1;           // run
      case Stmt::kUpsertSuite: return 2;         // run, suite
      case Stmt::kUpsertClientSeq: return 1;     // client
      case Stmt::kUpsertSpec: return 2;          // run, spec
      default: return 0;
    }
  }
  // The lowest event sequence number in the batch (0: none).
  int64_t first_seq() const {
    int64_t first = 0, last = 0;
    seq_range(0, writes.size(), &first, &last);
    return first;
  }
};

// The outcome of the recent batches that failed. One thread commits a batch
// for many (group commit); each of the others then looks its own event's
// sequence number up here. A few recent ranges suffice, because a thread
// looks right after the leader that took its rows finishes.
class FailedBatches {
 public:
  // Notes that the batch of events [first_seq, last_seq] failed with `s`
  // (first_seq 0: a batch with no events, which no one looks up).
  void record(const Status& s, int64_t first_seq, int64_t last_seq) {
    last_ = s;
    if (first_seq <= 0) return;
    ranges_.emplace_back(first_seq, last_seq);
    if (ranges_.size() > kKept) ranges_.erase(ranges_.begin());
  }
  // The failure of the batch that held event `seq`; ok when it was stored.
  Status outcome(int64_t seq) const {
    for (const auto& [lo, hi] : ranges_) {
      if (seq >= lo && seq <= hi) return last_;
    }
    return Status::ok();
  }

 private:
  static constexpr size_t kKept = 64;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  Status last_;
};

}  // namespace baton

#endif  // BATON_STORE_BATCH_H_
