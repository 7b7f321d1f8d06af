// Tokens are secrets: after an engine has seen a real token, wrong tokens,
// a malformed credential and a revoked token, none of them appears in the
// database file, any table, the log, any reply or error, stats or the audit.
// Only digests of configured tokens may be kept.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "baton/access.h"
#include "baton/baton.h"
#include "security_helpers.h"

using baton::security_testing::contains;

namespace {

const std::string kReporterToken = "tok-REPORTER-7d2c91e4b0a64f1f9e3b5a8c0d6e2f41";
const std::string kAdminToken = "tok-ADMIN-0b8e5f3a9c1d47e2a6f4c3b2d1e0f9a8";
const std::vector<std::string> kWrongTokens = {
    "tok-WRONG-5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
    "tok-REPORTER-7d2c91e4b0a64f1f9e3b5a8c0d6e2f4",  // one character short
    "tok-REPORTER-7d2c91e4b0a64f1f9e3b5a8c0d6e2f41x",
    "tok-BROKEN-JSON-1a2b3c4d5e6f7a8b9c0d1e2f3a4b",
};

std::string access_json(bool with_admin) {
  std::string json = R"({"tokens":[{"sha256":")" + baton::sha256_hex(kReporterToken) +
                     R"(","roles":["reporter","viewer"],"runs":"nightly-*","clients":"ci-*"})";
  if (with_admin) {
    json += R"(,{"sha256":")" + baton::sha256_hex(kAdminToken) + R"(","roles":["admin"]})";
  }
  return json + "]}";
}

std::vector<std::string> all_tokens() {
  std::vector<std::string> tokens = kWrongTokens;
  tokens.push_back(kReporterToken);
  tokens.push_back(kAdminToken);
  return tokens;
}

// Everything the host saw: replies, answers, errors.
struct Seen {
  std::string text;
  void take(char* buffer, size_t size) {
    if (buffer != nullptr) text.append(buffer, size);
    baton_free(buffer);
  }
  void error() { text.append(baton_last_error()).push_back('\n'); }
};

void log_to(void* user_data, int level, const char* message) {
  auto* logs = static_cast<std::string*>(user_data);
  logs->append(std::to_string(level)).append(": ").append(message).push_back('\n');
}

int push(baton_session* session, const std::string& message, Seen* seen) {
  char* reply = nullptr;
  size_t reply_len = 0;
  const int rc = baton_push(session, message.data(), message.size(), &reply, &reply_len);
  seen->take(reply, reply_len);
  seen->error();
  return rc;
}

int open_session(baton_engine* engine, const std::string& credentials, baton_session** out,
                 Seen* seen) {
  const int rc = baton_session_open(engine, credentials.c_str(), out);
  seen->error();
  return rc;
}

std::string query(baton_engine* engine, const char* request, Seen* seen) {
  char* out = nullptr;
  size_t out_len = 0;
  REQUIRE(baton_query(engine, request, &out, &out_len) == BATON_OK);
  std::string answer(out, out_len);
  seen->take(out, out_len);
  return answer;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Every value of every table, read straight from the file with SQLite.
std::string every_stored_value(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::vector<std::string> tables;
  sqlite3_stmt* list = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &list,
                             nullptr) == SQLITE_OK);
  while (sqlite3_step(list) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list, 0)));
  }
  sqlite3_finalize(list);
  std::string out;
  for (const std::string& table : tables) {
    // The name is quoted as an identifier; it comes from the file's own
    // catalogue, which this test reads, never from event data.
    std::string sql = "SELECT * FROM \"";
    for (char c : table) {
      if (c == '"') sql.push_back('"');
      sql.push_back(c);
    }
    sql += "\"";
    sqlite3_stmt* rows = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &rows, nullptr) == SQLITE_OK);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(rows); ++c) {
        const unsigned char* text = sqlite3_column_text(rows, c);
        if (text != nullptr) out.append(reinterpret_cast<const char*>(text)).push_back('|');
      }
      out.push_back('\n');
    }
    sqlite3_finalize(rows);
  }
  sqlite3_close(db);
  return out;
}

}  // namespace

TEST_CASE("no token appears in the database, the log, replies, errors, stats or the audit") {
  char dir_template[] = "/tmp/baton-secrets-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::filesystem::path dir(dir_template);
  const std::string db_path = (dir / "baton.db").string();
  const std::string options = R"({"path":")" + db_path +
                              R"(","clock":"manual","durability":"full","access":)" +
                              access_json(true) + "}";
  Seen seen;
  std::string logs;

  baton_engine* engine = nullptr;
  REQUIRE(baton_open(options.c_str(), &engine) == BATON_OK);
  REQUIRE(baton_set_logger(engine, log_to, BATON_LOG_DEBUG, &logs) == BATON_OK);
  REQUIRE(baton_clock_set(engine, 1700000000000) == BATON_OK);

  baton_session* reporter = nullptr;
  REQUIRE(open_session(engine, R"({"client":"ci-1","token":")" + kReporterToken + "\"}",
                       &reporter, &seen) == BATON_OK);
  REQUIRE(push(reporter, R"({"type":"run.start","run":"nightly-1","name":"nightly"})", &seen) ==
          BATON_OK);
  REQUIRE(push(reporter, R"({"type":"test.start","run":"nightly-1","id":"t1","name":"adds"})",
               &seen) == BATON_OK);
  REQUIRE(push(reporter,
               R"({"type":"test.end","run":"nightly-1","id":"t1","status":"passed"})",
               &seen) == BATON_OK);

  // Wrong tokens, each refused at the door.
  for (size_t i = 0; i + 1 < kWrongTokens.size(); ++i) {
    baton_session* session = nullptr;
    CHECK(open_session(engine, R"({"client":"ci-2","token":")" + kWrongTokens[i] + "\"}",
                       &session, &seen) == BATON_EDENIED);
    CHECK(session == nullptr);
  }
  // Malformed credentials that hold a token.
  baton_session* broken = nullptr;
  CHECK(open_session(engine, R"({"client":"ci-2","token":")" + kWrongTokens.back(), &broken,
                     &seen) == BATON_EINVALID_ARGUMENT);
  CHECK(open_session(engine, R"({"client":"ci-2","token":")" + kWrongTokens.back() +
                                 R"(","token":")" + kWrongTokens.back() + "\"}",
                     &broken, &seen) == BATON_EINVALID_ARGUMENT);
  CHECK(open_session(engine, R"({"client":"ci-2","secret":")" + kWrongTokens.back() + "\"}",
                     &broken, &seen) == BATON_EINVALID_ARGUMENT);
  // A real token used by a client outside its scope.
  CHECK(open_session(engine, R"({"client":"laptop","token":")" + kReporterToken + "\"}", &broken,
                     &seen) == BATON_EDENIED);
  // A real token on a run outside its scope.
  CHECK(push(reporter, R"({"type":"run.start","run":"release-1"})", &seen) == BATON_EDENIED);

  // The admin token works, then is revoked: its open session loses its rights
  // at once and it cannot open a new one.
  baton_session* admin = nullptr;
  REQUIRE(open_session(engine, R"({"client":"ops","token":")" + kAdminToken + "\"}", &admin,
                       &seen) == BATON_OK);
  REQUIRE(push(admin, R"({"type":"run.start","run":"release-1"})", &seen) == BATON_OK);
  REQUIRE(baton_access_reload(engine, access_json(false).c_str()) == BATON_OK);
  seen.error();
  CHECK(push(admin, R"({"type":"run.end","run":"release-1"})", &seen) == BATON_EDENIED);
  CHECK(contains(seen.text, "revoked"));
  baton_session* again = nullptr;
  CHECK(open_session(engine, R"({"client":"ops","token":")" + kAdminToken + "\"}", &again,
                     &seen) == BATON_EDENIED);

  // What operators read.
  char* out = nullptr;
  size_t out_len = 0;
  REQUIRE(baton_session_query(reporter, R"({"op":"run","run":"nightly-1"})", &out, &out_len) ==
          BATON_OK);
  seen.take(out, out_len);
  const std::string stats = query(engine, R"({"op":"stats"})", &seen);
  const std::string audit = query(engine, R"({"op":"audit","limit":1000})", &seen);
  CHECK(contains(stats, "\"open_mode\":false"));
  CHECK(contains(audit, "\"rule\":\"unknown\""));
  CHECK(contains(audit, "\"rule\":\"revoked\""));
  CHECK(contains(audit, "\"rule\":\"scope\""));
  CHECK(contains(audit, "\"code\":\"invalid_argument\""));

  baton_session_close(admin);
  baton_session_close(reporter);
  REQUIRE(baton_close(engine) == BATON_OK);

  std::string files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files += read_bytes(entry.path());
  }
  REQUIRE(files.size() > 4096);
  const std::string stored = every_stored_value(db_path);
  REQUIRE(contains(stored, "nightly-1"));
  for (const std::string& token : all_tokens()) {
    INFO("token " << token);
    CHECK_FALSE(contains(files, token));
    CHECK_FALSE(contains(stored, token));
    CHECK_FALSE(contains(logs, token));
    CHECK_FALSE(contains(seen.text, token));
    // Nor a recognisable part of one (a prefix echoed in an error).
    CHECK_FALSE(contains(seen.text, token.substr(0, 16)));
    CHECK_FALSE(contains(logs, token.substr(0, 16)));
    CHECK_FALSE(contains(stored, token.substr(0, 16)));
  }
  std::filesystem::remove_all(dir);
}
