// Eight simulated workers on threads, through the C ABI only, drain a queue of
// 500 specs while they randomly die (the session closes, the lease is lost)
// and specs fail. Every spec must end exactly once as configured, none may be
// lost, and no spec may be completed under a lease while another lease of it
// was handed out.
#include <catch2/catch.hpp>

#include <baton/baton.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#if BATON_WITH_POSTGRESQL
#include "store/pg_database.h"
#endif

namespace {

constexpr int kSpecs = 500;
constexpr int kWorkers = 8;
constexpr int kRetries = 2;

// What the spec does when run: pass, fail every attempt, or fail the first.
enum class Kind { kPass, kAlwaysFail, kFailFirst };
Kind kind_of(int i) {
  if (i % 10 == 3) return Kind::kAlwaysFail;
  if (i % 7 == 1) return Kind::kFailFirst;
  return Kind::kPass;
}

struct Record {
  int64_t seq = 0;
  enum Type { kGrant, kEnd } type = kGrant;
  std::string spec;
  std::string lease;
  std::string status;
};

class Shared {
 public:
  explicit Shared(std::vector<baton_engine*> engines) : engines_(std::move(engines)) {}

  // A worker's engine; a worker that dies comes back on the next one.
  baton_engine* engine(int index, int generation) const {
    return engines_[static_cast<size_t>(index + generation) % engines_.size()];
  }
  // Simulated time passes for whoever waits; the clock never goes back. All
  // engines (on one shared store) keep the same time.
  bool advance(int64_t ms) {
    std::lock_guard<std::mutex> lock(clock_mu_);
    now_ += ms;
    for (baton_engine* e : engines_) {
      if (baton_clock_set(e, now_) != BATON_OK) return false;
    }
    return true;
  }
  void record(Record r) {
    std::lock_guard<std::mutex> lock(records_mu_);
    records_.push_back(std::move(r));
  }
  std::vector<Record> records() {
    std::lock_guard<std::mutex> lock(records_mu_);
    return records_;
  }

 private:
  std::vector<baton_engine*> engines_;
  std::mutex clock_mu_;
  int64_t now_ = 0;
  std::mutex records_mu_;
  std::vector<Record> records_;
};

std::string push(baton_session* s, const std::string& msg, int* rc) {
  char* reply = nullptr;
  size_t len = 0;
  *rc = baton_push(s, msg.data(), msg.size(), &reply, &len);
  std::string out(reply, len);
  baton_free(reply);
  return out;
}

baton_session* open_session(baton_engine* e, const std::string& client) {
  baton_session* s = nullptr;
  std::string creds = fmt::format(R"({{"client":"{}"}})", client);
  if (baton_session_open(e, creds.c_str(), &s) != BATON_OK) return nullptr;
  return s;
}

struct WorkerStats {
  int deaths = 0;
  int stale_ends = 0;
  int claims = 0;
};

void run_worker(Shared* shared, int index, WorkerStats* stats, std::atomic<bool>* failed) {
  std::mt19937 rng(1000 + index);
  std::uniform_real_distribution<double> u(0, 1);
  simdjson::dom::parser parser;
  int generation = 0;
  std::string client = fmt::format("w{}-{}", index, generation);
  baton_session* s = open_session(shared->engine(index, generation), client);
  int seq = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    int rc = 0;
    std::string reply = push(s, R"({"type":"queue.claim","run":"big","worker":")" + client + "\"}", &rc);
    ++stats->claims;
    simdjson::dom::element doc;
    if (rc != BATON_OK || parser.parse(reply).get(doc) != simdjson::SUCCESS) {
      failed->store(true);
      break;
    }
    bool done = false;
    if (doc["done"].get(done) == simdjson::SUCCESS && done) break;
    int64_t wait = 0;
    if (doc["wait_ms"].get(wait) == simdjson::SUCCESS) {
      if (!shared->advance(std::min<int64_t>(wait, 200))) {
        failed->store(true);
        break;
      }
      std::this_thread::yield();
      continue;
    }
    int64_t event_seq = 0;
    std::string_view id, lease;
    int64_t attempt = 0;
    if (doc["seq"].get(event_seq) || doc["spec"]["id"].get(id) || doc["spec"]["lease"].get(lease) ||
        doc["spec"]["attempt"].get(attempt)) {
      failed->store(true);
      break;
    }
    std::string spec(id), lease_id(lease);
    shared->record({event_seq, Record::kGrant, spec, lease_id, ""});
    if (u(rng) < 0.04) {
      // The worker dies: no report, its session goes; a fresh one takes its place.
      ++stats->deaths;
      baton_session_close(s);
      client = fmt::format("w{}-{}", index, ++generation);
      s = open_session(shared->engine(index, generation), client);
      continue;
    }
    int n = std::stoi(spec.substr(5));
    Kind kind = kind_of(n);
    bool fails = kind == Kind::kAlwaysFail || (kind == Kind::kFailFirst && attempt == 1);
    const char* status = fails ? "failed" : "passed";
    // Test results are separate messages: recorded whatever becomes of the lease.
    push(s,
         fmt::format(R"({{"type":"test.start","run":"big","id":"{}/t","name":"t","spec":"{}","attempt":{},"worker":"{}"}})",
                     spec, spec, attempt, client),
         &rc);
    push(s, fmt::format(R"({{"type":"test.end","run":"big","id":"{}/t","status":"{}","attempt":{},"duration_ms":{}}})",
                        spec, status, attempt, 5 + n % 50),
         &rc);
    std::string end = push(
        s,
        fmt::format(R"({{"type":"spec.end","run":"big","spec":"{}","lease":"{}","status":"{}","attempt":{},"duration_ms":{},"client":"{}","seq":{}}})",
                    spec, lease_id, status, attempt, 5 + n % 50, client, ++seq),
        &rc);
    if (rc == BATON_OK) {
      if (parser.parse(end).get(doc) || doc["seq"].get(event_seq)) {
        failed->store(true);
        break;
      }
      shared->record({event_seq, Record::kEnd, spec, lease_id, status});
    } else if (rc == BATON_ECONFLICT) {
      ++stats->stale_ends;  // the lease expired under a slow worker
    } else {
      failed->store(true);
      break;
    }
  }
  baton_session_close(s);
}


// Drains the run "big" through `engines` (one, or several on one shared
// store) and checks every spec ended once as configured, then closes them.
void drain_and_check(const std::vector<baton_engine*>& engines) {
  baton_engine* e = engines.front();
  std::string plan = R"({"specs":[)";
  for (int i = 0; i < kSpecs; ++i) {
    plan += fmt::format(R"({}{{"id":"spec-{:03}","estimate_ms":{}}})", i ? "," : "", i, 10 + (i * 7919) % 1000);
  }
  plan += "]}";
  baton_session* starter = open_session(e, "starter");
  int rc = 0;
  push(starter,
       fmt::format(R"({{"type":"run.start","run":"big","plan":{},"config":{{"retries":{},"lease_ms":3000}}}})",
                   plan, kRetries),
       &rc);
  REQUIRE(rc == BATON_OK);
  baton_session_close(starter);

  Shared shared(engines);
  std::atomic<bool> failed{false};
  std::vector<WorkerStats> stats(kWorkers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back(run_worker, &shared, i, &stats[i], &failed);
  }
  for (std::thread& t : threads) t.join();
  REQUIRE(!failed.load());
  int deaths = 0;
  for (const WorkerStats& s : stats) deaths += s.deaths;
  CHECK(deaths > 5);

  // The queue as the engine has it: every spec done, with the configured status.
  char* out = nullptr;
  size_t len = 0;
  REQUIRE(baton_query(e, R"({"op":"queue","run":"big"})", &out, &len) == BATON_OK);
  std::string queue(out, len);
  baton_free(out);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(queue).get(doc) == simdjson::SUCCESS);
  std::string_view run_status;
  REQUIRE(doc["status"].get(run_status) == simdjson::SUCCESS);
  CHECK(run_status == "failed");
  simdjson::dom::array specs;
  REQUIRE(doc["queue"].get(specs) == simdjson::SUCCESS);
  int seen = 0;
  for (auto sp : specs) {
    std::string_view id, state, status;
    int64_t failures = -1;
    REQUIRE(sp["id"].get(id) == simdjson::SUCCESS);
    REQUIRE(sp["state"].get(state) == simdjson::SUCCESS);
    REQUIRE(sp["status"].get(status) == simdjson::SUCCESS);
    REQUIRE(sp["failures"].get(failures) == simdjson::SUCCESS);
    INFO(std::string(id));
    CHECK(state == "done");
    Kind kind = kind_of(std::stoi(std::string(id.substr(5))));
    if (kind == Kind::kAlwaysFail) {
      CHECK(status == "failed");
      CHECK(failures == kRetries + 1);
    } else {
      CHECK(status == "passed");
      CHECK(failures <= 1);
    }
    ++seen;
  }
  CHECK(seen == kSpecs);

  // From the workers' side, ordered by the engine's sequence numbers: each
  // spec has exactly one accepted final end, and an accepted end's lease was
  // the spec's latest grant (no other lease of it was handed out meanwhile).
  std::vector<Record> records = shared.records();
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return a.seq < b.seq; });
  std::map<std::string, std::string> latest_lease;
  std::map<std::string, int> passes, fails;
  int violations = 0;
  for (const Record& r : records) {
    if (r.type == Record::kGrant) {
      latest_lease[r.spec] = r.lease;
      continue;
    }
    if (latest_lease[r.spec] != r.lease) ++violations;
    (r.status == "passed" ? passes : fails)[r.spec]++;
  }
  CHECK(violations == 0);
  int ended_once = 0;
  for (int i = 0; i < kSpecs; ++i) {
    std::string id = fmt::format("spec-{:03}", i);
    INFO(id);
    if (kind_of(i) == Kind::kAlwaysFail) {
      CHECK(passes[id] == 0);
      CHECK(fails[id] == kRetries + 1);
    } else {
      CHECK(passes[id] == 1);
      CHECK(fails[id] <= 1);
    }
    ++ended_once;
  }
  CHECK(ended_once == kSpecs);

  REQUIRE(baton_query(e, R"({"op":"run","run":"big"})", &out, &len) == BATON_OK);
  std::string summary(out, len);
  baton_free(out);
  CHECK(summary.find(R"("specs":{"total":500,"queued":0,"leased":0,"done":500})") != std::string::npos);
  // Every engine on the store tells the same.
  for (baton_engine* other : engines) {
    REQUIRE(baton_query(other, R"({"op":"run","run":"big"})", &out, &len) == BATON_OK);
    CHECK(std::string(out, len) == summary);
    baton_free(out);
  }
  for (baton_engine* other : engines) CHECK(baton_close(other) == BATON_OK);
}

}  // namespace

TEST_CASE("8 workers on threads drain 500 specs through deaths and failures, each spec ending once") {
  baton_engine* e = nullptr;
  REQUIRE(baton_open(R"({"clock":"manual","session_grace_ms":500})", &e) == BATON_OK);
  drain_and_check({e});
}

#if BATON_WITH_POSTGRESQL
TEST_CASE("on PostgreSQL, 8 workers spread over two engines drain one queue, each spec ending once",
          "[postgresql]") {
  baton::testing::PgDatabase db("queue_workers");
  if (!db.available()) return;
  const std::string options = fmt::format(
      R"({{"store":"postgresql","dsn":"{}","clock":"manual","session_grace_ms":500}})", db.dsn_json());
  baton_engine* a = nullptr;
  baton_engine* b = nullptr;
  REQUIRE(baton_open(options.c_str(), &a) == BATON_OK);
  REQUIRE(baton_open(options.c_str(), &b) == BATON_OK);
  drain_and_check({a, b});
}
#endif  // BATON_WITH_POSTGRESQL
