// The write queue's coalescing of upserts (store/batch.h), against a direct
// reading of its rule.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "store/batch.h"

namespace baton {
namespace {

// The rule, O(n^2): an upsert is skipped when a later write has the same
// statement and key, except that of two client-seq writes the higher seq is
// the one kept.
std::vector<uint8_t> expected_skips(const Batch& b) {
  std::vector<uint8_t> skip(b.writes.size(), 0);
  auto key = [&](size_t i) {
    const QueuedWrite& w = b.writes[i];
    std::string k(1, static_cast<char>(w.stmt));
    for (uint16_t c = 0; c < Batch::key_columns(w.stmt); ++c) {
      Value v = b.value(w, c);
      k += std::to_string(static_cast<int>(v.kind)) + ":" +
           (v.kind == Value::Kind::kText ? std::string(v.s) : std::to_string(v.i)) + "|";
    }
    return k;
  };
  for (size_t i = 0; i < b.writes.size(); ++i) {
    if (Batch::key_columns(b.writes[i].stmt) == 0) continue;
    for (size_t j = 0; j < b.writes.size(); ++j) {
      if (j == i || key(j) != key(i)) continue;
      if (b.writes[i].stmt == Stmt::kUpsertClientSeq) {
        int64_t si = b.value(b.writes[i], 1).i, sj = b.value(b.writes[j], 1).i;
        if (sj > si || (sj == si && j > i)) skip[i] = 1;
      } else if (j > i) {
        skip[i] = 1;
      }
    }
  }
  return skip;
}

TEST_CASE("a batch writes each upserted key once: the last write, or the client's highest seq") {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    Batch b;
    int n = 8 + static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      // Few distinct keys, so that many repeat; texts of equal length and
      // a NUL inside, so that only whole keys tell them apart.
      std::string run = "r" + std::to_string(rng() % 3);
      std::string test = std::string("t\0", 2) + std::to_string(rng() % 5);
      switch (rng() % 4) {
        case 0:
          b.append(Stmt::kInsertEvent, {int64_t{i + 1}, run, "log", "c", int64_t{i}, Value(),
                                        int64_t{0}, "p"},
                   i + 1);
          break;
        case 1:
          b.append(Stmt::kUpsertClientSeq,
                   {"c" + std::to_string(rng() % 3), static_cast<int64_t>(rng() % 50)}, i + 1);
          break;
        case 2:
          b.append(Stmt::kUpsertSuite, {run, test, "name", Value(), Value(), int64_t{i}, Value()},
                   i + 1);
          break;
        default:
          b.append(Stmt::kUpsertAttempt, {run, test, static_cast<int64_t>(rng() % 2 + 1)}, i + 1);
          break;
      }
    }
    std::vector<uint8_t> skip;
    b.superseded(&skip);
    INFO("round " << round << ", " << n << " writes");
    CHECK(skip == expected_skips(b));
  }
}

// Every write of `b` as text, one line each.
std::vector<std::string> rows_of(const Batch& b) {
  std::vector<std::string> out;
  for (const QueuedWrite& w : b.writes) {
    std::string line = std::to_string(static_cast<int>(w.stmt)) + "@" + std::to_string(w.seq);
    for (uint16_t k = 0; k < w.count; ++k) {
      Value v = b.value(w, k);
      line += v.kind == Value::Kind::kText  ? "|t:" + std::string(v.s)
              : v.kind == Value::Kind::kInt ? "|i:" + std::to_string(v.i)
                                            : std::string("|null");
    }
    out.push_back(line);
  }
  return out;
}

TEST_CASE("a batch's writes can be copied, cut and erased by range, values and all") {
  Batch b;
  for (int64_t i = 1; i <= 20; ++i) {
    if (i % 3 == 0) {
      b.append(Stmt::kUpsertClientSeq, {"c" + std::to_string(i), i}, i);
    } else {
      b.append(Stmt::kInsertEvent, {i, "run", "log", Value(), i, Value(), i, std::string(i, 'p')},
               i);
    }
  }
  const std::vector<std::string> all = rows_of(b);
  auto slice = [&](size_t from, size_t to) {
    return std::vector<std::string>(all.begin() + static_cast<long>(from),
                                    all.begin() + static_cast<long>(to));
  };

  Batch copy;
  copy.append_writes(b, 5, 12);
  copy.append_writes(b, 0, 2);
  std::vector<std::string> want = slice(5, 12);
  for (const std::string& r : slice(0, 2)) want.push_back(r);
  CHECK(rows_of(copy) == want);
  CHECK(copy.last_seq == 12);

  Batch cut = b;
  cut.truncate(7);
  CHECK(rows_of(cut) == slice(0, 7));
  CHECK(cut.last_seq == 7);
  // What was cut takes no room: appending after it reads back whole.
  cut.append_writes(b, 15, 20);
  want = slice(0, 7);
  for (const std::string& r : slice(15, 20)) want.push_back(r);
  CHECK(rows_of(cut) == want);

  Batch erased = b;
  erased.erase_writes(3, 9);
  want = slice(0, 3);
  for (const std::string& r : slice(9, 20)) want.push_back(r);
  CHECK(rows_of(erased) == want);

  int64_t first = 0, last = 0;
  b.seq_range(4, 10, &first, &last);
  CHECK(first == 5);
  CHECK(last == 10);
  b.seq_range(4, 4, &first, &last);
  CHECK(first == 0);
  CHECK(last == 0);
}

}  // namespace
}  // namespace baton
