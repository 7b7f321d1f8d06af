// Storage faults, SQLite's own I/O-error loop applied to baton: for N = 1, 2,
// 3, ... the Nth write, sync or read fails (or the disk is full after the
// Nth write) while an engine opens a database, ingests a few messages, is
// queried and closes; the loop ends at the first N that no operation reaches.
// For every N:
//   - open either works or refuses with `storage` (never a crash);
//   - a push refused with `storage` says so in its reply, is not in the log,
//     and its seq is not consumed: the client's resend applies it (no dup);
//   - a one-shot fault lets the engine go on; a full disk refuses every push
//     clearly until space returns, then the resend applies;
//   - the run summary always agrees with the events table;
//   - afterwards integrity_check is ok, every acknowledged event is in the
//     log exactly once, and the derived tables equal a rebuild from the log.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "baton/baton.h"
#include "faulty_vfs.h"
#include "reliability.h"

using namespace baton;
using namespace baton::reliability;
using faulty_vfs::Fault;

namespace {

static_assert(static_cast<int>(Code::kStorage) == BATON_ESTORAGE);

// Messages of client c0 already in the database before the faulty scenario
// (run.start, suite.start), and how many it then pushes.
constexpr int64_t kBaseline = 2;
constexpr int64_t kPushes = 7;

bool has(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

// "status" and "counts" of a run summary: the parts that do not depend on
// the clock.
std::string summary_core(const std::string& summary) {
  size_t from = summary.find("\"status\"");
  size_t counts = summary.find("\"counts\"");
  if (from == std::string::npos || counts == std::string::npos) return summary;
  size_t to = summary.find('}', counts);
  return summary.substr(from, to - from + 1);
}

std::string run_summary(Orchestrator* engine, const std::string& run, Status* status) {
  std::string out;
  *status = engine->query(fmt::format(R"({{"op":"run","run":"{}"}})", run), &out);
  return out;
}

// The summary a fresh engine gives after ingesting exactly the events the
// database holds: what the events table says the run is.
std::string summary_from_log(const std::string& path, const std::string& run) {
  Db db(path);
  std::string error;
  auto payloads = db.rows("SELECT payload FROM events ORDER BY seq", &error);
  REQUIRE(error.empty());
  EngineOptions o;
  std::unique_ptr<Orchestrator> ref;
  REQUIRE(Orchestrator::open(o, &ref).is_ok());
  std::unique_ptr<Session> session;
  REQUIRE(ref->open_session(R"({"client":"c0"})", &session).is_ok());
  for (const std::string& p : payloads) {
    std::string reply;
    REQUIRE(ref->push(session.get(), p, &reply).is_ok());
  }
  Status s;
  std::string out = run_summary(ref.get(), run, &s);
  return s ? summary_core(out) : std::string("no run");
}

struct Tally {
  int iterations = 0;
  int open_refused = 0;
  int push_refused = 0;
  int push_ok_despite_fault = 0;
  int query_refused = 0;
  int close_failed = 0;
};

// The configurations under test: "normal" (with the ack journal, whose
// records are copied into a mapping of its file: the VFS sees the journal
// grow, not each append), "normal-xwrite" (the same, each append an xWrite
// through the VFS), "normal-direct" (a SQLite commit per push) and "full".
std::string engine_options(const std::string& path, const char* mode) {
  std::string m(mode);
  bool direct = m == "normal-direct";
  bool normal = m.starts_with("normal");
  return fmt::format(R"({{"path":"{}","durability":"{}","ack_journal":{},"sqlite_vfs":"{}"}})",
                     path, normal ? "normal" : m, direct ? "false" : "true", faulty_vfs::kName);
}
EngineOptions options_for(const std::string& path, const char* mode) {
  EngineOptions options;
  REQUIRE(EngineOptions::from_json(engine_options(path, mode), &options).is_ok());
  if (std::string(mode) == "normal-xwrite") options.store.ack_journal_map = false;
  return options;
}
constexpr const char* kModes[] = {"normal", "normal-xwrite", "normal-direct", "full"};

// With the ack journal, acknowledged rows reach the tables behind the
// acknowledgement, so while a fault lasts the tables may lag the acks.
bool journaled(const char* mode) {
  return std::string(mode) == "normal" || std::string(mode) == "normal-xwrite";
}

// One pass of the scenario with the fault armed. Returns how many of c0's
// messages are acknowledged at the end.
int64_t scenario(const std::string& path, const char* durability, Fault fault, int64_t n,
                 int64_t first_seq, Tally* tally) {
  const std::string run = run_of("", 0, 1);
  faulty_vfs::arm(fault, n);
  EngineOptions options = options_for(path, durability);
  std::unique_ptr<Orchestrator> engine;
  Status s = Orchestrator::open(options, &engine);
  if (!s) {
    // A clean refusal: storage, naming what failed.
    CHECK(s.code() == Code::kStorage);
    CHECK(has(s.message(), "storage"));
    CHECK(faulty_vfs::injected() > 0);
    ++tally->open_refused;
    faulty_vfs::disarm();
    return first_seq - 1;
  }
  std::unique_ptr<Session> session;
  REQUIRE(engine->open_session(R"({"client":"c0"})", &session).is_ok());
  int64_t acked = first_seq - 1;
  for (int64_t seq = first_seq; seq < first_seq + kPushes; ++seq) {
    std::string msg = message("", 0, seq);
    std::string reply;
    int64_t injected_before = faulty_vfs::injected();
    s = engine->push(session.get(), msg, &reply);
    for (int attempt = 0; !s; ++attempt) {
      INFO("seq " << seq << " attempt " << attempt << ": " << reply);
      REQUIRE(s.code() == Code::kStorage);
      CHECK(has(reply, R"("ok":false,"code":"storage")"));
      CHECK(faulty_vfs::injected() > injected_before);
      ++tally->push_refused;
      // Nothing half-applied: not in the log, and the summary agrees with it.
      if (journaled(durability)) {
        CHECK(logged_seq(path, "c0") <= seq - 1);
      } else {
        CHECK(logged_seq(path, "c0") == seq - 1);
      }
      Status qs;
      std::string live = run_summary(engine.get(), run, &qs);
      if (qs) {
        CHECK(summary_core(live) == summary_from_log(path, run));
      } else if (qs.code() == Code::kNotFound) {
        CHECK(summary_from_log(path, run) == "no run");
      } else {
        CHECK(qs.code() == Code::kStorage);
        ++tally->query_refused;
      }
      // A one-shot fault is gone at the first resend; a full disk refuses
      // until space returns (twice here), then the resend applies.
      if (fault == Fault::kFull && attempt >= 1) faulty_vfs::disarm();
      REQUIRE(attempt < 4);
      injected_before = faulty_vfs::injected();
      s = engine->push(session.get(), msg, &reply);
    }
    INFO("seq " << seq << ": " << reply);
    CHECK(!has(reply, "dup"));
    if (faulty_vfs::injected() > injected_before) ++tally->push_ok_despite_fault;
    acked = seq;
  }
  Status qs;
  std::string live = run_summary(engine.get(), run, &qs);
  if (!qs) {
    CHECK(qs.code() == Code::kStorage);
    ++tally->query_refused;
  }
  s = engine->close();
  if (!s) {
    CHECK(s.code() == Code::kStorage);
    ++tally->close_failed;
  }
  faulty_vfs::disarm();
  return acked;
}

// Everything that must hold once the fault is gone.
void check_after(const std::string& path, int64_t acked) {
  {
    Db db(path);
    REQUIRE(db.error() == "");
    std::string error;
    CHECK(db.one("PRAGMA integrity_check", &error) == "ok");
    REQUIRE(error == "");
  }
  // An open refused on a new database may leave it without a schema; this
  // open, with no fault, must then create it.
  EngineOptions o;
  REQUIRE(EngineOptions::from_json(fmt::format(R"({{"path":"{}"}})", path), &o).is_ok());
  std::unique_ptr<Orchestrator> engine;
  REQUIRE(Orchestrator::open(o, &engine).is_ok());
  REQUIRE(check_log(path) == "");
  CHECK(logged_seq(path, "c0") == acked);
  CHECK(check_rebuild(engine->store()) == "");
  if (acked > 0) {
    Status s;
    std::string live = run_summary(engine.get(), run_of("", 0, 1), &s);
    REQUIRE(s.is_ok());
    CHECK(summary_core(live) == summary_from_log(path, run_of("", 0, 1)));
  }
  REQUIRE(engine->close().is_ok());
}

// Faults are injected above the file system, so a RAM-backed one serves as
// well and spares hundreds of real fsyncs.
std::string test_path(const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string dir = fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
                        ? "/dev/shm"
                        : BATON_BINARY_DIR;
  return fmt::format("{}/baton-fault-{}-{}.db", dir, name, getpid());
}

// The database every pass starts from: empty (`fresh`) or holding c0's
// first kBaseline messages.
void make_baseline(const std::string& path, bool fresh) {
  remove_db(path);
  if (fresh) return;
  EngineOptions o;
  REQUIRE(EngineOptions::from_json(fmt::format(R"({{"path":"{}"}})", path), &o).is_ok());
  std::unique_ptr<Orchestrator> engine;
  REQUIRE(Orchestrator::open(o, &engine).is_ok());
  std::unique_ptr<Session> session;
  REQUIRE(engine->open_session(R"({"client":"c0"})", &session).is_ok());
  for (int64_t seq = 1; seq <= kBaseline; ++seq) {
    std::string reply;
    REQUIRE(engine->push(session.get(), message("", 0, seq), &reply).is_ok());
  }
  REQUIRE(engine->close().is_ok());
}

void restore(const std::string& baseline, const std::string& work, bool fresh) {
  remove_db(work);
  if (fresh) return;
  namespace fs = std::filesystem;
  fs::copy_file(baseline, work, fs::copy_options::overwrite_existing);
  if (fs::exists(baseline + "-wal")) {
    fs::copy_file(baseline + "-wal", work + "-wal", fs::copy_options::overwrite_existing);
  }
}

void fault_loop(Fault fault, const char* durability, bool fresh) {
  faulty_vfs::install();
  std::string tag = fmt::format("{}-{}-{}", faulty_vfs::fault_name(fault), durability,
                                fresh ? "fresh" : "existing");
  std::string baseline = test_path(tag + "-base");
  std::string work = test_path(tag);
  make_baseline(baseline, fresh);
  int64_t first_seq = fresh ? 1 : kBaseline + 1;
  Tally tally;
  int64_t n = fault == Fault::kFull ? 0 : 1;
  for (;; ++tally.iterations) {
    INFO(tag << " N=" << n);
    REQUIRE(tally.iterations < 2000);
    restore(baseline, work, fresh);
    int64_t acked = scenario(work, durability, fault, n, first_seq, &tally);
    bool fired = faulty_vfs::injected() > 0;
    check_after(work, acked);
    if (!fired) {
      // The whole scenario ran without reaching the Nth call: done.
      CHECK(acked == first_seq - 1 + kPushes);
      break;
    }
    if (fault == Fault::kFull) {
      // Let the refused write through next time, so the next write fails.
      n = faulty_vfs::bytes_before_first_fault() + faulty_vfs::first_fault_size();
    } else {
      ++n;
    }
  }
  std::printf(
      "fault loop %-24s %3d passes: open refused %d, pushes refused %d (then applied), "
      "pushes ok though a call failed %d, queries refused %d, closes failed %d\n",
      tag.c_str(), tally.iterations + 1, tally.open_refused, tally.push_refused,
      tally.push_ok_despite_fault, tally.query_refused, tally.close_failed);
  std::fflush(stdout);
  remove_db(baseline);
  remove_db(work);
}

}  // namespace

TEST_CASE("the Nth write fails", "[fault]") {
  for (const char* d : kModes) {
    fault_loop(Fault::kWrite, d, false);
    fault_loop(Fault::kWrite, d, true);
  }
}

TEST_CASE("the Nth sync fails", "[fault]") {
  for (const char* d : kModes) {
    fault_loop(Fault::kSync, d, false);
    fault_loop(Fault::kSync, d, true);
  }
}

TEST_CASE("the Nth read fails", "[fault]") {
  for (const char* d : kModes) {
    fault_loop(Fault::kRead, d, false);
    fault_loop(Fault::kRead, d, true);
  }
}

TEST_CASE("the disk is full after N bytes", "[fault]") {
  for (const char* d : kModes) {
    fault_loop(Fault::kFull, d, false);
    fault_loop(Fault::kFull, d, true);
  }
}

TEST_CASE("a database that cannot be opened through the VFS is a clean storage error") {
  faulty_vfs::install();
  EngineOptions o;
  REQUIRE(EngineOptions::from_json(
              R"({"path":"/nonexistent-dir/x.db","sqlite_vfs":"baton_faulty"})", &o)
              .is_ok());
  std::unique_ptr<Orchestrator> engine;
  Status s = Orchestrator::open(o, &engine);
  CHECK(s.code() == Code::kStorage);
  REQUIRE(EngineOptions::from_json(R"({"path":":memory:","sqlite_vfs":"no-such-vfs"})", &o).is_ok());
  s = Orchestrator::open(o, &engine);
  CHECK(s.code() == Code::kStorage);
}

TEST_CASE("one-shot write faults under concurrent pushes lose and duplicate nothing",
          "[fault][concurrent]") {
  // While one thread's batch fails, others keep pushing; their events must
  // neither vanish from the engine's state nor be applied twice on resend.
  faulty_vfs::install();
  const int clients = 4;
  const int64_t per_client = 400;
  std::string path = test_path("concurrent");
  remove_db(path);
  EngineOptions o = options_for(path, "normal");
  std::unique_ptr<Orchestrator> engine;
  REQUIRE(Orchestrator::open(o, &engine).is_ok());
  std::atomic<bool> done{false};
  std::atomic<int64_t> refused{0};
  std::vector<std::string> failures(clients);
  // Each client pushes at least per_client events and goes on until a few
  // refusals were seen, so a fast run cannot finish between two faults.
  const int64_t min_refused = 3, max_per_client = 50000;
  std::vector<int64_t> last_seq(clients, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < clients; ++k) {
    threads.emplace_back([&, k] {
      std::unique_ptr<Session> session;
      if (!engine->open_session(fmt::format(R"({{"client":"c{}"}})", k), &session)) {
        failures[static_cast<size_t>(k)] = "open_session";
        return;
      }
      std::string reply;
      for (int64_t seq = 1; seq <= per_client || (refused < min_refused && seq <= max_per_client);
           ++seq) {
        // A refused push is resent until it is applied; it must never come
        // back as a dup, and nothing else may be refused.
        for (int attempt = 0;; ++attempt) {
          Status s = engine->push(session.get(), message("", k, seq), &reply);
          if (s && !has(reply, "dup")) break;
          if (s.code() != Code::kStorage || attempt > 50) {
            failures[static_cast<size_t>(k)] = fmt::format("c{} seq {} attempt {}: {}", k, seq, attempt, reply);
            return;
          }
          ++refused;
        }
        last_seq[static_cast<size_t>(k)] = seq;
      }
    });
  }
  std::thread injector([&] {
    // One fault at a time, each followed by a clean window, so that slow
    // (instrumented) builds see failures between successes, not a wall of them.
    std::mt19937 rng(7);
    while (!done) {
      const int target = std::uniform_int_distribution<int>(1, 6)(rng);
      faulty_vfs::arm(Fault::kWrite, target);
      while (!done && faulty_vfs::injected() == 0) {
        // A write racing with arm() may count before the fault is armed and
        // carry the counter past the target; arm again rather than wait forever.
        if (faulty_vfs::writes() > target) faulty_vfs::arm(Fault::kWrite, target);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      faulty_vfs::disarm();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    faulty_vfs::disarm();
  });
  for (auto& t : threads) t.join();
  done = true;
  injector.join();
  for (const std::string& f : failures) CHECK(f == "");
  CHECK(refused >= min_refused);
  REQUIRE(engine->flush().is_ok());
  CHECK(check_rebuild(engine->store()) == "");
  REQUIRE(engine->close().is_ok());
  CHECK(check_log(path) == "");
  for (int k = 0; k < clients; ++k) {
    CHECK(last_seq[static_cast<size_t>(k)] >= per_client);
    CHECK(logged_seq(path, client_name(k)) == last_seq[static_cast<size_t>(k)]);
  }
  remove_db(path);
}
