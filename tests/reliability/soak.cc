// Soak: a long mixed load on one engine, sampling the process's resident
// memory and open file descriptors every few seconds, to show that neither
// grows with time. Not part of `make test`; see docs/reliability.md.
//
//   soak [--seconds 600] [--sample-ms 5000] [--rate 2000] [--clients 6]
//        [--csv FILE] [--db PATH]
//
// The load: `clients` threads each ingest an endless stream of runs at a
// paced total of `rate` messages per second, reconnecting (a new session)
// after every run; one thread queries, exports and replays; one adds and
// removes plugins; every 30 s a cleanup deletes runs that ended over 20 s
// ago, as a long-lived server would, so the database stays bounded.
// At the end: integrity_check, and the derived tables equal a rebuild.
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "reliability.h"

using namespace baton;
using namespace baton::reliability;

namespace {

using Clock = std::chrono::steady_clock;

int64_t rss_kb() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int open_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    --n;  // the directory stream's own descriptor
  }
  return n;
}

int64_t file_size(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  return f ? static_cast<int64_t>(f.tellg()) : 0;
}

struct Observer : Plugin {
  std::atomic<int64_t>* seen;
  explicit Observer(std::atomic<int64_t>* s) : seen(s) {}
  bool has_filter() const override { return false; }
  bool has_observer() const override { return true; }
  Status observe(const PluginEvent&) override {
    seen->fetch_add(1, std::memory_order_relaxed);
    return Status::ok();
  }
};

}  // namespace

int main(int argc, char** argv) {
  int64_t seconds = 600, sample_ms = 5000, rate = 2000;
  int clients = 6;
  std::string csv_path, db = fmt::format("{}/soak-{}.db", BATON_BINARY_DIR, getpid());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--seconds") seconds = std::atoll(v.c_str());
    else if (a == "--sample-ms") sample_ms = std::atoll(v.c_str());
    else if (a == "--rate") rate = std::atoll(v.c_str());
    else if (a == "--clients") clients = std::max(1, std::atoi(v.c_str()));
    else if (a == "--csv") csv_path = v;
    else if (a == "--db") db = v;
    else {
      std::fprintf(stderr, "soak: unknown option %s\n", a.c_str());
      return 64;
    }
  }
  remove_db(db);
  EngineOptions options;
  Status s = EngineOptions::from_json(fmt::format(R"({{"path":"{}","durability":"normal"}})", db),
                                      &options);
  std::unique_ptr<Orchestrator> engine;
  if (s) s = Orchestrator::open(options, &engine);
  if (!s) {
    std::fprintf(stderr, "soak: open: %s\n", s.message().c_str());
    return 1;
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> acked{0}, refused{0}, queries{0}, observed{0}, plugin_cycles{0},
      sessions{0}, cleanups{0};
  std::string first_error;
  std::mutex error_mu;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(error_mu);
    if (first_error.empty()) first_error = what;
    ++refused;
  };
  const int64_t run_len = static_cast<int64_t>(run_template().size());
  std::vector<std::thread> threads;
  for (int k = 0; k < clients; ++k) {
    threads.emplace_back([&, k] {
      // Each client paces itself to its share of the rate.
      auto interval = std::chrono::nanoseconds(1'000'000'000LL * clients / std::max<int64_t>(1, rate));
      auto next = Clock::now();
      std::unique_ptr<Session> session;
      std::string reply;
      for (int64_t seq = 1; !stop; ++seq) {
        if (!session || (seq - 1) % run_len == 0) {
          session.reset();
          if (!engine->open_session(fmt::format(R"({{"client":"c{}"}})", k), &session)) {
            fail("open_session");
            return;
          }
          ++sessions;
        }
        Status st = engine->push(session.get(), message("", k, seq), &reply);
        if (!st) fail(fmt::format("c{} seq {}: {}", k, seq, reply));
        else ++acked;
        next += interval;
        std::this_thread::sleep_until(next);
      }
    });
  }
  threads.emplace_back([&] {
    std::string out;
    for (int64_t i = 0; !stop; ++i) {
      int k = static_cast<int>(i % clients);
      std::string run = run_of("", k, 1 + std::max<int64_t>(0, acked / clients - 1) / run_len * run_len);
      Status st;
      switch (i % 5) {
        case 0: st = engine->query(R"({"op":"stats"})", &out); break;
        case 1: st = engine->query(R"({"op":"runs","limit":20})", &out); break;
        case 2: st = engine->query(fmt::format(R"({{"op":"tests","run":"{}"}})", run), &out); break;
        case 3: st = engine->export_run(run, "junit", &out); break;
        case 4:
          st = engine->replay(fmt::format(R"({{"run":"{}"}})", run),
                              [](const PluginEvent&) { return true; });
          break;
      }
      if (!st && st.code() != Code::kNotFound) fail("query: " + st.message());
      ++queries;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  threads.emplace_back([&] {
    while (!stop) {
      uint64_t id = 0;
      if (!engine->add_plugin("observer", std::make_unique<Observer>(&observed), &id)) {
        fail("add_plugin");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!engine->remove_plugin(id)) fail("remove_plugin");
      ++plugin_cycles;
    }
  });

  std::FILE* csv = csv_path.empty() ? nullptr : std::fopen(csv_path.c_str(), "w");
  auto sample = [&](double t) {
    int64_t bytes = file_size(db) + file_size(db + "-wal");
    int64_t journal = file_size(db + "-ackj0") + file_size(db + "-ackj1");
    std::printf("%7.1f s  rss %7lld kB  fds %3d  acked %9lld  db+wal %8lld kB  journal %7lld kB\n",
                t, static_cast<long long>(rss_kb()), open_fds(),
                static_cast<long long>(acked.load()), static_cast<long long>(bytes / 1024),
                static_cast<long long>(journal / 1024));
    std::fflush(stdout);
    if (csv) {
      std::fprintf(csv, "%.1f,%lld,%d,%lld,%lld,%lld\n", t, static_cast<long long>(rss_kb()),
                   open_fds(), static_cast<long long>(acked.load()), static_cast<long long>(bytes),
                   static_cast<long long>(journal));
      std::fflush(csv);
    }
  };
  if (csv) std::fprintf(csv, "seconds,rss_kb,fds,acked,db_bytes,journal_bytes\n");
  auto start = Clock::now();
  auto next_cleanup = start + std::chrono::seconds(30);
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  sample(0);
  while (elapsed() < static_cast<double>(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(sample_ms));
    if (Clock::now() >= next_cleanup) {
      std::string out;
      Status st = engine->query(R"({"op":"cleanup","older_than_ms":20000})", &out);
      if (!st) fail("cleanup: " + st.message());
      ++cleanups;
      next_cleanup += std::chrono::seconds(30);
    }
    sample(elapsed());
  }
  stop = true;
  for (auto& t : threads) t.join();
  if (csv) std::fclose(csv);

  s = engine->flush();
  std::string rebuild = s ? check_rebuild(engine->store()) : s.message();
  s = engine->close();
  Db check(db);
  std::string error;
  std::string integrity = check.one("PRAGMA integrity_check", &error);
  std::printf(
      "soak: %.0f s, %lld acked, %lld refused, %lld queries, %lld observed, %lld plugin cycles, "
      "%lld sessions, %lld cleanups; integrity %s; rebuild %s; close %s\n",
      elapsed(), static_cast<long long>(acked.load()), static_cast<long long>(refused.load()),
      static_cast<long long>(queries.load()), static_cast<long long>(observed.load()),
      static_cast<long long>(plugin_cycles.load()), static_cast<long long>(sessions.load()),
      static_cast<long long>(cleanups.load()), integrity.c_str(),
      rebuild.empty() ? "equal" : rebuild.c_str(), s ? "ok" : s.message().c_str());
  if (!first_error.empty()) std::printf("soak: first error: %s\n", first_error.c_str());
  bool ok = refused == 0 && integrity == "ok" && rebuild.empty() && s;
  if (ok) remove_db(db);
  return ok ? 0 : 1;
}
