#include "baton/orchestrator.h"

#include <pthread.h>

#include <charconv>
#include <chrono>
#include <optional>

#include <simdjson.h>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "orchestrator/engine_impl.h"

namespace baton {

namespace {

thread_local int tls_callback_depth = 0;
// Reused per thread: the parsed event (its plan vector keeps its capacity) and
// the buffer a filter's replacement is copied into.
thread_local Event tls_event;
thread_local std::string tls_replacement;
// The stored payload with the queue's decisions appended.
thread_local std::string tls_recorded;

int64_t system_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Refusals whose audit rows trigger a commit when nothing else has.
constexpr int64_t kAuditFlushRows = 1024;
// A commit this slow is reported to the logger.
constexpr int64_t kSlowCommitMs = 1000;

int64_t steady_nanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// Runs `fn` for one plugin, timing it and counting a failure.
template <typename Fn>
Status call_plugin(PluginEntry& p, Fn&& fn) {
  int64_t t0 = steady_nanos();
  Status s;
  {
    CallbackScope scope;
    try {
      s = fn();
    } catch (const std::exception& e) {
      s = Status::error(Code::kInternal, fmt::format("plugin \"{}\" threw: {}", p.name, e.what()));
    } catch (...) {
      s = Status::error(Code::kInternal, fmt::format("plugin \"{}\" threw", p.name));
    }
  }
  p.nanos += steady_nanos() - t0;
  ++p.calls;
  if (!s) ++p.failures;
  return s;
}

}  // namespace

// After a failed commit (im.mu held): the failed batch took events the state
// holds. Events of other threads that are applied but not yet committed are
// flushed first, so that the state rebuilt from the store holds exactly what
// clients were told is stored (a failure there fails their own commits too).
Status reload_state(Orchestrator::Impl& im, EventStore* store) {
  Status f = store->flush();
  // Rows acknowledged through the ack journal but not yet in the tables
  // would be missing from a rebuild: it waits until they are written (the
  // next push or query tries again).
  if (!f && store->stats().journal_rows > 0) return f;
  im.seen_failed_commits = store->failed_commits();
  im.state = std::make_unique<StateManager>();
  // A shared log holds still while it is read, so that no event falls
  // between the runs read and the events replayed.
  if (store->shared()) {
    Status l = store->lock_log();
    if (!l) return l;
  }
  Status s = load_state(store, im.replay_validator, im.state.get(), &im.scheduler,
                        &im.client_hw, &im.next_seq);
  if (store->shared()) store->commit(0);
  return s;
}

Status reload_if_stale(Orchestrator::Impl& im, EventStore* store, bool* reloaded) {
  bool stale = store->failed_commits() != im.seen_failed_commits;
  if (reloaded) *reloaded = stale;
  return stale ? reload_state(im, store) : Status::ok();
}

// Shared stores (im.mu held): takes the log lock and applies what other
// engines appended since this engine last looked. An event that does not
// apply means the state has drifted from the log: it is rebuilt, then the
// log is followed again. On success the caller holds the lock until its
// commit.
Status sync_shared_log(Orchestrator::Impl& im, EventStore* store) {
  for (int attempt = 0;; ++attempt) {
    bool began = false;
    Status s = store->lock_log(&began);
    if (!s || !began) return s;
    s = catch_up(store, im.replay_validator, im.state.get(), &im.scheduler, &im.client_hw,
                 &im.next_seq);
    if (s) return s;
    store->commit(0);
    if (attempt > 0) return s;
    Status r = reload_state(im, store);
    if (!r) return r;
  }
}

// Shared stores (im.mu held): follows the log without locking it, for
// answers that must include other engines' events (queries, time rules).
Status follow_shared_log(Orchestrator::Impl& im, EventStore* store) {
  if (!store->shared()) return Status::ok();
  Status s = catch_up(store, im.replay_validator, im.state.get(), &im.scheduler, &im.client_hw,
                      &im.next_seq);
  return s ? s : reload_state(im, store);
}

namespace {

// Releases a shared log's lock taken for one operation unless the
// operation's own commit released it.
struct LogLockRelease {
  EventStore* store;
  bool held = false;
  ~LogLockRelease() {
    if (held) store->commit(0);
  }
};

}  // namespace

CallbackScope::CallbackScope() { ++tls_callback_depth; }
CallbackScope::~CallbackScope() { --tls_callback_depth; }
bool in_engine_callback() { return tls_callback_depth > 0; }

Session::~Session() {
  if (!closed_ && engine_ != nullptr) engine_->close_session(this);
}

Orchestrator::Orchestrator() = default;

Orchestrator::~Orchestrator() { close(); }

Status Orchestrator::open(const EngineOptions& options, std::unique_ptr<Orchestrator>* out) {
  std::unique_ptr<Orchestrator> e(new Orchestrator());
  e->impl_ = std::make_unique<Impl>(options);
  Impl& im = *e->impl_;
  im.scheduler.set_lenient_fields(!options.limits.reject_unknown_fields);
  im.started_at = system_now_ms();
  Status s = im.access.reload(options.access_json);
  if (!s) return Status::error(Code::kInvalidArgument, fmt::format("option \"access\": {}", s.message()));
  if (options.rate_limit.per_client.enabled() || options.rate_limit.global.enabled()) {
    im.rate = std::make_unique<RateLimiter>(options.rate_limit);
  }
  if (options.store_kind == "postgresql") {
    s = open_postgres_store(options.store, &e->store_);
  } else {
    s = open_sqlite_store(options.store, &e->store_);
  }
  if (!s) return s;
  s = reload_state(im, e->store_.get());
  if (!s) return s;
  im.seen_failed_commits = e->store_->failed_commits();

  if (!options.plugins_json.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::object plugins;
    if (parser.parse(options.plugins_json).get(plugins) != simdjson::SUCCESS) {
      return Status::error(Code::kInvalidArgument, "option \"plugins\" must be an object");
    }
    for (auto field : plugins) {
      std::unique_ptr<Plugin> plugin;
      std::string settings = simdjson::minify(field.value);
      s = make_builtin_plugin(field.key, settings, &plugin);
      if (!s) {
        return Status::error(Code::kInvalidArgument,
                             fmt::format("option \"plugins\": {}", s.message()));
      }
      uint64_t id = 0;
      s = e->add_plugin(field.key, std::move(plugin), &id);
      if (!s) return s;
    }
  }
  if (!options.manual_clock) {
    Orchestrator* engine = e.get();
    im.ticker = std::thread([engine] {
      pthread_setname_np(pthread_self(), "baton-ticker");
      engine->tick_loop();
    });
  }
  *out = std::move(e);
  return Status::ok();
}

void Orchestrator::tick_loop() {
  Impl& im = *impl_;
  std::unique_lock<std::mutex> lock(im.ticker_mu);
  while (!im.ticker_stop) {
    im.ticker_cv.wait_for(lock, std::chrono::milliseconds(100));
    if (im.ticker_stop) break;
    lock.unlock();
    fire_due_events();
    lock.lock();
  }
}

void Orchestrator::fire_due_events() {
  Impl& im = *impl_;
  // A callback setting the clock must not apply events under the one it is in.
  if (in_engine_callback()) return;
  std::unique_lock<BriefRecursiveMutex> lock(im.mu);
  if (im.closed) return;
  int64_t now = now_ms();
  std::vector<std::string> due;
  const bool shared = store_->shared();
  // Whichever engine on a shared log notices a time rule first logs it; the
  // others see it in the log and find nothing due.
  if (shared && !follow_shared_log(im, store_.get())) return;
  im.scheduler.due_events(*im.state, now, &due);
  LogLockRelease log_lock{store_.get()};
  if (shared && !due.empty()) {
    if (!sync_shared_log(im, store_.get())) return;
    log_lock.held = true;
    due.clear();
    im.scheduler.due_events(*im.state, now, &due);
  }
  int64_t last_seq = 0;
  for (const std::string& msg : due) {
    Event ev;
    if (!im.replay_validator.validate(msg, &ev)) continue;
    int64_t seq = im.next_seq;
    QueueContext ctx{{}, now, seq, {}};
    ApplyResult applied;
    if (!im.scheduler.admit(ev, *im.state, ctx, store_.get())) continue;
    if (!im.state->apply(ev, now, seq, &applied)) continue;
    ++im.next_seq;
    {
      WriteGroup group(store_.get());
      im.scheduler.apply(ev, *im.state, &applied, ctx, store_.get());
      store_->write(Stmt::kInsertEvent,
                    {seq, Value::text_or_null(ev.run), event_type_name(ev.type), Value(),
                     Value(), Value(), now, std::string_view(msg)},
                    seq);
      write_derived_rows(store_.get(), ev, applied, seq, now);
    }
    if (applied.run_finished) im.state->forget(applied.run->id);
    last_seq = seq;
    PluginEvent done(&ev, msg, seq);
    for (PluginEntry& p : im.plugins) {
      if (!p.observer || !(p.mask & event_type_bit(ev.type))) continue;
      call_plugin(p, [&] { return p.plugin->observe(done); });
    }
  }
  if (last_seq == 0 || store_->durability() == Durability::kAsync) return;
  lock.unlock();
  Status c = store_->commit(last_seq);
  log_lock.held = false;
  if (!c) {
    lock.lock();
    reload_if_stale(im, store_.get());
  }
}

Status Orchestrator::close() {
  if (!impl_) return Status::ok();
  Impl& im = *impl_;
  if (im.ticker.joinable()) {
    {
      std::lock_guard<std::mutex> lock(im.ticker_mu);
      im.ticker_stop = true;
    }
    im.ticker_cv.notify_all();
    im.ticker.join();
  }
  std::vector<PluginEntry> plugins;
  {
    std::lock_guard<BriefRecursiveMutex> lock(im.mu);
    if (im.closed) return Status::ok();
    im.closed = true;
    plugins = std::move(im.plugins);
    im.plugins.clear();
  }
  Status s = store_ ? store_->flush() : Status::ok();
  {
    CallbackScope scope;
    std::lock_guard<BriefRecursiveMutex> lock(im.mu);
    for (PluginEntry& p : plugins) p.plugin->detach();
    plugins.clear();  // destroys plugins: C plugins call their destroy here
  }
  if (store_) {
    Status c = store_->close();
    if (s) s = c;
  }
  return s;
}

int64_t Orchestrator::now_ms() const {
  if (impl_->options.manual_clock) return impl_->manual_now.load(std::memory_order_acquire);
  return system_now_ms();
}

Status Orchestrator::clock_set(int64_t now_ms) {
  if (!impl_->options.manual_clock) {
    return Status::error(Code::kInvalidArgument,
                         "baton_clock_set needs the option {\"clock\":\"manual\"}");
  }
  int64_t cur = impl_->manual_now.load();
  if (now_ms < cur) {
    return Status::error(Code::kInvalidArgument,
                         fmt::format("the clock never goes back: {} is before {}", now_ms, cur));
  }
  impl_->manual_now.store(now_ms, std::memory_order_release);
  fire_due_events();
  return Status::ok();
}

namespace {

void warn_if_open(Orchestrator& engine, const Orchestrator::Impl& im) {
  if (im.access.open_mode()) {
    engine.log(2,
               "access is open: no tokens are configured, so every client may send anything; "
               "configure \"access\" before exposing baton to a network");
  }
}

}  // namespace

Status Orchestrator::access_reload(std::string_view access_json) {
  Status s = impl_->access.reload(access_json);
  if (s) warn_if_open(*this, *impl_);
  return s;
}

void Orchestrator::set_logger(LogFn fn, int min_level) {
  std::lock_guard<BriefRecursiveMutex> lock(impl_->mu);
  impl_->logger = std::move(fn);
  impl_->log_min_level = min_level;
}

void Orchestrator::log(int level, std::string_view message) {
  std::lock_guard<BriefRecursiveMutex> lock(impl_->mu);
  if (!impl_->logger || level < impl_->log_min_level) return;
  CallbackScope scope;
  impl_->logger(level, message);
}

Status Orchestrator::open_session(std::string_view credentials_json,
                                  std::unique_ptr<Session>* out) {
  Impl& im = *impl_;
  {
    std::lock_guard<BriefRecursiveMutex> lock(im.mu);
    if (im.closed) return Status::error(Code::kClosed, "the engine is closed");
  }
  Principal p;
  Status s = im.access.authenticate(credentials_json, &p);
  if (!s) {
    ++im.refused[static_cast<size_t>(-static_cast<int>(s.code())) % im.refused.size()];
    store_->write(Stmt::kInsertAudit,
                  {now_ms(), Value::text_or_null(p.client), code_name(s.code()), "credentials",
                   Value::text_or_null(s.rule()), s.message()},
                  0);
    return s;
  }
  {
    std::lock_guard<BriefRecursiveMutex> lock(im.mu);
    ++im.client_sessions[p.client];
  }
  out->reset(new Session(this, std::move(p), im.next_session_id++));
  ++im.sessions_open;
  return Status::ok();
}

void Orchestrator::close_session(Session* session) {
  if (session == nullptr || session->closed_) return;
  session->closed_ = true;
  Impl& im = *impl_;
  --im.sessions_open;
  std::unique_lock<BriefRecursiveMutex> lock(im.mu);
  const std::string& client = session->principal().client;
  auto open = im.client_sessions.find(client);
  if (open != im.client_sessions.end() && --open->second > 0) return;
  if (open != im.client_sessions.end()) im.client_sessions.erase(open);
  // The client's last session is gone: its leases survive the grace period
  // (a reconnect extends them), which is a queue decision, so it is logged.
  if (im.closed) return;
  const bool shared = store_->shared();
  LogLockRelease log_lock{store_.get()};
  if (shared) {
    if (!sync_shared_log(im, store_.get())) return;
    log_lock.held = true;
  }
  if (!im.scheduler.holds_leases(client)) return;
  int64_t now = now_ms();
  int64_t seq = im.next_seq++;
  std::string payload;
  JsonWriter w(&payload);
  w.begin_object().field("type", kSessionCloseType).field("client", client);
  w.field("grace_ms", im.options.session_grace_ms).end_object();
  store_->write(Stmt::kInsertEvent,
                {seq, Value(), kSessionCloseType, Value(client), Value(), Value(), now,
                 std::string_view(payload)},
                seq);
  im.scheduler.session_closed(client, now, im.options.session_grace_ms);
  if (store_->durability() == Durability::kAsync) return;
  lock.unlock();
  Status c = store_->commit(seq);
  log_lock.held = false;
  if (!c) {
    lock.lock();
    reload_if_stale(im, store_.get());
  }
}

Status Orchestrator::flush() {
  Status s = store_->flush();
  if (!s) {
    std::lock_guard<BriefRecursiveMutex> lock(impl_->mu);
    Impl& im = *impl_;
    // A failed batch took events the state holds: rebuild it from the log.
    reload_if_stale(im, store_.get());
  }
  return s;
}

Status Orchestrator::add_plugin(std::string_view name, std::unique_ptr<Plugin> plugin,
                                uint64_t* id) {
  Impl& im = *impl_;
  if (!plugin) return Status::error(Code::kInvalidArgument, "plugin is null");
  if (in_engine_callback()) {
    return Status::error(Code::kInvalidArgument, "plugins cannot be added from inside a callback");
  }
  std::lock_guard<BriefRecursiveMutex> lock(im.mu);
  if (im.closed) return Status::error(Code::kClosed, "the engine is closed");
  PluginEntry entry;
  entry.id = im.next_plugin_id++;
  entry.name.assign(name);
  entry.mask = plugin->event_mask();
  entry.filter = plugin->has_filter();
  entry.observer = plugin->has_observer();
  {
    CallbackScope scope;
    plugin->attach(this);
  }
  entry.plugin = std::move(plugin);
  *id = entry.id;
  im.plugins.push_back(std::move(entry));
  return Status::ok();
}

Status Orchestrator::remove_plugin(uint64_t id) {
  Impl& im = *impl_;
  if (in_engine_callback()) {
    return Status::error(Code::kInvalidArgument,
                         "plugins cannot be removed from inside a callback");
  }
  std::unique_ptr<Plugin> removed;
  {
    std::lock_guard<BriefRecursiveMutex> lock(im.mu);
    for (auto it = im.plugins.begin(); it != im.plugins.end(); ++it) {
      if (it->id == id) {
        removed = std::move(it->plugin);
        im.plugins.erase(it);
        break;
      }
    }
    if (!removed) {
      return Status::error(Code::kNotFound, fmt::format("no plugin with id {}", id));
    }
    CallbackScope scope;
    removed->detach();
    removed.reset();
  }
  return Status::ok();
}


Status Orchestrator::push(Session* session, std::string_view message, std::string* reply) {
  Impl& im = *impl_;
  std::string local_reply;
  if (reply == nullptr) reply = &local_reply;
  auto refuse = [&](const Status& s) {
    ++im.refused[static_cast<size_t>(-static_cast<int>(s.code())) % im.refused.size()];
    if (s.code() != Code::kClosed && s.code() != Code::kStorage) {
      store_->write(Stmt::kInsertAudit,
                    {now_ms(), Value::text_or_null(session ? session->principal().client : ""),
                     code_name(s.code()), Value::text_or_null(s.field()),
                     Value::text_or_null(s.rule()),
                     s.code() == Code::kDenied ? Value(s.message()) : Value()},
                    0);
      // Audit rows ride along the next commit; a client sending nothing but
      // refused messages must not make them pile up in memory.
      if (store_->durability() != Durability::kAsync &&
          ++im.audit_since_commit >= kAuditFlushRows) {
        im.audit_since_commit = 0;
        store_->flush();
      }
    }
    refusal_reply(s, reply);
    return s;
  };
  if (session == nullptr) {
    return refuse(Status::error(Code::kInvalidArgument, "session is null"));
  }
  if (session->closed_) return refuse(Status::error(Code::kClosed, "the session is closed"));
  if (in_engine_callback()) {
    return refuse(Status::error(Code::kInvalidArgument,
                                "baton_push cannot be called from inside a callback"));
  }

  Event& ev = tls_event;
  bool suspicious = false;
  Status s = im.validator.validate(message, &ev, &suspicious);
  if (!s) return refuse(s);
  if (suspicious) {
    ++im.suspicious;
    store_->write(Stmt::kInsertAudit,
                  {now_ms(), Value::text_or_null(session->principal().client), "flagged",
                   Value(), "pattern", Value()},
                  0);
  }
  const std::string& client = session->principal().client;
  if (!ev.client.empty() && ev.client != client) {
    return refuse(Status::error(
        Code::kDenied,
        fmt::format("field \"client\" is \"{}\" but the session belongs to client \"{}\"",
                    ev.client, client),
        "client", "session"));
  }
  s = im.access.authorize(session->principal(), ev.type, ev.run);
  if (!s) return refuse(s);
  int64_t now = now_ms();
  if (im.rate) {
    int64_t wait = im.rate->admit(client, now);
    if (wait > 0) {
      return refuse(Status::rate_limited(
          fmt::format("client \"{}\" is over the rate limit; retry after {} ms", client, wait),
          wait));
    }
  }

  std::unique_lock<BriefRecursiveMutex> lock(im.mu);
  if (im.closed) return refuse(Status::error(Code::kClosed, "the engine is closed"));
  // A commit that failed in the background (async durability) dropped events
  // the state already holds: rebuild the state from the log first.
  bool reloaded = false;
  Status r = reload_if_stale(im, store_.get(), &reloaded);
  if (!r) return refuse(r);
  if (reloaded) {
    // The reload parsed stored events with this thread's parser, which `ev`
    // points into: read the message again (same bytes, same verdicts).
    r = im.validator.validate(message, &ev);
    if (!r) return refuse(r);
  }
  // A shared log: hold its lock from here to the commit, having applied what
  // other engines appended, so this event is decided on the whole log.
  const bool shared = store_->shared();
  LogLockRelease log_lock{store_.get()};
  if (shared) {
    Status l = sync_shared_log(im, store_.get());
    if (!l) return refuse(l);
    log_lock.held = true;
    // The catch-up parsed stored events with this thread's parser too.
    l = im.validator.validate(message, &ev);
    if (!l) return refuse(l);
  }

  if (ev.seq > 0) {
    auto hw = im.client_hw.find(client);
    if (hw != im.client_hw.end() && ev.seq <= hw->second) {
      ++im.duplicates;
      reply->assign("{\"ok\":true,\"dup\":true");
      // A claim sent again (its reply was lost) gets the specs it was granted.
      if (ev.type == EventType::kQueueClaim) {
        im.scheduler.regranted_reply(*im.state, client, ev, now, reply);
      }
      reply->push_back('}');
      return Status::ok();
    }
  }

  std::string_view stored_json = ev.raw;
  PluginEvent pev(&ev, stored_json, 0);
  for (PluginEntry& p : im.plugins) {
    if (!p.filter || !(p.mask & event_type_bit(ev.type))) continue;
    pev.set_filter_stage(&tls_replacement);
    Status f = call_plugin(p, [&] { return p.plugin->filter(pev); });
    if (!f) {
      if (f.code() == Code::kRejected) {
        return refuse(Status::error(Code::kRejected,
                                    fmt::format("plugin \"{}\" rejected the event", p.name),
                                    "", "filter"));
      }
      return refuse(Status::error(
          Code::kRejected,
          fmt::format("plugin \"{}\" failed ({}), so the event is refused", p.name, f.message()),
          "", "filter_failed"));
    }
    if (pev.replaced()) {
      // Validate the rewrite as if a client had sent it; it lives in a second
      // buffer because the first one holds views of the original.
      std::string rewritten = std::move(tls_replacement);
      EventType before = ev.type;
      std::string run_before(ev.run);
      int64_t seq_before = ev.seq;
      Status v = im.validator.validate(rewritten, &ev);
      if (!v) {
        return refuse(Status::error(
            Code::kRejected,
            fmt::format("plugin \"{}\" rewrote the event into an invalid one: {}", p.name,
                        v.message()),
            v.field(), "filter_rewrite"));
      }
      if (ev.type != before || ev.run != run_before || ev.seq != seq_before) {
        return refuse(Status::error(
            Code::kRejected,
            fmt::format("plugin \"{}\" may not change an event's type, run or seq", p.name), "",
            "filter_rewrite"));
      }
      tls_replacement = std::move(rewritten);
      stored_json = tls_replacement;
      pev.rebind(&ev, stored_json);
    }
  }
  pev.set_filter_stage(nullptr);

  // A run finished before a restart is only in the store; learn it there so
  // that late messages (and a second run.start) are refused as finished.
  if (!ev.run.empty() && im.state->find(ev.run) == nullptr && !im.state->is_finished(ev.run)) {
    bool finished = false;
    s = store_->read("SELECT 1 FROM runs WHERE run = ? AND status != 'running'", {ev.run},
                     [&](const Row&) {
                       finished = true;
                       return false;
                     });
    if (!s) return refuse(s);
    if (finished) im.state->mark_finished(ev.run);
  }

  if (im.scheduler.answer_finished(ev, *im.state, reply)) return Status::ok();

  int64_t seq = im.next_seq;
  QueueContext qctx{client, now, seq, {}};
  s = im.scheduler.admit(ev, *im.state, qctx, store_.get());
  if (!s) return refuse(s);
  ApplyResult applied;
  s = im.state->apply(ev, now, seq, &applied);
  if (!s) return refuse(s);
  ++im.next_seq;
  // Every row of this event goes into one commit (see WriteGroup).
  std::optional<WriteGroup> group(std::in_place, store_.get());
  im.scheduler.apply(ev, *im.state, &applied, qctx, store_.get());
  if (!im.scheduler.log_fields().empty()) {
    // The log keeps what the queue decided beside the message that asked.
    tls_recorded.assign(stored_json);
    tls_recorded.insert(tls_recorded.rfind('}'), im.scheduler.log_fields());
    stored_json = tls_recorded;
    pev.rebind(&ev, stored_json);
  }

  store_->write(Stmt::kInsertEvent,
                {seq, Value::text_or_null(ev.run), event_type_name(ev.type), Value(client),
                 ev.seq > 0 ? Value(ev.seq) : Value(), ev.has_ts ? Value(ev.ts) : Value(), now,
                 stored_json},
                seq);
  write_derived_rows(store_.get(), ev, applied, seq, now);
  if (ev.seq > 0) {
    im.client_hw[client] = ev.seq;
    store_->write(Stmt::kUpsertClientSeq, {client, ev.seq}, seq);
  }
  group.reset();
  im.state->recycle(std::move(applied.ended_attempt));
  std::string finished_run, finished_status;
  if (applied.run_finished) {
    finished_run = applied.run->id;
    finished_status = run_status_name(applied.run->status);
    im.state->forget(applied.run->id);
  }
  im.scheduler.touch(client, now);

  // Written directly: every accepted event builds this reply.
  char digits[24];
  const auto seq_end = std::to_chars(digits, digits + sizeof digits, seq).ptr;
  reply->assign("{\"ok\":true,\"seq\":");
  reply->append(digits, seq_end);
  if (applied.run_joined) reply->append(",\"joined\":true");
  reply->append(im.scheduler.reply_fields());
  PluginEvent done(&ev, stored_json, seq);
  for (PluginEntry& p : im.plugins) {
    if (!(p.mask & event_type_bit(ev.type))) continue;
    call_plugin(p, [&] {
      p.plugin->annotate_reply(done, reply);
      return Status::ok();
    });
  }
  reply->push_back('}');

  if (store_->durability() != Durability::kAsync) {
    // Other threads apply while this one waits for its commit, and their
    // rows join it (on a shared log, its lock's transaction).
    lock.unlock();
    int64_t commit_start = steady_nanos();
    Status c = store_->commit(seq);
    log_lock.held = false;
    int64_t commit_ms = (steady_nanos() - commit_start) / 1000000;
    lock.lock();
    if (commit_ms >= kSlowCommitMs && im.logger && im.log_min_level <= 2) {
      CallbackScope scope;
      im.logger(2, fmt::format("slow commit: event {} waited {} ms for its commit", seq,
                               commit_ms));
    }
    if (!c) {
      // The batch holding this event is gone; so must be everything the state
      // learned since the last good commit.
      reload_if_stale(im, store_.get());
      return refuse(Status::error(Code::kStorage,
                                  fmt::format("the event was not stored: {}", c.message()), "",
                                  "storage"));
    }
  }
  ++im.accepted;
  for (PluginEntry& p : im.plugins) {
    if (!p.observer || !(p.mask & event_type_bit(ev.type))) continue;
    Status o = call_plugin(p, [&] { return p.plugin->observe(done); });
    if (!o && im.logger && im.log_min_level <= 2) {
      CallbackScope scope;
      im.logger(2, fmt::format("plugin \"{}\" failed to observe event {}: {}", p.name, seq,
                               o.message()));
    }
  }
  if (applied.run_finished && ev.type != EventType::kRunEnd &&
      ev.type != EventType::kRunCancel) {
    observe_run_finished(im, finished_run, finished_status, seq);
  }
  return Status::ok();
}

// A run that completes by itself (its last spec ended) finishes inside the
// event that completed it; observers that act at a run's end (reporters, the
// console summary) are shown a run.end for it, with that event's seq. The log
// keeps only the completing event, which replays to the same end.
void Orchestrator::observe_run_finished(Impl& im, std::string_view run, std::string_view status,
                                        int64_t seq) {
  std::string json;
  JsonWriter w(&json);
  w.begin_object().field("type", "run.end").field("run", run).field("status", status);
  w.end_object();
  Event end;
  if (!im.replay_validator.validate(json, &end)) return;
  PluginEvent pev(&end, json, seq);
  for (PluginEntry& p : im.plugins) {
    if (!p.observer || !(p.mask & event_type_bit(EventType::kRunEnd))) continue;
    call_plugin(p, [&] { return p.plugin->observe(pev); });
  }
}

Status Orchestrator::replay(std::string_view filter_json, const ReplayFn& fn) {
  Impl& im = *impl_;
  // Replay parses stored events with the calling thread's parser, which a
  // callback's own event still points into.
  if (in_engine_callback()) {
    return Status::error(Code::kInvalidArgument,
                         "baton_replay cannot be called from inside a callback");
  }
  std::string run;
  int64_t from_seq = 1;
  uint32_t mask = kAllEventTypes;
  if (filter_json.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (parser.parse(filter_json.data(), filter_json.size()).get(obj) != simdjson::SUCCESS) {
      return Status::error(Code::kInvalidArgument, "replay filter must be a JSON object");
    }
    for (auto field : obj) {
      if (field.key == "run") {
        std::string_view r;
        if (field.value.get(r) != simdjson::SUCCESS) {
          return Status::error(Code::kInvalidArgument, "replay filter \"run\" must be a string");
        }
        run.assign(r);
      } else if (field.key == "from_seq") {
        if (field.value.get(from_seq) != simdjson::SUCCESS || from_seq < 0) {
          return Status::error(Code::kInvalidArgument,
                               "replay filter \"from_seq\" must be a non-negative integer");
        }
      } else if (field.key == "types") {
        simdjson::dom::array types;
        if (field.value.get(types) != simdjson::SUCCESS) {
          return Status::error(Code::kInvalidArgument, "replay filter \"types\" must be an array");
        }
        mask = 0;
        for (auto t : types) {
          std::string_view name;
          EventType type;
          if (t.get(name) != simdjson::SUCCESS || !parse_event_type(name, &type)) {
            return Status::error(Code::kInvalidArgument,
                                 "replay filter \"types\" holds an unknown event type");
          }
          mask |= event_type_bit(type);
        }
      } else {
        return Status::error(Code::kInvalidArgument,
                             fmt::format("unknown replay filter key \"{}\"", field.key));
      }
    }
  }
  Status s = store_->flush();
  if (!s) return s;
  if (!run.empty()) {
    int64_t first = 0;
    s = store_->read("SELECT first_seq FROM runs WHERE run = ?", {run}, [&](const Row& r) {
      first = r.int64(0);
      return false;
    });
    if (!s) return s;
    if (first == 0) return Status::error(Code::kNotFound, fmt::format("run \"{}\" is unknown", run));
    if (from_seq < first) from_seq = first;
  }
  // Collected first: callbacks run without the store's connection held, so a
  // callback may query the engine.
  struct Stored {
    int64_t seq;
    std::string payload;
  };
  std::vector<Stored> batch;
  for (;;) {
    batch.clear();
    s = store_->read(
        "SELECT seq, run, payload, type FROM events WHERE seq >= ? ORDER BY seq LIMIT 1024",
        {from_seq}, [&](const Row& r) {
          from_seq = r.int64(0) + 1;
          if (!run.empty() && r.text(1) != run) return true;
          if (r.text(3) == kSessionCloseType) return true;  // the engine's, not a message
          batch.push_back({r.int64(0), std::string(r.text(2))});
          return true;
        });
    if (!s) return s;
    bool more = false;
    s = store_->read("SELECT 1 FROM events WHERE seq >= ? LIMIT 1", {from_seq},
                     [&](const Row&) {
                       more = true;
                       return false;
                     });
    if (!s) return s;
    for (const Stored& st : batch) {
      Event ev;
      Status v = im.replay_validator.validate(st.payload, &ev);
      if (!v) {
        return Status::error(Code::kStorage,
                             fmt::format("stored event {} does not parse: {}", st.seq, v.message()));
      }
      if (!(mask & event_type_bit(ev.type))) continue;
      PluginEvent pev(&ev, st.payload, st.seq);
      bool go_on;
      {
        CallbackScope scope;
        go_on = fn(pev);
      }
      if (!go_on) return Status::ok();
    }
    if (!more) return Status::ok();
  }
}

}  // namespace baton
