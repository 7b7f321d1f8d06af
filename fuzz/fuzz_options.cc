// fuzz_options: baton_open's options, from the bytes as given.
//
// EngineOptions::from_json parses them; when they parse to an in-memory
// engine the same text goes through baton_open, a session pushes a run and
// the engine is queried and closed. Options that would touch the file
// system (a path, plugins that write reports) are parsed but not opened: a
// fuzzer must not scatter files, and the file paths have fuzz_open_db.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "baton/baton.h"
#include "baton/orchestrator.h"

namespace {

// Plugins that neither write files nor print: safe to open from the fuzzer.
bool plugins_stay_in_memory(const std::string& plugins_json) {
  if (plugins_json.empty()) return true;
  simdjson::dom::parser parser;
  simdjson::dom::object plugins;
  if (parser.parse(plugins_json).get(plugins) != simdjson::SUCCESS) return true;
  for (auto field : plugins) {
    if (field.key != "redact" && field.key != "retry" && field.key != "performance") return false;
  }
  return true;
}

void push(baton_session* session, std::string_view message) {
  char* reply = nullptr;
  size_t reply_len = 0;
  baton_push(session, message.data(), message.size(), &reply, &reply_len);
  if (reply == nullptr || reply_len == 0) std::abort();
  baton_free(reply);
}

void query(baton_engine* engine, const char* request) {
  char* out = nullptr;
  size_t out_len = 0;
  baton_query(engine, request, &out, &out_len);
  baton_free(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  baton::EngineOptions options;
  const baton::Status parsed = baton::EngineOptions::from_json(text, &options);
  if (!parsed) {
    if (parsed.code() != baton::Code::kInvalidArgument || parsed.message().empty()) std::abort();
    return 0;
  }
  if (options.store.path != ":memory:" || !options.store.sqlite_vfs.empty() ||
      !plugins_stay_in_memory(options.plugins_json)) {
    return 0;
  }

  baton_engine* engine = nullptr;
  // A NUL in the bytes ends the C string early, as it would for any host.
  if (baton_open(text.c_str(), &engine) != BATON_OK) return 0;
  if (options.manual_clock) baton_clock_set(engine, 1700000000000);
  baton_session* session = nullptr;
  if (baton_session_open(engine, R"({"client":"ci-1","token":"fuzz-token"})", &session) ==
      BATON_OK) {
    push(session, R"({"type":"run.start","run":"r1","name":"nightly","config":{"retries":1}})");
    push(session, R"({"type":"test.start","run":"r1","id":"t1","name":"adds"})");
    push(session, R"({"type":"test.end","run":"r1","id":"t1","status":"failed",)"
                  R"("error":{"message":"expected 2"}})");
    push(session, R"({"type":"test.start","run":"r1","id":"t1","name":"adds","attempt":2})");
    push(session, R"({"type":"test.end","run":"r1","id":"t1","status":"passed","attempt":2})");
    push(session, R"({"type":"run.end","run":"r1","status":"passed"})");
    baton_session_close(session);
  }
  query(engine, R"({"op":"run","run":"r1"})");
  query(engine, R"({"op":"stats"})");
  query(engine, R"({"op":"audit"})");
  baton_close(engine);
  return 0;
}
