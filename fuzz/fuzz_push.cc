// fuzz_push: one session's life, as a host would drive it.
//
// The input is split into lines. Each line is a step on one engine with a
// manual clock (fresh per input, so a crash replays from its file alone):
//
//   @<digits>   advance the clock by that many milliseconds (fires timeouts,
//               lease expiries and drained cancels)
//   ?<json>     a query, both as the engine and on behalf of the session
//   !<digit>    switch to client ci-<digit> (opened on first use), or close
//               it when the digit is odd and it is already open
//   anything    pushed as one message from the current session
//
// After the last line every run the input named is queried and exported in
// each format, the engine is flushed and its log rebuilt into a fresh store:
// every read path sees what the pushes wrote.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "baton/event.h"
#include "baton/orchestrator.h"
#include "baton/store.h"
#include "baton/validator.h"

namespace {

constexpr int64_t kStartMs = 1700000000000;
constexpr size_t kMaxRunsExported = 4;
constexpr int kClients = 10;

std::unique_ptr<baton::Orchestrator> open_engine() {
  baton::EngineOptions options;
  const baton::Status parsed = baton::EngineOptions::from_json(
      R"({"clock":"manual","session_grace_ms":500,)"
      R"("rate_limit":{"per_client":{"events":1000,"per_ms":1000,"burst":200}}})",
      &options);
  if (!parsed) std::abort();
  std::unique_ptr<baton::Orchestrator> engine;
  if (!baton::Orchestrator::open(options, &engine)) std::abort();
  if (!engine->clock_set(kStartMs)) std::abort();
  return engine;
}

int64_t parse_step(std::string_view digits) {
  int64_t step = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') break;
    step = step * 10 + (c - '0');
    if (step > 100000000) break;  // about a day: enough to expire anything
  }
  return step;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<baton::Orchestrator> engine = open_engine();
  std::unique_ptr<baton::Session> sessions[kClients];
  int current = 0;
  auto session = [&](int index) {
    if (!sessions[index]) {
      const std::string credentials = "{\"client\":\"ci-" + std::to_string(index) + "\"}";
      if (!engine->open_session(credentials, &sessions[index])) std::abort();
    }
    return sessions[index].get();
  };

  const baton::EventValidator validator;
  std::set<std::string> runs;
  std::string reply;
  std::string answer;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t begin = 0;
  while (begin <= input.size()) {
    size_t end = input.find('\n', begin);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty()) continue;
    if (line[0] == '@') {
      engine->clock_set(engine->now_ms() + parse_step(line.substr(1)));
    } else if (line[0] == '?') {
      engine->query(line.substr(1), &answer);
      engine->query_as(session(current), line.substr(1), &answer);
    } else if (line[0] == '!' && line.size() >= 2 && line[1] >= '0' && line[1] <= '9') {
      const int index = line[1] - '0';
      if (sessions[index] && index % 2 == 1) {
        engine->close_session(sessions[index].get());
        sessions[index].reset();
      }
      current = index;
    } else {
      baton::Event event;
      if (validator.validate(line, &event) && !event.run.empty() &&
          runs.size() < kMaxRunsExported) {
        runs.emplace(event.run);
      }
      engine->push(session(current), line, &reply);
      if (reply.empty() || reply.front() != '{' || reply.back() != '}') std::abort();
    }
  }

  for (const std::string& run : runs) {
    const std::string request = "{\"op\":\"run\",\"run\":" + std::string("\"") + run + "\"}";
    engine->query(request, &answer);
    for (const char* format : {"json", "junit", "ctrf", "html"}) {
      std::string exported;
      engine->export_run(run, format, &exported);
    }
  }
  for (const char* request : {R"({"op":"runs"})", R"({"op":"stats"})", R"({"op":"audit"})"}) {
    engine->query(request, &answer);
  }
  if (engine->flush()) {
    baton::StoreOptions fresh;
    std::unique_ptr<baton::EventStore> rebuilt;
    if (baton::open_sqlite_store(fresh, &rebuilt)) {
      baton::rebuild_from_log(engine->store(), rebuilt.get());
      rebuilt->close();
    }
  }
  for (auto& s : sessions) s.reset();
  engine->close();
  return 0;
}
