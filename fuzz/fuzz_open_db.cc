// fuzz_open_db: baton_open on a database file it did not write.
//
// The input is written as the SQLite database file (the corpus holds real
// baton databases, which the fuzzer mutates), then an engine opens it, a
// session pushes a few messages, the engine is queried, exported and closed.
// Refusing the file is fine; crashing, hanging or a sanitizer report is not.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "baton/baton.h"

namespace {

std::string database_path() {
  const char* dir = std::getenv("TMPDIR");
  std::string path = (dir != nullptr && *dir != '\0') ? dir : "/tmp";
  path += "/baton-fuzz-open-db-" + std::to_string(::getpid()) + ".db";
  return path;
}

void remove_database(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::remove((path + suffix).c_str());
  }
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
  static const std::string path = database_path();
  remove_database(path);
  if (std::FILE* file = std::fopen(path.c_str(), "wb")) {
    const bool written = std::fwrite(data, 1, size, file) == size;
    if (std::fclose(file) != 0 || !written) std::abort();
  } else {
    std::abort();
  }

  const std::string options =
      "{\"path\":\"" + path + "\",\"clock\":\"manual\",\"durability\":\"normal\"}";
  baton_engine* engine = nullptr;
  if (baton_open(options.c_str(), &engine) == BATON_OK) {
    baton_clock_set(engine, 1700000000000);
    baton_session* session = nullptr;
    if (baton_session_open(engine, R"({"client":"ci-1"})", &session) == BATON_OK) {
      push(session, R"({"type":"run.start","run":"r1","name":"nightly",)"
                    R"("plan":{"specs":[{"id":"a.spec"},{"id":"b.spec","estimate_ms":20}]}})");
      push(session, R"({"type":"queue.claim","run":"r1"})");
      push(session, R"({"type":"test.start","run":"r1","id":"t1","name":"adds","client":"ci-1","seq":1})");
      push(session, R"({"type":"test.end","run":"r1","id":"t1","status":"passed","seq":2})");
      push(session, R"({"type":"run.end","run":"r1","status":"passed"})");
      baton_session_close(session);
    }
    baton_clock_set(engine, 1700000100000);
    query(engine, R"({"op":"runs"})");
    query(engine, R"({"op":"run","run":"r1"})");
    query(engine, R"({"op":"tests","run":"r1"})");
    query(engine, R"({"op":"queue","run":"r1"})");
    query(engine, R"({"op":"stats"})");
    query(engine, R"({"op":"audit"})");
    char* out = nullptr;
    size_t out_len = 0;
    baton_export(engine, "r1", "junit", &out, &out_len);
    baton_free(out);
    baton_close(engine);
  }
  remove_database(path);
  return 0;
}
