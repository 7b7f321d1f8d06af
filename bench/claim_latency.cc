// Queue claim latency: a run of N queued specs drained by T worker threads,
// each with its own session, claiming one spec at a time and ending it as
// passed, through the C ABI. Reports how long each queue.claim and each
// spec.end took (p50/p99/p99.9) and the specs finished per second.
//
// Rows: SQLite (normal and async durability) and, with --pg DSN, PostgreSQL
// (a database of its own on that server, created and dropped here) with one
// engine, and with two engines on the same database sharing the threads, as
// two `baton serve` processes would.
//
//   bench_claim [--specs N] [--threads T] [--json] [--quick] [--dir DIR] [--pg DSN]
#include <baton/baton.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench_util.h"

namespace {

using Clock = std::chrono::steady_clock;
using baton_bench::percentile;

[[noreturn]] void die(const char* what) { baton_bench::die("bench_claim", what); }

struct Result {
  std::string name;
  int engines = 1;
  int threads = 0;
  int64_t specs = 0;
  double seconds = 0;
  double claim_p50 = 0, claim_p99 = 0, claim_p999 = 0;
  double end_p50 = 0, end_p99 = 0;
  int64_t waits = 0;    // claims answered wait_ms (every remaining spec leased)
  int64_t refused = 0;  // pushes that were not BATON_OK
  double specs_per_s() const { return seconds > 0 ? specs / seconds : 0; }
};

std::string plan_json(int64_t specs) {
  std::string out = R"({"specs":[)";
  for (int64_t i = 0; i < specs; ++i) {
    out += fmt::format(R"({}{{"id":"spec/{:05}.test.ts","estimate_ms":{}}})", i ? "," : "", i,
                       1000 + (i * 7919) % 9000);
  }
  return out + "]}";
}

float micros_since(Clock::time_point t0) {
  return std::chrono::duration<float, std::micro>(Clock::now() - t0).count();
}

// Drains a run of `specs` specs with `threads` threads over `options.size()`
// engines opened on the same database (thread t uses engine t % engines).
Result drain(const std::string& name, const std::vector<std::string>& options, int64_t specs,
             int threads) {
  std::vector<baton_engine*> engines(options.size());
  for (size_t i = 0; i < options.size(); ++i) {
    if (baton_open(options[i].c_str(), &engines[i]) != BATON_OK) die("baton_open");
  }
  const std::string run = "claim-bench";
  {
    baton_session* s = nullptr;
    if (baton_session_open(engines[0], R"({"client":"planner"})", &s) != BATON_OK) die("session");
    std::string start = fmt::format(
        R"({{"type":"run.start","run":"{}","name":"bench","plan":{},"config":{{"lease_ms":600000}}}})",
        run, plan_json(specs));
    if (baton_push(s, start.data(), start.size(), nullptr, nullptr) != BATON_OK) die("run.start");
    baton_session_close(s);
  }
  std::vector<std::vector<float>> claim_us(threads), end_us(threads);
  std::atomic<int64_t> ended{0}, waits{0}, refused{0};
  auto worker = [&](int t) {
    baton_engine* e = engines[t % engines.size()];
    baton_session* s = nullptr;
    std::string cred = fmt::format(R"({{"client":"w{}"}})", t);
    if (baton_session_open(e, cred.c_str(), &s) != BATON_OK) die("session");
    const std::string claim = fmt::format(R"({{"type":"queue.claim","run":"{}"}})", run);
    simdjson::dom::parser parser;
    for (;;) {
      char* reply = nullptr;
      size_t len = 0;
      auto t0 = Clock::now();
      int rc = baton_push(s, claim.data(), claim.size(), &reply, &len);
      claim_us[t].push_back(micros_since(t0));
      std::string text(reply ? reply : "", len);
      baton_free(reply);
      if (rc != BATON_OK) {
        ++refused;
        break;
      }
      simdjson::dom::element doc;
      if (parser.parse(text).get(doc)) die("claim reply");
      bool done = false;
      if (!doc["done"].get(done) && done) break;
      int64_t wait_ms = 0;
      if (!doc["wait_ms"].get(wait_ms)) {
        ++waits;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(wait_ms, 5)));
        continue;
      }
      std::string_view spec, lease;
      if (doc["spec"]["id"].get(spec) || doc["spec"]["lease"].get(lease)) die("claim reply");
      std::string end = fmt::format(
          R"({{"type":"spec.end","run":"{}","spec":"{}","lease":"{}","status":"passed","duration_ms":1}})",
          run, spec, lease);
      t0 = Clock::now();
      rc = baton_push(s, end.data(), end.size(), nullptr, nullptr);
      end_us[t].push_back(micros_since(t0));
      if (rc != BATON_OK) ++refused;
      ++ended;
    }
    baton_session_close(s);
  };
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker, t);
  for (auto& th : pool) th.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  for (baton_engine* e : engines) {
    if (baton_close(e) != BATON_OK) die("baton_close");
  }
  std::vector<float> claims, ends;
  for (auto& v : claim_us) claims.insert(claims.end(), v.begin(), v.end());
  for (auto& v : end_us) ends.insert(ends.end(), v.begin(), v.end());
  Result r;
  r.name = name;
  r.engines = static_cast<int>(engines.size());
  r.threads = threads;
  r.specs = ended;
  r.seconds = secs;
  r.claim_p50 = percentile(claims, 0.50);
  r.claim_p99 = percentile(claims, 0.99);
  r.claim_p999 = percentile(claims, 0.999);
  r.end_p50 = percentile(ends, 0.50);
  r.end_p99 = percentile(ends, 0.99);
  r.waits = waits;
  r.refused = refused;
  if (r.specs != specs) {
    std::fprintf(stderr, "bench_claim: %s: %lld of %lld specs ended\n", name.c_str(),
                 static_cast<long long>(r.specs), static_cast<long long>(specs));
    std::exit(1);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t specs = 10000;
  int threads = 16;
  bool json = false, quick = false;
  std::string dir = "/tmp";
  std::string pg_dsn;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--specs") specs = std::stoll(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--json") json = true;
    else if (a == "--quick") quick = true;
    else if (a == "--dir") dir = next();
    else if (a == "--pg") pg_dsn = next();
    else {
      std::fprintf(stderr, "usage: bench_claim [--specs N] [--threads T] [--json] [--quick] [--dir DIR] [--pg DSN]\n");
      return 2;
    }
  }
  // A plan is one message: at most 10000 specs (the default max_array_items).
  if (specs < 1 || specs > 10000 || threads < 1) {
    std::fprintf(stderr, "bench_claim: --specs must be 1..10000 and --threads at least 1\n");
    return 2;
  }
  if (!pg_dsn.empty()) baton_bench::require_postgres_support("bench_claim");
  if (quick) specs = std::min<int64_t>(specs, 1000);

  std::vector<Result> results;
  const std::string db = dir + "/baton-bench-claim.db";
  for (const char* durability : {"normal", "async"}) {
    baton_bench::remove_db(db);
    results.push_back(drain(fmt::format("sqlite {}", durability),
                            {baton_bench::sqlite_options(db, durability)}, specs, threads));
  }
  baton_bench::remove_db(db);
#if BATON_WITH_POSTGRESQL
  if (!pg_dsn.empty()) {
    try {
      baton_bench::PgScratch pg(pg_dsn);
      for (int engines : {1, 2}) {
        pg.reset();
        results.push_back(drain("postgresql normal",
                                std::vector<std::string>(engines, pg.options("normal")), specs,
                                threads));
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_claim: --pg: %s\n", e.what());
      return 1;
    }
  }
#endif

  if (json) {
    std::string out = fmt::format(R"({{"specs":{},"threads":{},"results":[)", specs, threads);
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      out += fmt::format(
          R"({}{{"name":"{}","engines":{},"threads":{},"specs":{},"specs_per_s":{:.0f},"claim_p50_us":{:.1f},"claim_p99_us":{:.1f},"claim_p999_us":{:.1f},"end_p50_us":{:.1f},"end_p99_us":{:.1f},"waits":{},"refused":{}}})",
          i ? "," : "", r.name, r.engines, r.threads, r.specs, r.specs_per_s(), r.claim_p50,
          r.claim_p99, r.claim_p999, r.end_p50, r.end_p99, r.waits, r.refused);
    }
    std::puts((out + "]}").c_str());
    return 0;
  }
  std::printf("queue: %lld specs, %d worker threads, one claim and one spec.end per spec\n\n",
              static_cast<long long>(specs), threads);
  std::printf("%-20s %7s %7s %9s %10s %10s %11s %10s %10s\n", "store", "engines", "threads",
              "specs/s", "claim p50", "claim p99", "claim p99.9", "end p50", "end p99");
  for (const Result& r : results) {
    std::printf("%-20s %7d %7d %9.0f %10.1f %10.1f %11.1f %10.1f %10.1f%s\n", r.name.c_str(),
                r.engines, r.threads, r.specs_per_s(), r.claim_p50, r.claim_p99, r.claim_p999,
                r.end_p50, r.end_p99,
                r.refused ? fmt::format("  ({} refused)", r.refused).c_str() : "");
  }
  std::printf("\nlatencies in microseconds, measured around baton_push\n");
  return 0;
}
