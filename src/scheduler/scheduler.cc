#include "baton/scheduler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "baton/store.h"
#include "common/json_writer.h"

namespace baton {

namespace {

constexpr std::array<const char*, 3> kSpecStateNames = {"queued", "leased", "done"};

Status conflict(std::string message, std::string field) {
  return Status::error(Code::kConflict, std::move(message), std::move(field), "queue");
}

bool is_failure(TestStatus s) {
  return s == TestStatus::kFailed || s == TestStatus::kTimedout || s == TestStatus::kInterrupted;
}

// Order-insensitive: workers may list the same specs in a different order.
uint64_t hash_plan(const std::vector<PlanSpec>& plan) {
  std::vector<std::string_view> ids;
  ids.reserve(plan.size());
  for (const PlanSpec& p : plan) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (std::string_view id : ids) {
    for (char c : id) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator: ["ab","c"] differs from ["a","bc"]
    h *= 1099511628211ull;
  }
  return h;
}

double median_of(std::vector<double>* v) {
  std::sort(v->begin(), v->end());
  size_t n = v->size();
  return n % 2 ? (*v)[n / 2] : ((*v)[n / 2 - 1] + (*v)[n / 2]) / 2;
}

}  // namespace

const char* spec_state_name(SpecState state) {
  auto i = static_cast<size_t>(state);
  return i < kSpecStateNames.size() ? kSpecStateNames[i] : "unknown";
}

void Scheduler::reset() {
  ids_.clear();
  held_.clear();
  leases_total_ = 0;
  live_queues_.clear();
}

uint32_t Scheduler::intern(std::string_view name) {
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  if (held_.empty()) held_.push_back(0);  // id 0 means "nobody"
  auto id = static_cast<uint32_t>(held_.size());
  held_.push_back(0);
  ids_.emplace(std::string(name), id);
  return id;
}

uint32_t Scheduler::find_id(std::string_view name) const {
  auto it = ids_.find(name);
  return it == ids_.end() ? 0 : it->second;
}

bool Scheduler::holds_leases(std::string_view client) const {
  uint32_t id = find_id(client);
  return id != 0 && held_[id] > 0;
}

bool Scheduler::answer_finished(const Event& ev, const StateManager& state,
                                std::string* reply) const {
  if (ev.type != EventType::kQueueClaim) return false;
  const RunState* run = state.find(ev.run);
  bool finished = run != nullptr ? run->status != RunStatus::kRunning : state.is_finished(ev.run);
  if (!finished) return false;
  reply->assign("{\"ok\":true,\"done\":true}");
  return true;
}

Status Scheduler::admit(const Event& ev, const StateManager& state, const QueueContext& ctx,
                        EventStore* store) {
  switch (ev.type) {
    case EventType::kRunStart: {
      const RunState* run = state.find(ev.run);
      if (run == nullptr && !state.is_finished(ev.run)) run = state.find_build(ev.build);
      if (run != nullptr) {
        if (run->status != RunStatus::kRunning || !ev.has_plan) return Status::ok();
        if (!run->queue) {
          // The first plan of a run queues its specs, even when a plain
          // run.start came first; under another run id it cannot (replay of
          // that id would not find the run).
          if (run->id == ev.run) return check_reserved(ev, ctx) ? prepare_plan(ev, ctx, store)
                                                                : reserved_field();
          return conflict(fmt::format("run \"{}\" was started without a plan, so a run.start "
                                      "under another id may not bring one",
                                      run->id),
                          "plan");
        }
        if (ev.plan.size() != run->queue->specs.size() ||
            hash_plan(ev.plan) != run->queue->plan_hash) {
          return conflict(fmt::format("field \"plan\" differs from the plan run \"{}\" was "
                                      "started with",
                                      run->id),
                          "plan");
        }
        return Status::ok();
      }
      if (!ev.has_plan || state.is_finished(ev.run)) return Status::ok();
      if (!check_reserved(ev, ctx)) return reserved_field();
      return prepare_plan(ev, ctx, store);
    }
    case EventType::kQueueClaim: {
      if (!check_reserved(ev, ctx)) return reserved_field();
      const RunState* run = state.find(ev.run);
      if (run != nullptr && run->status == RunStatus::kRunning && !run->queue) {
        return conflict(fmt::format("run \"{}\" has no plan: queue.claim needs a run.start "
                                    "with a plan",
                                    ev.run),
                        "run");
      }
      return Status::ok();
    }
    case EventType::kSpecEnd: {
      const RunState* run = state.find(ev.run);
      if (run == nullptr || run->status != RunStatus::kRunning) return Status::ok();
      if (!run->queue) {
        return conflict(fmt::format("run \"{}\" has no plan: spec.end needs a run.start with a "
                                    "plan",
                                    ev.run),
                        "run");
      }
      const RunQueue& q = *run->queue;
      auto it = q.index.find(ev.spec);
      if (it == q.index.end()) {
        return conflict(
            fmt::format("spec \"{}\" is not in the plan of run \"{}\"", ev.spec, ev.run), "spec");
      }
      const SpecEntry& sp = q.specs[it->second];
      if (sp.state != SpecState::kLeased || sp.lease != ev.lease) {
        return conflict(fmt::format("lease \"{}\" of spec \"{}\" is stale: the spec is {} under "
                                    "another lease or none",
                                    ev.lease, ev.spec, spec_state_name(sp.state)),
                        "lease");
      }
      if (sp.deadline <= ctx.now_ms && !q.draining) {
        return conflict(fmt::format("lease \"{}\" of spec \"{}\" expired {} ms ago and the spec "
                                    "went back to the queue",
                                    ev.lease, ev.spec, ctx.now_ms - sp.deadline),
                        "lease");
      }
      if (ev.attempt > 0 && ev.attempt != sp.attempts) {
        return conflict(fmt::format("field \"attempt\" is {} but lease \"{}\" is attempt {}",
                                    ev.attempt, ev.lease, sp.attempts),
                        "attempt");
      }
      return Status::ok();
    }
    default:
      return Status::ok();
  }
}

bool Scheduler::check_reserved(const Event& ev, const QueueContext& ctx) {
  if (!ctx.recorded.empty() || !lenient_fields_) return true;
  simdjson::dom::element doc, ignored;
  if (parser_.parse(ev.raw.data(), ev.raw.size()).get(doc) != simdjson::SUCCESS) return true;
  return doc["granted"].get(ignored) != simdjson::SUCCESS &&
         doc["scheduled"].get(ignored) != simdjson::SUCCESS;
}

Status Scheduler::reserved_field() {
  return Status::error(Code::kInvalid,
                       "fields \"granted\" and \"scheduled\" are reserved for the engine's "
                       "record of its queue decisions",
                       "granted", "reserved");
}

bool Scheduler::read_recorded(std::string_view payload, const char* key,
                              simdjson::dom::element* out) {
  simdjson::dom::element doc;
  if (parser_.parse(payload.data(), payload.size()).get(doc) != simdjson::SUCCESS) return false;
  return doc[key].get(*out) == simdjson::SUCCESS;
}

Status Scheduler::prepare_plan(const Event& ev, const QueueContext& ctx, EventStore* store) {
  const size_t n = ev.plan.size();
  pending_expected_.assign(n, -1);
  pending_failed_last_.assign(n, 0);
  if (!ctx.recorded.empty()) {
    // Replay: the expectations the live engine used, not today's history.
    simdjson::dom::element scheduled;
    if (!read_recorded(ctx.recorded, "scheduled", &scheduled)) {
      for (size_t i = 0; i < n; ++i) pending_expected_[i] = std::max<int64_t>(ev.plan[i].estimate_ms, 0);
      return Status::ok();
    }
    simdjson::dom::array expected, failed;
    if (scheduled["expected_ms"].get(expected) == simdjson::SUCCESS) {
      size_t i = 0;
      for (auto v : expected) {
        int64_t ms = 0;
        if (i < n && v.get(ms) == simdjson::SUCCESS) pending_expected_[i] = ms;
        ++i;
      }
    }
    if (scheduled["failed_last"].get(failed) == simdjson::SUCCESS) {
      for (auto v : failed) {
        uint64_t i = 0;
        if (v.get(i) == simdjson::SUCCESS && i < n) pending_failed_last_[i] = 1;
      }
    }
    return Status::ok();
  }

  // History: the median of the last few passed durations on this platform,
  // else on any platform. Rows still queued (async durability) must count.
  Status flushed = store->flush();
  if (!flushed) return flushed;
  std::string_view platform = ev.platform;
  std::vector<double> durations;
  auto collect = [&](const Row& r) {
    durations.push_back(r.real(0));
    return true;
  };
  int64_t window = options_.history_window;
  std::vector<double> known;
  for (size_t i = 0; i < n; ++i) {
    const PlanSpec& p = ev.plan[i];
    durations.clear();
    Status s = store->read(
        "SELECT duration_ms FROM spec_history WHERE spec = ? AND platform = ? AND "
        "status = 'passed' AND duration_ms IS NOT NULL ORDER BY at DESC, rowid DESC LIMIT ?",
        {p.id, platform, window}, collect);
    if (s && durations.empty()) {
      s = store->read(
          "SELECT duration_ms FROM spec_history WHERE spec = ? AND status = 'passed' AND "
          "duration_ms IS NOT NULL ORDER BY at DESC, rowid DESC LIMIT ?",
          {p.id, window}, collect);
    }
    if (!s) return s;
    if (!durations.empty()) {
      pending_expected_[i] = std::llround(median_of(&durations));
    } else if (p.estimate_ms >= 0) {
      pending_expected_[i] = p.estimate_ms;
    }
    if (pending_expected_[i] >= 0) known.push_back(static_cast<double>(pending_expected_[i]));
  }
  int64_t fallback = known.empty() ? 0 : std::llround(median_of(&known));
  for (int64_t& e : pending_expected_) {
    if (e < 0) e = fallback;
  }

  if (ev.config.failed_first == 0) return Status::ok();
  std::string_view name = ev.name.empty() ? ev.run : ev.name;
  std::string previous;
  Status s = store->read(
      "SELECT run FROM spec_history WHERE build_name = ? AND run != ? ORDER BY at DESC, rowid "
      "DESC LIMIT 1",
      {name, ev.run}, [&](const Row& r) {
        previous.assign(r.text(0));
        return false;
      });
  if (!s || previous.empty()) return s;
  // The last attempt of each spec in that run decides whether it finally failed.
  StringMap<bool> failed_last;
  s = store->read(
      "SELECT spec, status FROM spec_history WHERE build_name = ? AND run = ? ORDER BY at, rowid",
      {name, previous}, [&](const Row& r) {
        TestStatus st = TestStatus::kNone;
        parse_test_status(r.text(1), &st);
        failed_last[std::string(r.text(0))] = is_failure(st);
        return true;
      });
  if (!s) return s;
  for (size_t i = 0; i < n; ++i) {
    auto it = failed_last.find(ev.plan[i].id);
    if (it != failed_last.end() && it->second) pending_failed_last_[i] = 1;
  }
  return Status::ok();
}

void Scheduler::create_queue(const Event& ev, RunState* run, const QueueContext& ctx,
                             EventStore* store) {
  auto q = std::make_shared<RunQueue>();
  const size_t n = ev.plan.size();
  q->specs.resize(n);
  q->index.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    SpecEntry& sp = q->specs[i];
    sp.id.assign(ev.plan[i].id);
    sp.estimate_ms = ev.plan[i].estimate_ms;
    sp.expected_ms = i < pending_expected_.size() ? pending_expected_[i] : 0;
    sp.failed_last = i < pending_failed_last_.size() && pending_failed_last_[i] != 0;
    q->index.emplace(sp.id, static_cast<uint32_t>(i));
  }
  q->plan_hash = hash_plan(ev.plan);
  // A plan that joins a plain run may bring the queue's config; the run's fills the gaps.
  auto pick = [](int64_t mine, int64_t run_value) { return mine >= 0 ? mine : run_value; };
  int64_t lease_ms = pick(ev.config.lease_ms, run->config.lease_ms);
  q->lease_ms = lease_ms > 0 ? lease_ms : options_.default_lease_ms;
  q->retries = std::max<int64_t>(pick(ev.config.retries, run->config.retries), 0);
  q->max_failures = std::max<int64_t>(pick(ev.config.max_failures, run->config.max_failures), 0);

  // Failed last time first, then longest expected first (LPT); plan order breaks ties.
  q->by_rank.resize(n);
  std::iota(q->by_rank.begin(), q->by_rank.end(), 0u);
  std::stable_sort(q->by_rank.begin(), q->by_rank.end(), [&](uint32_t a, uint32_t b) {
    const SpecEntry& x = q->specs[a];
    const SpecEntry& y = q->specs[b];
    if (x.failed_last != y.failed_last) return x.failed_last;
    return x.expected_ms > y.expected_ms;
  });
  for (uint32_t r = 0; r < n; ++r) {
    q->specs[q->by_rank[r]].rank = r;
    q->ready.insert(q->ready.end(), r);
  }
  run->queue = q;
  live_queues_.push_back(q);
  for (const SpecEntry& sp : q->specs) write_spec(*run, sp, ctx.seq, store);

  if (!ctx.recorded.empty()) return;
  log_fields_.append(",\"scheduled\":{\"expected_ms\":[");
  for (size_t i = 0; i < n; ++i) {
    if (i) log_fields_.push_back(',');
    log_fields_.append(std::to_string(q->specs[i].expected_ms));
  }
  log_fields_.append("],\"failed_last\":[");
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    if (!q->specs[i].failed_last) continue;
    if (!first) log_fields_.push_back(',');
    first = false;
    log_fields_.append(std::to_string(i));
  }
  log_fields_.append("]}");
}

void Scheduler::apply(const Event& ev, StateManager& state, ApplyResult* applied,
                      const QueueContext& ctx, EventStore* store) {
  log_fields_.clear();
  reply_fields_.clear();
  RunState* run = applied->run;
  if (run == nullptr) return;
  switch (ev.type) {
    case EventType::kRunStart:
      if (ev.has_plan && !run->queue && (applied->run_started || !applied->run_aliased)) {
        create_queue(ev, run, ctx, store);
      }
      if (applied->run_aliased) {
        reply_fields_.append(",\"run\":");
        json_append_string(&reply_fields_, run->id);
      }
      return;
    case EventType::kQueueClaim:
      if (!run->queue) return;
      if (ctx.recorded.empty()) {
        claim(ev, run, ctx, store);
      } else {
        replay_claim(run, ctx, store);
      }
      return;
    case EventType::kSpecEnd:
      if (run->queue) spec_end(ev, state, applied, ctx, store);
      return;
    case EventType::kRunEnd:
    case EventType::kRunCancel:
      if (run->queue && applied->run_finished) {
        end_run(run, ev.type == EventType::kRunCancel, ctx.seq, store);
      }
      return;
    default:
      return;
  }
}

void Scheduler::normalize(RunQueue& q, int64_t now_ms) {
  // A cancelled run hands nothing out again: its expired leases wait for the
  // run to end and are recorded interrupted then.
  if (q.draining) return;
  for (size_t i = q.leased.size(); i-- > 0;) {
    uint32_t pos = q.leased[i];
    SpecEntry& sp = q.specs[pos];
    if (sp.deadline > now_ms) continue;
    sp.avoid = sp.worker_id;
    release(q, pos);
    requeue(q, pos);
  }
}

void Scheduler::claim(const Event& ev, RunState* run, const QueueContext& ctx,
                      EventStore* store) {
  RunQueue& q = *run->queue;
  if (q.draining) {
    reply_fields_.append(",\"done\":true");
    return;
  }
  normalize(q, ctx.now_ms);
  std::string_view worker = ev.worker.empty() ? ctx.client : ev.worker;
  uint32_t worker_id = intern(worker);
  uint32_t holder = intern(ctx.client);
  int64_t lease_ms = ev.lease_ms > 0 ? ev.lease_ms : q.lease_ms;
  std::string_view platform = ev.platform.empty() ? std::string_view(run->platform) : ev.platform;
  bool batch = ev.count > 1;
  int64_t granted = 0;
  std::string lease;
  for (int64_t k = 0; k < ev.count && !q.ready.empty(); ++k) {
    // A retry prefers a worker other than the one it failed on.
    uint32_t pick = UINT32_MAX;
    for (uint32_t rank : q.ready) {
      if (q.specs[q.by_rank[rank]].avoid != worker_id) {
        pick = q.by_rank[rank];
        break;
      }
    }
    if (pick == UINT32_MAX) pick = q.by_rank[*q.ready.begin()];
    lease = fmt::format("{}.{}", ctx.seq, k);
    int64_t attempt = q.specs[pick].attempts + 1;
    grant(run, pick, lease, holder, worker, worker_id, platform, ctx.now_ms, lease_ms, attempt,
          ctx.seq, store);
    const SpecEntry& sp = q.specs[pick];

    log_fields_.append(granted == 0 ? ",\"granted\":[" : ",");
    JsonWriter lw(&log_fields_);
    lw.begin_object().field("spec", sp.id).field("attempt", attempt).field("lease", lease);
    lw.field("worker", worker).field("platform", platform).field("lease_ms", lease_ms);
    lw.end_object();

    reply_fields_.append(granted == 0 ? (batch ? ",\"specs\":[" : ",\"spec\":") : ",");
    JsonWriter rw(&reply_fields_);
    rw.begin_object().field("id", sp.id).field("attempt", attempt).field("lease", lease);
    rw.field("lease_ms", lease_ms).end_object();
    ++granted;
  }
  if (granted > 0) {
    log_fields_.push_back(']');
    if (batch) reply_fields_.push_back(']');
    return;
  }
  if (q.leased.empty()) {
    reply_fields_.append(",\"done\":true");
    return;
  }
  int64_t earliest = INT64_MAX;
  for (uint32_t pos : q.leased) earliest = std::min(earliest, q.specs[pos].deadline);
  int64_t wait = std::clamp<int64_t>(earliest - ctx.now_ms, 1, options_.max_wait_ms);
  reply_fields_.append(fmt::format(",\"wait_ms\":{}", wait));
}

void Scheduler::regranted_reply(const StateManager& state, std::string_view client,
                                const Event& ev, int64_t now_ms, std::string* reply) const {
  const RunState* run = state.find(ev.run);
  uint32_t id = find_id(client);
  if (run == nullptr || !run->queue || id == 0) return;
  const RunQueue& q = *run->queue;
  int64_t latest = 0;
  for (uint32_t pos : q.leased) {
    const SpecEntry& sp = q.specs[pos];
    if (sp.holder == id && sp.deadline > now_ms) latest = std::max(latest, sp.grant_seq);
  }
  if (latest == 0) return;
  std::vector<const SpecEntry*> mine;
  for (uint32_t pos : q.leased) {
    const SpecEntry& sp = q.specs[pos];
    if (sp.holder == id && sp.deadline > now_ms && sp.grant_seq == latest) mine.push_back(&sp);
  }
  std::sort(mine.begin(), mine.end(),
            [](const SpecEntry* a, const SpecEntry* b) { return a->rank < b->rank; });
  bool batch = ev.count > 1;
  reply->append(batch ? ",\"specs\":[" : ",\"spec\":");
  for (size_t i = 0; i < mine.size() && (batch || i == 0); ++i) {
    if (i) reply->push_back(',');
    JsonWriter w(reply);
    w.begin_object().field("id", mine[i]->id).field("attempt", mine[i]->attempts);
    w.field("lease", mine[i]->lease).field("lease_ms", mine[i]->lease_ms).end_object();
  }
  if (batch) reply->push_back(']');
}

void Scheduler::replay_claim(RunState* run, const QueueContext& ctx, EventStore* store) {
  RunQueue& q = *run->queue;
  simdjson::dom::element granted;
  if (!read_recorded(ctx.recorded, "granted", &granted)) return;
  simdjson::dom::array items;
  if (granted.get(items) != simdjson::SUCCESS) return;
  uint32_t holder = intern(ctx.client);
  for (auto item : items) {
    std::string_view spec, lease, worker, platform;
    int64_t attempt = 1, lease_ms = q.lease_ms;
    if (item["spec"].get(spec) || item["lease"].get(lease)) continue;
    if (item["attempt"].get(attempt)) {}
    if (item["lease_ms"].get(lease_ms)) {}
    if (item["worker"].get(worker)) worker = ctx.client;
    if (item["platform"].get(platform)) {}
    auto it = q.index.find(spec);
    if (it == q.index.end() || q.specs[it->second].state == SpecState::kDone) continue;
    grant(run, it->second, lease, holder, worker, intern(worker), platform, ctx.now_ms,
          lease_ms, attempt, ctx.seq, store);
  }
}

void Scheduler::grant(RunState* run, uint32_t pos, std::string_view lease, uint32_t holder,
                      std::string_view worker, uint32_t worker_id, std::string_view platform,
                      int64_t now_ms, int64_t lease_ms, int64_t attempt, int64_t seq,
                      EventStore* store) {
  RunQueue& q = *run->queue;
  SpecEntry& sp = q.specs[pos];
  if (sp.state == SpecState::kQueued) q.ready.erase(sp.rank);
  if (sp.state == SpecState::kLeased) release(q, pos);
  sp.state = SpecState::kLeased;
  sp.attempts = attempt;
  sp.holder = holder;
  ++held_[holder];
  ++leases_total_;
  sp.worker.assign(worker);
  sp.worker_id = worker_id;
  sp.platform.assign(platform);
  sp.lease.assign(lease);
  sp.granted_at = now_ms;
  sp.grant_seq = seq;
  sp.lease_ms = lease_ms;
  sp.deadline = sp.grant_deadline = now_ms + lease_ms;
  sp.leased_pos = static_cast<uint32_t>(q.leased.size());
  q.leased.push_back(pos);
  write_spec(*run, sp, seq, store);
}

void Scheduler::release(RunQueue& q, uint32_t pos) {
  SpecEntry& sp = q.specs[pos];
  uint32_t last = q.leased.back();
  q.leased[sp.leased_pos] = last;
  q.specs[last].leased_pos = sp.leased_pos;
  q.leased.pop_back();
  if (sp.holder != 0 && sp.holder < held_.size()) --held_[sp.holder];
  --leases_total_;
  sp.holder = 0;
  sp.lease.clear();
  sp.state = SpecState::kQueued;
}

void Scheduler::requeue(RunQueue& q, uint32_t pos) {
  q.specs[pos].state = SpecState::kQueued;
  q.ready.insert(q.specs[pos].rank);
}

void Scheduler::finish_spec(RunState* run, uint32_t pos, TestStatus status, int64_t seq,
                            EventStore* store) {
  RunQueue& q = *run->queue;
  SpecEntry& sp = q.specs[pos];
  if (sp.state == SpecState::kQueued) q.ready.erase(sp.rank);
  if (sp.state == SpecState::kLeased) release(q, pos);
  sp.state = SpecState::kDone;
  sp.status = status;
  ++q.done;
  write_spec(*run, sp, seq, store);
}

void Scheduler::spec_end(const Event& ev, StateManager& state, ApplyResult* applied,
                         const QueueContext& ctx, EventStore* store) {
  RunQueue& q = *applied->run->queue;
  uint32_t pos = q.index.find(ev.spec)->second;
  SpecEntry& sp = q.specs[pos];
  sp.duration_ms = ev.duration_ms >= 0 ? ev.duration_ms
                                       : static_cast<double>(ctx.now_ms - sp.granted_at);
  sp.status = ev.status;
  uint32_t worker_id = sp.worker_id;
  release(q, pos);
  if (store != nullptr) {
    store->write(Stmt::kInsertSpecHistory,
               {sp.id, sp.platform, applied->run->name, applied->run->id, ctx.now_ms,
                  sp.duration_ms, test_status_name(ev.status)},
                 ctx.seq);
  }
  if (is_failure(ev.status)) {
    ++sp.failures;
    if (sp.failures <= q.retries && !q.draining) {
      sp.avoid = worker_id;
      requeue(q, pos);
      write_spec(*applied->run, sp, ctx.seq, store);
      reply_fields_.append(",\"requeued\":true");
    } else {
      finish_spec(applied->run, pos, ev.status, ctx.seq, store);
      ++q.final_failures;
      if (q.max_failures > 0 && q.final_failures >= q.max_failures && !q.draining) {
        start_draining(applied->run, ctx.seq, store);
      }
    }
  } else {
    sp.flaky = ev.status == TestStatus::kPassed && sp.failures > 0;
    finish_spec(applied->run, pos, ev.status, ctx.seq, store);
  }
  maybe_complete(applied->run, state, applied, ctx, store);
  if (applied->run_finished) {
    reply_fields_.append(",\"run_status\":\"");
    reply_fields_.append(run_status_name(applied->run->status));
    reply_fields_.push_back('"');
  }
}

void Scheduler::start_draining(RunState* run, int64_t seq, EventStore* store) {
  RunQueue& q = *run->queue;
  q.draining = true;
  // Unclaimed specs will not run: skipped. Leased ones may still finish.
  while (!q.ready.empty()) {
    finish_spec(run, q.by_rank[*q.ready.begin()], TestStatus::kSkipped, seq, store);
  }
}

void Scheduler::maybe_complete(RunState* run, StateManager& state, ApplyResult* applied,
                               const QueueContext& ctx, EventStore* store) {
  RunQueue& q = *run->queue;
  bool complete = q.done == static_cast<int64_t>(q.specs.size());
  if (!complete && q.draining) {
    complete = std::all_of(q.leased.begin(), q.leased.end(),
                           [&](uint32_t pos) { return q.specs[pos].deadline <= ctx.now_ms; });
  }
  if (!complete) return;
  end_run(run, q.draining, ctx.seq, store);
  RunStatus status = q.draining              ? RunStatus::kCancelled
                     : q.final_failures > 0 ? RunStatus::kFailed
                                            : RunStatus::kRunning;  // from the test counts
  state.finish_run(run, status, ctx.now_ms, applied);
}

void Scheduler::end_run(RunState* run, bool cancelled, int64_t seq, EventStore* store) {
  RunQueue& q = *run->queue;
  q.ended = true;
  for (uint32_t pos = 0; pos < q.specs.size(); ++pos) {
    SpecState st = q.specs[pos].state;
    if (st == SpecState::kDone) continue;
    // A cancelled run skips what never started; anything else left is interrupted.
    TestStatus status = (cancelled && st == SpecState::kQueued) ? TestStatus::kSkipped
                                                                 : TestStatus::kInterrupted;
    finish_spec(run, pos, status, seq, store);
  }
}

void Scheduler::touch(std::string_view client, int64_t now_ms) {
  if (leases_total_ == 0) return;
  uint32_t id = find_id(client);
  if (id == 0 || held_[id] == 0) return;
  for (const std::shared_ptr<RunQueue>& queue : live_queues()) {
    RunQueue& q = *queue;
    for (uint32_t pos : q.leased) {
      SpecEntry& sp = q.specs[pos];
      if (sp.holder == id && sp.deadline > now_ms) {
        sp.deadline = std::max(sp.deadline, now_ms + sp.lease_ms);
      }
    }
  }
}

const std::vector<std::shared_ptr<RunQueue>>& Scheduler::live_queues() {
  live_queues_.erase(std::remove_if(live_queues_.begin(), live_queues_.end(),
                                    [](const std::shared_ptr<RunQueue>& q) { return q->ended; }),
                     live_queues_.end());
  return live_queues_;
}

void Scheduler::session_closed(std::string_view client, int64_t now_ms, int64_t grace_ms) {
  uint32_t id = find_id(client);
  if (id == 0 || held_[id] == 0) return;
  for (const std::shared_ptr<RunQueue>& queue : live_queues()) {
    RunQueue& q = *queue;
    for (uint32_t pos : q.leased) {
      SpecEntry& sp = q.specs[pos];
      if (sp.holder == id) sp.deadline = std::min(sp.deadline, now_ms + grace_ms);
    }
  }
}

void Scheduler::due_events(const StateManager& state, int64_t now_ms,
                           std::vector<std::string>* messages) const {
  for (const auto& [run_id, run] : state.runs()) {
    if (run->status != RunStatus::kRunning) continue;
    std::string msg;
    JsonWriter w(&msg);
    if (run->config.run_timeout_ms > 0 && now_ms >= run->started_at + run->config.run_timeout_ms) {
      w.begin_object().field("type", "run.end").field("run", run->id);
      w.field("status", "interrupted");
      w.key("meta").begin_object().field("baton", "run_timeout");
      w.field("run_timeout_ms", run->config.run_timeout_ms).end_object();
      w.end_object();
    } else if (run->queue && run->queue->draining && !run->queue->leased.empty()) {
      const RunQueue& q = *run->queue;
      bool all_expired = std::all_of(q.leased.begin(), q.leased.end(), [&](uint32_t pos) {
        return q.specs[pos].deadline <= now_ms;
      });
      if (!all_expired) continue;
      w.begin_object().field("type", "run.cancel").field("run", run->id);
      w.field("reason", "max_failures reached and the remaining leases expired");
      w.key("meta").begin_object().field("baton", "drained").end_object();
      w.end_object();
    } else {
      continue;
    }
    messages->push_back(std::move(msg));
  }
}

SpecCounts Scheduler::counts(const RunQueue& q, int64_t now_ms) {
  SpecCounts c;
  c.total = static_cast<int64_t>(q.specs.size());
  c.done = q.done;
  for (uint32_t pos : q.leased) {
    if (q.draining || q.specs[pos].deadline > now_ms) ++c.leased;
  }
  c.queued = c.total - c.done - c.leased;
  return c;
}

void Scheduler::write_queue_json(const RunState& run, int64_t now_ms, std::string* out) {
  JsonWriter w(out);
  w.begin_object().field("run", run.id).field("status", run_status_name(run.status));
  const RunQueue& q = *run.queue;
  SpecCounts c = counts(q, now_ms);
  w.key("specs").begin_object().field("total", c.total).field("queued", c.queued);
  w.field("leased", c.leased).field("done", c.done).end_object();
  w.field("cancelled", q.draining);
  w.key("queue").begin_array();
  for (uint32_t pos : q.by_rank) {
    const SpecEntry& sp = q.specs[pos];
    bool expired = sp.state == SpecState::kLeased && !q.draining && sp.deadline <= now_ms;
    SpecState st = expired ? SpecState::kQueued : sp.state;
    w.begin_object().field("id", sp.id).field("state", spec_state_name(st));
    w.field("attempts", sp.attempts).field("failures", sp.failures);
    if (!sp.worker.empty()) w.field("worker", sp.worker);
    if (st == SpecState::kLeased) {
      w.field("lease", sp.lease).field("lease_deadline", sp.deadline);
    }
    if (sp.state == SpecState::kDone) w.field("status", test_status_name(sp.status));
    if (sp.flaky) w.field("flaky", true);
    w.field("expected_ms", sp.expected_ms);
    if (sp.duration_ms >= 0) w.field("duration_ms", sp.duration_ms);
    w.end_object();
  }
  w.end_array().end_object();
}

void Scheduler::write_spec(const RunState& run, const SpecEntry& sp, int64_t seq,
                           EventStore* store) {
  if (store == nullptr) return;  // recovery: the store has the rows already
  bool leased = sp.state == SpecState::kLeased;
  store->write(Stmt::kUpsertSpec,
               {run.id, sp.id, spec_state_name(sp.state), sp.attempts,
                Value::text_or_null(sp.worker), leased ? Value(sp.lease) : Value(),
                leased ? Value(sp.grant_deadline) : Value(),
                sp.state == SpecState::kDone ? Value(test_status_name(sp.status)) : Value(),
                static_cast<double>(sp.expected_ms),
                sp.duration_ms >= 0 ? Value(sp.duration_ms) : Value(), sp.failures},
               seq);
}

}  // namespace baton
