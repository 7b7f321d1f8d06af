// Queue test helpers: claims and replies read back as values.
#ifndef BATON_TESTS_SCHEDULER_QUEUE_HELPERS_H_
#define BATON_TESTS_SCHEDULER_QUEUE_HELPERS_H_

#include <simdjson.h>

#include <string>
#include <vector>

#include "core/helpers.h"

namespace baton::testing {

struct Granted {
  std::string id;
  std::string lease;
  int64_t attempt = 0;
};

// One reply to queue.claim.
struct ClaimReply {
  bool ok = false;
  bool done = false;
  int64_t wait_ms = -1;
  std::vector<Granted> specs;
  std::string raw;
  const std::string& id() const {
    static const std::string none;
    return specs.empty() ? none : specs[0].id;
  }
};

inline ClaimReply parse_claim(const std::string& reply) {
  ClaimReply c;
  c.raw = reply;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reply).get(doc)) return c;
  bool ok = false;
  if (doc["ok"].get(ok) || !ok) return c;
  c.ok = true;
  bool done = false;
  if (!doc["done"].get(done)) c.done = done;
  int64_t wait = 0;
  if (!doc["wait_ms"].get(wait)) c.wait_ms = wait;
  auto read = [&](simdjson::dom::element e) {
    Granted g;
    std::string_view id, lease;
    if (!e["id"].get(id)) g.id = std::string(id);
    if (!e["lease"].get(lease)) g.lease = std::string(lease);
    if (e["attempt"].get(g.attempt)) {}
    c.specs.push_back(g);
  };
  simdjson::dom::element one;
  if (!doc["spec"].get(one)) read(one);
  simdjson::dom::array many;
  if (!doc["specs"].get(many)) {
    for (auto e : many) read(e);
  }
  return c;
}

// A manual-clock engine with queue-mode conveniences.
struct QueueEngine : Engine {
  explicit QueueEngine(const std::string& options = R"({"clock":"manual"})") : Engine(options) {}

  void at(int64_t t) {
    Status s = engine->clock_set(t);
    if (!s) throw std::runtime_error("clock: " + s.message());
  }
  ClaimReply claim(const std::string& worker, const std::string& run,
                   const std::string& extra = "") {
    return parse_claim(
        push(worker, fmt::format(R"({{"type":"queue.claim","run":"{}"{}}})", run, extra)));
  }
  Code end(const std::string& worker, const std::string& run, const Granted& g,
           const std::string& status, double duration_ms = -1, std::string* reply = nullptr) {
    Code code;
    std::string extra = duration_ms >= 0 ? fmt::format(R"(,"duration_ms":{})", duration_ms) : "";
    std::string r = push(worker,
                         fmt::format(R"({{"type":"spec.end","run":"{}","spec":"{}","lease":"{}","status":"{}"{}}})",
                                     run, g.id, g.lease, status, extra),
                         &code);
    if (reply) *reply = r;
    return code;
  }
  // The plan JSON for ids, with optional estimates (-1: none).
  static std::string plan(const std::vector<std::string>& ids,
                          const std::vector<int64_t>& estimates = {}) {
    std::string out = R"({"specs":[)";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ',';
      out += fmt::format(R"({{"id":"{}")", ids[i]);
      if (i < estimates.size() && estimates[i] >= 0) {
        out += fmt::format(R"(,"estimate_ms":{})", estimates[i]);
      }
      out += '}';
    }
    return out + "]}";
  }
  Code start(const std::string& worker, const std::string& run, const std::string& plan_json,
             const std::string& extra = "", std::string* reply = nullptr) {
    Code code;
    std::string r = push(worker,
                         fmt::format(R"({{"type":"run.start","run":"{}","plan":{}{}}})", run,
                                     plan_json, extra),
                         &code);
    if (reply) *reply = r;
    return code;
  }
  std::string queue(const std::string& run) {
    return query(fmt::format(R"({{"op":"queue","run":"{}"}})", run));
  }
  std::string summary(const std::string& run) {
    return query(fmt::format(R"({{"op":"run","run":"{}"}})", run));
  }
};

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace baton::testing

#endif  // BATON_TESTS_SCHEDULER_QUEUE_HELPERS_H_
