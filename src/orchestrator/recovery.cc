// Recovery: the in-memory state is whatever the log says it is.
#include <fmt/format.h>

#include "common/json_writer.h"
#include "orchestrator/engine_impl.h"

namespace baton {

Status load_state(EventStore* store, const EventValidator& validator, StateManager* state,
                  StringMap<int64_t>* client_hw, int64_t* next_seq) {
  client_hw->clear();
  Status s = store->read("SELECT client, seq FROM clients", {}, [&](const Row& row) {
    (*client_hw)[std::string(row.text(0))] = row.int64(1);
    return true;
  });
  if (!s) return s;
  int64_t durable = store->durable_seq();
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
      "SELECT seq, run, received_at, payload FROM events WHERE seq >= ? ORDER BY seq",
      {from_seq}, [&](const Row& row) {
        if (unfinished.find(row.text(1)) == unfinished.end()) return true;
        Status v = validator.validate(row.text(3), &ev);
        if (!v) {
          apply_error = Status::error(
              Code::kStorage, fmt::format("storage: stored event {} does not validate: {}",
                                          row.int64(0), v.message()));
          return false;
        }
        ApplyResult r;
        // Events in the log were applied once; a refusal now would mean the log
        // and the rules disagree, which replay reports instead of hiding.
        Status a = state->apply(ev, row.int64(2), row.int64(0), &r);
        if (!a) {
          apply_error = Status::error(
              Code::kStorage,
              fmt::format("storage: stored event {} does not apply: {}", row.int64(0), a.message()));
          return false;
        }
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
  Event ev;
  Status failure;
  s = log->read(
      "SELECT seq, run, type, client, client_seq, client_ts, received_at, payload FROM events "
      "ORDER BY seq",
      {}, [&](const Row& r) {
        int64_t seq = r.int64(0);
        Status v = validator.validate(r.text(7), &ev);
        if (!v) {
          failure = Status::error(Code::kStorage, fmt::format("event {}: {}", seq, v.message()));
          return false;
        }
        ApplyResult applied;
        int64_t now = r.int64(6);
        Status a = state.apply(ev, now, seq, &applied);
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
        return true;
      });
  if (!s) return s;
  if (!failure) return failure;
  return out->flush();
}

}  // namespace baton
