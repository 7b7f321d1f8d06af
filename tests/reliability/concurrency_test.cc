// Concurrency: many threads push into many runs while others query, export,
// replay, and add and remove plugins, and one client's session closes
// mid-stream (the client then reconnects and resends from its last ack).
// At the end: every push was acknowledged, the log holds each acknowledged
// event exactly once, the stats agree, every finished run has the counts its
// messages imply, plugin callbacks never overlapped, and the derived tables
// equal a rebuild from the log. Built under TSan too, where this is the test
// that matters most.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <simdjson.h>

#include "reliability.h"

using namespace baton;
using namespace baton::reliability;

namespace {

bool has(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

// "accepted" of a stats answer (-1: missing).
int64_t accepted_of(const std::string& stats) {
  size_t p = stats.find("\"accepted\":");
  return p == std::string::npos ? -1 : std::atoll(stats.c_str() + p + 11);
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

// A plugin that checks the engine's promise that callbacks of one engine
// never run concurrently.
struct Watcher : Plugin {
  std::atomic<int>* inside;
  std::atomic<int64_t>* overlaps;
  std::atomic<int64_t>* observed;
  Watcher(std::atomic<int>* in, std::atomic<int64_t>* ov, std::atomic<int64_t>* ob)
      : inside(in), overlaps(ov), observed(ob) {}
  bool has_filter() const override { return true; }
  bool has_observer() const override { return true; }
  void enter() {
    if (inside->fetch_add(1) != 0) overlaps->fetch_add(1);
  }
  void leave() { inside->fetch_sub(1); }
  Status filter(PluginEvent&) override {
    enter();
    leave();
    return Status::ok();
  }
  Status observe(const PluginEvent&) override {
    enter();
    observed->fetch_add(1);
    leave();
    return Status::ok();
  }
};

// "status" and "counts" of a run summary.
std::string summary_core(const std::string& summary) {
  size_t from = summary.find("\"status\"");
  size_t counts = summary.find("\"counts\"");
  if (from == std::string::npos || counts == std::string::npos) return summary;
  return summary.substr(from, summary.find('}', counts) - from + 1);
}

// What one complete run of the template sums up to.
std::string reference_run_core() {
  EngineOptions o;
  std::unique_ptr<Orchestrator> e;
  REQUIRE(Orchestrator::open(o, &e).is_ok());
  std::unique_ptr<Session> s;
  REQUIRE(e->open_session(R"({"client":"c0"})", &s).is_ok());
  int64_t len = static_cast<int64_t>(run_template().size());
  for (int64_t seq = 1; seq <= len; ++seq) {
    std::string reply;
    REQUIRE(e->push(s.get(), message("ref-", 0, seq), &reply).is_ok());
  }
  std::string out;
  REQUIRE(e->query(fmt::format(R"({{"op":"run","run":"{}"}})", run_of("ref-", 0, 1)), &out).is_ok());
  return summary_core(out);
}

// Queue traffic: a planned run whose specs workers claim and finish, some
// failing once and claimed again. Returns a failure, or "" once the queue
// answers done.
std::string work_queue(Orchestrator* engine, const std::string& client, const std::string& run) {
  std::unique_ptr<Session> session;
  if (!engine->open_session(fmt::format(R"({{"client":"{}"}})", client), &session)) {
    return "open_session " + client;
  }
  simdjson::dom::parser parser;
  std::string reply;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (int64_t n = 0; std::chrono::steady_clock::now() < deadline; ++n) {
    if (n % 10 == 9) {
      Status s = engine->push(session.get(), R"({"type":"worker.heartbeat"})", &reply);
      if (!s) return client + " heartbeat: " + reply;
    }
    Status s = engine->push(session.get(), fmt::format(R"({{"type":"queue.claim","run":"{}"}})", run),
                            &reply);
    if (!s) return client + " claim: " + reply;
    simdjson::dom::element doc;
    if (parser.parse(reply).get(doc) != simdjson::SUCCESS) return "unparsable reply " + reply;
    bool done = false;
    if (doc["done"].get(done) == simdjson::SUCCESS && done) return "";
    simdjson::dom::object spec;
    if (doc["spec"].get(spec) != simdjson::SUCCESS) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    std::string_view id, lease;
    int64_t attempt = 0;
    if (spec["id"].get(id) || spec["lease"].get(lease) || spec["attempt"].get(attempt)) {
      return "claim reply without id, lease or attempt: " + reply;
    }
    // Every seventh spec fails its first attempt and is queued again.
    bool fail = attempt == 1 && id.back() == '7';
    std::string end = fmt::format(
        R"({{"type":"spec.end","run":"{}","spec":"{}","lease":"{}","status":"{}","duration_ms":3}})",
        run, id, lease, fail ? "failed" : "passed");
    s = engine->push(session.get(), end, &reply);
    if (!s) return client + " spec.end: " + reply;
  }
  return client + ": the queue never answered done";
}

constexpr int kQueueSpecs = 60;

std::string plan_run_start(const std::string& run) {
  std::string specs;
  for (int i = 0; i < kQueueSpecs; ++i) {
    specs += fmt::format(R"({}{{"id":"spec-{}","estimate_ms":{}}})", i ? "," : "", i, 10 + i % 9);
  }
  return fmt::format(
      R"({{"type":"run.start","run":"{}","plan":{{"specs":[{}]}},"config":{{"retries":1,"lease_ms":60000}}}})",
      run, specs);
}

}  // namespace

TEST_CASE("pushers, readers, plugin churn and a mid-stream session close", "[concurrency]") {
  const int pushers = env_int("BATON_CONCURRENCY_PUSHERS", 6);
  const int64_t per_client = env_int("BATON_CONCURRENCY_MESSAGES", 2000);
  std::string db = fmt::format("{}/concurrency-{}.db", BATON_BINARY_DIR, getpid());
  remove_db(db);
  EngineOptions options;
  REQUIRE(EngineOptions::from_json(fmt::format(R"({{"path":"{}","durability":"normal"}})", db),
                                   &options)
              .is_ok());
  std::unique_ptr<Orchestrator> engine;
  REQUIRE(Orchestrator::open(options, &engine).is_ok());

  std::atomic<bool> stop{false};
  std::atomic<int> inside{0};
  std::atomic<int64_t> overlaps{0}, observed{0}, plugin_cycles{0}, queries{0};
  std::vector<int64_t> acked(static_cast<size_t>(pushers), 0);
  std::vector<std::string> failures(static_cast<size_t>(pushers) + 3);
  std::atomic<int64_t> dups{0};
  std::atomic<bool> closed_seen{false};

  const std::string queue_run = "queue-run";
  {
    std::unique_ptr<Session> coordinator;
    REQUIRE(engine->open_session(R"({"client":"qc"})", &coordinator).is_ok());
    std::string reply;
    REQUIRE(engine->push(coordinator.get(), plan_run_start(queue_run), &reply).is_ok());
  }
  const int workers = 3;
  std::vector<std::string> worker_failures(workers);

  std::vector<std::thread> threads;
  for (int k = 0; k < pushers; ++k) {
    threads.emplace_back([&, k] {
      std::string& failure = failures[static_cast<size_t>(k)];
      std::unique_ptr<Session> session;
      if (!engine->open_session(fmt::format(R"({{"client":"c{}"}})", k), &session)) {
        failure = "open_session";
        return;
      }
      std::string reply;
      for (int64_t seq = 1; seq <= per_client; ++seq) {
        if (k == 0 && seq == per_client / 2) {
          // Mid-stream close: the session refuses, then the client reconnects
          // and resends its last acknowledged message, which is a dup.
          engine->close_session(session.get());
          Status s = engine->push(session.get(), message("", k, seq), &reply);
          if (s.code() != Code::kClosed || !has(reply, R"("code":"closed")")) {
            failure = "push on a closed session: " + reply;
            return;
          }
          closed_seen = true;
          session.reset();
          if (!engine->open_session(R"({"client":"c0"})", &session)) {
            failure = "reopen session";
            return;
          }
          s = engine->push(session.get(), message("", k, seq - 1), &reply);
          if (!s || !has(reply, R"("dup":true)")) {
            failure = "resend after reconnect: " + reply;
            return;
          }
          ++dups;
        }
        Status s = engine->push(session.get(), message("", k, seq), &reply);
        if (!s || has(reply, "dup")) {
          failure = fmt::format("c{} seq {}: {}", k, seq, reply);
          return;
        }
        acked[static_cast<size_t>(k)] = seq;
      }
    });
  }
  // Readers: every query op, exports and replays of live runs.
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::string& failure = failures[static_cast<size_t>(pushers + r)];
      std::string out;
      for (int64_t i = 0; !stop; ++i) {
        int k = static_cast<int>(i % pushers);
        std::string run = run_of("", k, 1 + (i % 3) * static_cast<int64_t>(run_template().size()));
        Status s;
        switch (i % 6) {
          case 0: s = engine->query(R"({"op":"stats"})", &out); break;
          case 1: s = engine->query(R"({"op":"runs"})", &out); break;
          case 2: s = engine->query(fmt::format(R"({{"op":"run","run":"{}"}})", run), &out); break;
          case 3: s = engine->query(fmt::format(R"({{"op":"tests","run":"{}"}})", run), &out); break;
          case 4: s = engine->export_run(run, r == 0 ? "json" : "junit", &out); break;
          case 5:
            s = engine->replay(fmt::format(R"({{"run":"{}","types":["test.end"]}})", run),
                               [](const PluginEvent&) { return true; });
            break;
        }
        // A run a pusher has not reached yet is not_found; nothing else may fail.
        if (!s && s.code() != Code::kNotFound) {
          failure = fmt::format("reader op {}: {}", i % 6, s.message());
          return;
        }
        ++queries;
      }
    });
  }
  // Plugin churn.
  threads.emplace_back([&] {
    std::string& failure = failures[static_cast<size_t>(pushers + 2)];
    while (!stop) {
      uint64_t id = 0;
      Status s = engine->add_plugin("watcher", std::make_unique<Watcher>(&inside, &overlaps, &observed),
                                    &id);
      if (!s) {
        failure = "add_plugin: " + s.message();
        return;
      }
      std::this_thread::yield();
      s = engine->remove_plugin(id);
      if (!s) {
        failure = "remove_plugin: " + s.message();
        return;
      }
      ++plugin_cycles;
    }
  });

  std::vector<std::thread> queue_threads;
  for (int w = 0; w < workers; ++w) {
    queue_threads.emplace_back([&, w] {
      worker_failures[static_cast<size_t>(w)] =
          work_queue(engine.get(), fmt::format("w{}", w), queue_run);
    });
  }

  for (int k = 0; k < pushers; ++k) threads[static_cast<size_t>(k)].join();
  for (auto& t : queue_threads) t.join();
  stop = true;
  for (size_t t = static_cast<size_t>(pushers); t < threads.size(); ++t) threads[t].join();
  for (const std::string& f : failures) CHECK(f == "");
  for (const std::string& f : worker_failures) CHECK(f == "");
  {
    std::string out;
    REQUIRE(engine->query(fmt::format(R"({{"op":"run","run":"{}"}})", queue_run), &out).is_ok());
    INFO(out);
    CHECK(has(out, fmt::format(R"("specs":{{"total":{},"queued":0,"leased":0,"done":{}}})",
                               kQueueSpecs, kQueueSpecs)));
  }
  CHECK(closed_seen);
  CHECK(overlaps == 0);
  CHECK(queries > 0);
  CHECK(plugin_cycles > 0);
  INFO("observed " << observed << ", plugin cycles " << plugin_cycles << ", queries " << queries);

  int64_t total = 0;
  for (int k = 0; k < pushers; ++k) {
    CHECK(acked[static_cast<size_t>(k)] == per_client);
    total += acked[static_cast<size_t>(k)];
  }
  std::string stats;
  REQUIRE(engine->query(R"({"op":"stats"})", &stats).is_ok());
  INFO(stats);
  // Queue traffic (claims, spec ends, heartbeats, the planned run.start) is
  // accepted too; the stream's own events are counted in the log below.
  const int64_t accepted = accepted_of(stats);
  CHECK(accepted >= total + kQueueSpecs);
  // The watcher sees accepted events only, queue traffic included, each
  // once at most (it is removed and added again meanwhile).
  CHECK(observed <= accepted);
  CHECK(has(stats, fmt::format(R"("duplicates":{})", dups.load())));

  // Every finished run sums up like the reference run.
  std::string want = reference_run_core();
  int64_t len = static_cast<int64_t>(run_template().size());
  for (int k = 0; k < pushers; ++k) {
    for (int64_t first = 1; first + len - 1 <= per_client; first += len) {
      std::string out;
      REQUIRE(engine->query(fmt::format(R"({{"op":"run","run":"{}"}})", run_of("", k, first)), &out)
                  .is_ok());
      CHECK(summary_core(out) == want);
    }
  }
  REQUIRE(engine->flush().is_ok());
  CHECK(check_rebuild(engine->store()) == "");
  REQUIRE(engine->close().is_ok());
  CHECK(check_log(db) == "");
  for (int k = 0; k < pushers; ++k) CHECK(logged_seq(db, client_name(k)) == per_client);
  remove_db(db);
}
