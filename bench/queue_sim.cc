// bench_queue_sim: how close history-ordered claims come to the best possible
// makespan. W simulated workers drain 200 specs with log-normal durations on
// the manual clock (simulated time, no sleeping), through the C ABI as a CI
// fleet would. A first run in list order seeds the spec history; the second
// run of the same build name claims by history (LPT). Its makespan is compared
// with the lower bound max(total / W, longest spec) and with list order on the
// same durations. Durations vary a little between the two runs, as real ones do.
//
//   bench_queue_sim [--json] [--specs N] [--seeds N] [--sigma S]
#include <baton/baton.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace {

struct Options {
  bool json = false;
  int specs = 200;
  int seeds = 5;
  double sigma = 1.0;  // of the log-normal durations
  double drift = 0.1;  // run-to-run variation (sigma of a log-normal factor)
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_queue_sim: %s (%s)\n", what.c_str(), baton_last_error());
  std::exit(1);
}

std::string push(baton_session* s, const std::string& msg) {
  char* reply = nullptr;
  size_t len = 0;
  int rc = baton_push(s, msg.data(), msg.size(), &reply, &len);
  std::string out(reply, len);
  baton_free(reply);
  if (rc != BATON_OK) die("push refused: " + out);
  return out;
}

// The value of "key":"..." or "key":N in a reply (ids here are plain).
std::string field(const std::string& json, const char* key) {
  std::string k = fmt::format("\"{}\":", key);
  size_t p = json.find(k);
  if (p == std::string::npos) return {};
  p += k.size();
  if (json[p] == '"') {
    size_t end = json.find('"', p + 1);
    return json.substr(p + 1, end - p - 1);
  }
  size_t end = json.find_first_of(",}", p);
  return json.substr(p, end - p);
}

struct Worker {
  baton_session* session = nullptr;
  std::string spec, lease;
  int64_t busy_until = 0;
};

// Runs one queue-mode run of `durations` (ms, by spec index) with `workers`
// workers; returns the makespan in simulated ms.
int64_t simulate(baton_engine* e, const std::string& run, const std::vector<int64_t>& durations,
                 int workers, int64_t* clock) {
  std::string plan = R"({"specs":[)";
  for (size_t i = 0; i < durations.size(); ++i) {
    plan += fmt::format(R"({}{{"id":"spec-{:03}"}})", i ? "," : "", i);
  }
  plan += "]}";
  std::vector<Worker> fleet(static_cast<size_t>(workers));
  for (size_t w = 0; w < fleet.size(); ++w) {
    std::string creds = fmt::format(R"({{"client":"{}-w{}"}})", run, w);
    if (baton_session_open(e, creds.c_str(), &fleet[w].session) != BATON_OK) die("session");
  }
  int64_t start = *clock;
  push(fleet[0].session,
       fmt::format(R"({{"type":"run.start","run":"{}","name":"nightly","plan":{},"config":{{"lease_ms":1000000000}}}})",
                   run, plan));
  // (time, worker): the next moment a worker acts; earliest first.
  using Slot = std::pair<int64_t, size_t>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> agenda;
  for (size_t w = 0; w < fleet.size(); ++w) agenda.push({start, w});
  int64_t makespan = 0;
  while (!agenda.empty()) {
    auto [t, w] = agenda.top();
    agenda.pop();
    if (t > *clock) {
      *clock = t;
      if (baton_clock_set(e, t) != BATON_OK) die("clock");
    }
    Worker& wk = fleet[w];
    if (!wk.spec.empty()) {
      int64_t d = durations[static_cast<size_t>(std::stoi(wk.spec.substr(5)))];
      push(wk.session,
           fmt::format(R"({{"type":"spec.end","run":"{}","spec":"{}","lease":"{}","status":"passed","duration_ms":{}}})",
                       run, wk.spec, wk.lease, d));
      makespan = std::max(makespan, t - start);
      wk.spec.clear();
    }
    std::string reply = push(wk.session, fmt::format(R"({{"type":"queue.claim","run":"{}"}})", run));
    if (reply.find("\"done\":true") != std::string::npos) continue;
    std::string wait = field(reply, "wait_ms");
    if (!wait.empty()) {
      agenda.push({t + std::stoll(wait), w});
      continue;
    }
    wk.spec = field(reply, "id");
    wk.lease = field(reply, "lease");
    if (wk.spec.empty()) die("unexpected claim reply: " + reply);
    agenda.push({t + durations[static_cast<size_t>(std::stoi(wk.spec.substr(5)))], w});
  }
  for (Worker& wk : fleet) baton_session_close(wk.session);
  return makespan;
}

struct Result {
  int workers = 0;
  double bound = 0, history = 0, list = 0;  // means over seeds, ms
  double history_ratio = 0, history_worst = 0, list_ratio = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--json") opt.json = true;
    else if (a == "--specs") opt.specs = std::atoi(next());
    else if (a == "--seeds") opt.seeds = std::atoi(next());
    else if (a == "--sigma") opt.sigma = std::atof(next());
    else die("usage: bench_queue_sim [--json] [--specs N] [--seeds N] [--sigma S]");
  }
  if (opt.specs < 1 || opt.seeds < 1) die("--specs and --seeds must be positive");

  std::vector<Result> results;
  for (int workers : {4, 8, 16}) {
    Result r;
    r.workers = workers;
    for (int seed = 1; seed <= opt.seeds; ++seed) {
      std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919 + static_cast<uint64_t>(workers));
      std::lognormal_distribution<double> base(std::log(1000.0), opt.sigma);
      std::lognormal_distribution<double> drift(0.0, opt.drift);
      std::vector<int64_t> previous(static_cast<size_t>(opt.specs)), current(previous.size());
      for (size_t i = 0; i < previous.size(); ++i) {
        double d = base(rng);
        previous[i] = std::max<int64_t>(1, std::llround(d * drift(rng)));
        current[i] = std::max<int64_t>(1, std::llround(d * drift(rng)));
      }
      int64_t total = 0, longest = 0;
      for (int64_t d : current) {
        total += d;
        longest = std::max(longest, d);
      }
      double bound = std::max(static_cast<double>(total) / workers, static_cast<double>(longest));

      // History: a previous run of the build name, then the measured one.
      baton_engine* e = nullptr;
      if (baton_open(R"({"clock":"manual"})", &e) != BATON_OK) die("open");
      int64_t clock = 0;
      simulate(e, "previous", previous, workers, &clock);
      int64_t history = simulate(e, "measured", current, workers, &clock);
      baton_close(e);
      // List order: the same durations on an engine without history.
      if (baton_open(R"({"clock":"manual"})", &e) != BATON_OK) die("open");
      clock = 0;
      int64_t list = simulate(e, "listed", current, workers, &clock);
      baton_close(e);

      r.bound += bound / opt.seeds;
      r.history += static_cast<double>(history) / opt.seeds;
      r.list += static_cast<double>(list) / opt.seeds;
      r.history_ratio += history / bound / opt.seeds;
      r.history_worst = std::max(r.history_worst, history / bound);
      r.list_ratio += list / bound / opt.seeds;
    }
    results.push_back(r);
  }

  if (opt.json) {
    std::string out = fmt::format(
        R"({{"specs":{},"seeds":{},"sigma":{},"drift":{},"target_ratio":1.05,"results":[)",
        opt.specs, opt.seeds, opt.sigma, opt.drift);
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      out += fmt::format(
          R"({}{{"workers":{},"bound_ms":{:.0f},"history_ms":{:.0f},"history_ratio":{:.4f},"history_ratio_worst":{:.4f},"list_ms":{:.0f},"list_ratio":{:.4f}}})",
          i ? "," : "", r.workers, r.bound, r.history, r.history_ratio, r.history_worst, r.list,
          r.list_ratio);
    }
    out += "]}";
    std::puts(out.c_str());
    return 0;
  }
  fmt::print("queue makespan, {} specs, log-normal durations (sigma {}), {} seeds, run-to-run drift {}\n",
             opt.specs, opt.sigma, opt.seeds, opt.drift);
  fmt::print("bound = max(total/W, longest spec); means over seeds; target: history <= 1.05 x bound\n\n");
  fmt::print("{:>3}  {:>10}  {:>11}  {:>8}  {:>8}  {:>10}  {:>8}\n", "W", "bound ms", "history ms",
             "ratio", "worst", "list ms", "ratio");
  for (const Result& r : results) {
    fmt::print("{:>3}  {:>10.0f}  {:>11.0f}  {:>8.4f}  {:>8.4f}  {:>10.0f}  {:>8.4f}\n", r.workers,
               r.bound, r.history, r.history_ratio, r.history_worst, r.list, r.list_ratio);
  }
  return 0;
}
