// Recovery: the in-memory state is whatever the log says it is.
#include <simdjson.h>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "orchestrator/engine_impl.h"

namespace baton {

namespace {

// The grace a logged session.close granted (the engine's option may have
// changed since).
int64_t recorded_grace(std::string_view payload) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  int64_t grace = 0;
  if (parser.parse(payload.data(), payload.size()).get(doc) == simdjson::SUCCESS &&
      doc["grace_ms"].get(grace) == simdjson::SUCCESS) {
    return grace;
  }
  return 0;
}

// Applies one logged event to the state and the queues, with the decisions
// recorded beside it. A refusal means the log and the rules disagree.
Status replay_event(const Event& ev, std::string_view payload, std::string_view client,
                    int64_t seq, int64_t at, StateManager* state, Scheduler* scheduler,
                    EventStore* store, ApplyResult* applied) {
  QueueContext ctx{client, at, seq, payload};
  Status a = scheduler->admit(ev, *state, ctx, store);
  if (a) a = state->apply(ev, at, seq, applied);
  if (!a) return a;
  scheduler->apply(ev, *state, applied, ctx, store);
  return Status::ok();
}

// Rows of the queries below: seq, run, received_at, payload, type, client.
// True when the row is a session.close record, which is applied here.
bool replay_session_close(const Row& row, Scheduler* scheduler) {
  if (row.text(4) != kSessionCloseType) return false;
  scheduler->session_closed(row.text(5), row.int64(2), recorded_grace(row.text(3)));
  return true;
}

}  // namespace

Status load_state(EventStore* store, const EventValidator& validator, StateManager* state,
                  Scheduler* scheduler, StringMap<int64_t>* client_hw, int64_t* next_seq) {
  scheduler->reset();
  client_hw->clear();
  Status s = store->read("SELECT client, seq FROM clients", {}, [&](const Row& row) {
    (*client_hw)[std::string(row.text(0))] = row.int64(1);
    return true;
  });
  if (!s) return s;
  int64_t durable = store->durable_seq();
  if (store->shared()) {
    // Other engines append too: the log's end is in the store, not here.
    s = store->read("SELECT COALESCE(MAX(seq), 0) FROM events", {}, [&](const Row& row) {
      durable = row.int64(0);
      return false;
    });
    if (!s) return s;
  }
  if (*next_seq <= durable) *next_seq = durable + 1;

  StringSet unfinished;
  int64_t from_seq = 0;
  s = store->read("SELECT run, first_seq FROM runs WHERE status = 'running' ORDER BY first_seq",
                  {}, [&](const Row& row) {
                    unfinished.emplace(row.text(0));
                    if (from_seq == 0) from_seq = row.int64(1);
                    return true;
                  });
  if (!s || unfinished.empty()) return s;

  Event ev;
  Status apply_error;
  s = store->read(
      "SELECT seq, run, received_at, payload, type, client FROM events WHERE seq >= ? ORDER BY "
      "seq",
      {from_seq}, [&](const Row& row) {
        int64_t at = row.int64(2);
        // The engine's own events have no client and extend no lease.
        bool has_client = !row.is_null(5);
        std::string_view client = row.text(5);
        if (replay_session_close(row, scheduler)) return true;
        // Any accepted message of a client extended its leases, whatever its run.
        if (unfinished.find(row.text(1)) == unfinished.end()) {
          if (has_client) scheduler->touch(client, at);
          return true;
        }
        Status v = validator.validate(row.text(3), &ev);
        if (!v) {
          apply_error = Status::error(
              Code::kStorage, fmt::format("storage: stored event {} does not validate: {}",
                                          row.int64(0), v.message()));
          return false;
        }
        ApplyResult r;
        // Events in the log were applied once; a refusal now would mean the log
        // and the rules disagree, which replay reports instead of hiding. The
        // rows it writes are not kept: the store has them already.
        Status a = replay_event(ev, row.text(3), client, row.int64(0), at, state, scheduler,
                                /*store=*/nullptr, &r);
        if (!a) {
          apply_error = Status::error(
              Code::kStorage,
              fmt::format("storage: stored event {} does not apply: {}", row.int64(0), a.message()));
          return false;
        }
        if (has_client) scheduler->touch(client, at);
        return true;
      });
  if (!s) return s;
  return apply_error;
}

Status catch_up(EventStore* store, const EventValidator& validator, StateManager* state,
                Scheduler* scheduler, StringMap<int64_t>* client_hw, int64_t* next_seq) {
  Event ev;
  Status apply_error;
  Status s = store->read(
      "SELECT seq, run, received_at, payload, type, client, client_seq FROM events WHERE seq >= "
      "? ORDER BY seq",
      {*next_seq}, [&](const Row& row) {
        int64_t seq = row.int64(0);
        int64_t at = row.int64(2);
        bool has_client = !row.is_null(5);
        std::string_view client = row.text(5);
        if (replay_session_close(row, scheduler)) {
          *next_seq = seq + 1;
          return true;
        }
        Status v = validator.validate(row.text(3), &ev);
        ApplyResult r;
        if (v) v = replay_event(ev, row.text(3), client, seq, at, state, scheduler, nullptr, &r);
        if (!v) {
          apply_error = Status::error(
              Code::kStorage,
              fmt::format("storage: event {} of the shared log does not apply here: {}", seq,
                          v.message()));
          return false;
        }
        if (r.run_finished) state->forget(r.run->id);
        if (has_client) {
          scheduler->touch(client, at);
          int64_t client_seq = row.is_null(6) ? 0 : row.int64(6);
          if (client_seq > 0) {
            int64_t& hw = (*client_hw)[std::string(client)];
            if (client_seq > hw) hw = client_seq;
          }
        }
        *next_seq = seq + 1;
        return true;
      });
  if (!s) return s;
  return apply_error;
}

void refusal_reply(const Status& s, std::string* reply) {
  reply->clear();
  JsonWriter w(reply);
  w.begin_object();
  w.field("ok", false);
  w.field("code", code_name(s.code()));
  w.field("error", s.message());
  if (!s.field().empty()) w.field("field", s.field());
  if (!s.rule().empty()) w.field("rule", s.rule());
  if (s.code() == Code::kRateLimited) w.field("retry_after_ms", s.retry_after_ms());
  w.end_object();
}

}  // namespace baton

namespace baton {

Status rebuild_from_log(EventStore* log, EventStore* out) {
  Status s = log->flush();
  if (!s) return s;
  EventValidator validator(Orchestrator::Impl::permissive_limits());
  StateManager state;
  Scheduler scheduler;
  Event ev;
  Status failure;
  s = log->read(
      "SELECT seq, run, type, client, client_seq, client_ts, received_at, payload FROM events "
      "ORDER BY seq",
      {}, [&](const Row& r) {
        int64_t seq = r.int64(0);
        int64_t now = r.int64(6);
        std::string_view client = r.text(3);
        if (r.text(2) == kSessionCloseType) {
          out->write(Stmt::kInsertEvent,
                     {seq, Value(), r.text(2), Value(client), Value(), Value(), now, r.text(7)},
                     seq);
          scheduler.session_closed(client, now, recorded_grace(r.text(7)));
          return true;
        }
        Status v = validator.validate(r.text(7), &ev);
        if (!v) {
          failure = Status::error(Code::kStorage, fmt::format("event {}: {}", seq, v.message()));
          return false;
        }
        ApplyResult applied;
        Status a = replay_event(ev, r.text(7), client, seq, now, &state, &scheduler, out,
                                &applied);
        if (!a) {
          failure = Status::error(Code::kStorage, fmt::format("event {}: {}", seq, a.message()));
          return false;
        }
        out->write(Stmt::kInsertEvent,
                   {seq, r.is_null(1) ? Value() : Value(r.text(1)), r.text(2),
                    r.is_null(3) ? Value() : Value(r.text(3)),
                    r.is_null(4) ? Value() : Value(r.int64(4)),
                    r.is_null(5) ? Value() : Value(r.int64(5)), now, r.text(7)},
                   seq);
        write_derived_rows(out, ev, applied, seq, now);
        if (r.int64(4) > 0 && !r.is_null(3)) {
          out->write(Stmt::kUpsertClientSeq, {r.text(3), r.int64(4)}, seq);
        }
        if (applied.run_finished) state.forget(applied.run->id);
        if (!r.is_null(3)) scheduler.touch(client, now);
        return true;
      });
  if (!s) return s;
  if (!failure) return failure;
  return out->flush();
}

}  // namespace baton
