// SQL- and script-looking content: stored verbatim through bound parameters
// (no table is ever touched by it), and the `limits.patterns` policy notes it
// in the audit (flag, the default), refuses it (reject) or ignores it (off)
// while legitimate test names pass under every policy.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <simdjson.h>

#include "security_helpers.h"

using baton::Code;
using baton::security_testing::contains;
using baton::security_testing::Reply;
using baton::security_testing::TestEngine;

namespace {

// JSON string literal for `text` (quotes, backslashes and controls escaped).
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[(c >> 4) & 0xF]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

const std::vector<std::string> kInjections = {
    "'); DROP TABLE events;--",
    "x' OR '1'='1",
    "\"; DELETE FROM runs; --",
    "Robert'); DROP TABLE students;--",
    "1' UNION SELECT detail FROM audit --",
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
};

const std::vector<std::string> kLegitimate = {
    "renders <iframe> embeds",
    "O'Brien can place an order",
    "select all from the dropdown",
    "union of two sets is commutative",
    "a = b; c = d",
    "Tom's and Jerry's scores",
    "parses key='value' pairs",
    "shows a <b>bold</b> label",
    "email: someone@example.com",
    "drop table rows in the grid view",
    "handles 1=1 in arithmetic",
    "update settings; then reload",
};

std::vector<std::string> table_names(TestEngine& e) {
  std::vector<std::string> names;
  baton::Status s = e.engine->store()->read(
      "SELECT name FROM sqlite_master ORDER BY name", {}, [&](const baton::Row& row) {
        names.emplace_back(row.text(0));
        return true;
      });
  REQUIRE(s.is_ok());
  return names;
}

int64_t stats_number(TestEngine& e, const char* key) {
  const std::string stats = e.query(R"({"op":"stats"})");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(stats).get(root) == simdjson::SUCCESS);
  int64_t value = -1;
  REQUIRE(root[key].get(value) == simdjson::SUCCESS);
  return value;
}

// Rows of the audit with code "flagged" and rule "pattern".
int flagged_rows(TestEngine& e) {
  const std::string audit = e.query(R"({"op":"audit","limit":100000})");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(audit).get(root) == simdjson::SUCCESS);
  int rows = 0;
  for (simdjson::dom::element row : root["audit"].get_array()) {
    std::string_view code, rule;
    if (row["code"].get(code) == simdjson::SUCCESS && code == "flagged") {
      CHECK(row["rule"].get(rule) == simdjson::SUCCESS);
      CHECK(rule == "pattern");
      ++rows;
    }
  }
  return rows;
}

std::string test_start(const std::string& run, int i, const std::string& name) {
  return "{\"type\":\"test.start\",\"run\":" + json_string(run) + ",\"id\":\"t" + std::to_string(i) +
         "\",\"name\":" + json_string(name) + "}";
}

}  // namespace

TEST_CASE("SQL-looking ids and names are stored verbatim and every table survives") {
  TestEngine e;
  const std::vector<std::string> tables = table_names(e);
  REQUIRE(tables.size() >= 8);

  const std::string run = "r'); DROP TABLE runs;--";
  std::vector<std::string> pushed;
  pushed.push_back("{\"type\":\"run.start\",\"run\":" + json_string(run) +
                   ",\"name\":\"'); DROP TABLE events;--\"}");
  const std::string suite = "s' OR '1'='1";
  pushed.push_back("{\"type\":\"suite.start\",\"run\":" + json_string(run) + ",\"id\":" +
                   json_string(suite) + ",\"name\":\"x'; DELETE FROM suites; --\"}");
  for (size_t i = 0; i < kInjections.size(); ++i) {
    pushed.push_back(test_start(run, static_cast<int>(i), kInjections[i]));
    pushed.push_back("{\"type\":\"test.end\",\"run\":" + json_string(run) + ",\"id\":\"t" +
                     std::to_string(i) + "\",\"status\":\"failed\",\"error\":{\"message\":" +
                     json_string(kInjections[i]) + "}}");
  }
  for (const std::string& message : pushed) {
    Reply r = e.push(message);
    INFO(message << " -> " << r.text);
    REQUIRE(r.code == Code::kOk);
  }

  CHECK(table_names(e) == tables);
  // The log holds each message byte for byte.
  std::vector<std::string> stored;
  REQUIRE(e.engine->replay("", [&](const baton::PluginEvent& ev) {
    stored.emplace_back(ev.json());
    return true;
  }).is_ok());
  CHECK(stored == pushed);
  // The derived rows hold the names verbatim, found by exact match.
  for (size_t i = 0; i < kInjections.size(); ++i) {
    int found = 0;
    REQUIRE(e.engine->store()
                ->read("SELECT COUNT(*) FROM attempts WHERE run = ? AND name = ? AND "
                       "error_message = ?",
                       {run, kInjections[i], kInjections[i]},
                       [&](const baton::Row& row) {
                         found = static_cast<int>(row.int64(0));
                         return false;
                       })
                .is_ok());
    INFO(kInjections[i]);
    CHECK(found == 1);
  }
  const std::string summary = e.query("{\"op\":\"run\",\"run\":" + json_string(run) + "}");
  CHECK(contains(summary, "\"tests\":" + std::to_string(kInjections.size())));
  CHECK(contains(summary, "\"name\":\"'); DROP TABLE events;--\""));
  // The tests query reads them back as they were sent.
  const std::string tests = e.query("{\"op\":\"tests\",\"run\":" + json_string(run) + "}");
  for (const std::string& name : kInjections) CHECK(contains(tests, json_string(name)));
  // The default policy flags, and refuses nothing.
  CHECK(flagged_rows(e) > 0);
}

TEST_CASE("limits.patterns: flag notes in the audit, reject refuses, off ignores") {
  SECTION("flag (the default) accepts and records code flagged, rule pattern") {
    TestEngine e;
    REQUIRE(e.push(R"({"type":"run.start","run":"r"})").code == Code::kOk);
    int i = 0;
    for (const std::string& name : kLegitimate) {
      Reply r = e.push(test_start("r", i++, name));
      INFO(name << " -> " << r.text);
      CHECK(r.code == Code::kOk);
    }
    CHECK(flagged_rows(e) == 0);
    CHECK(stats_number(e, "flagged") == 0);
    for (const std::string& name : kInjections) {
      Reply r = e.push(test_start("r", i++, name));
      INFO(name << " -> " << r.text);
      CHECK(r.code == Code::kOk);
    }
    CHECK(flagged_rows(e) == static_cast<int>(kInjections.size()));
    CHECK(stats_number(e, "flagged") == static_cast<int64_t>(kInjections.size()));
    // The audit never copies the content it flagged.
    const std::string audit = e.query(R"({"op":"audit","limit":100000})");
    CHECK_FALSE(contains(audit, "DROP TABLE"));
    CHECK_FALSE(contains(audit, "<script>"));
  }
  SECTION("reject refuses with invalid, rule pattern, naming the field") {
    TestEngine e(R"({"clock":"manual","limits":{"patterns":"reject"}})");
    REQUIRE(e.push(R"({"type":"run.start","run":"r"})").code == Code::kOk);
    int i = 0;
    for (const std::string& name : kLegitimate) {
      Reply r = e.push(test_start("r", i++, name));
      INFO(name << " -> " << r.text);
      CHECK(r.code == Code::kOk);
    }
    for (const std::string& name : kInjections) {
      Reply r = e.push(test_start("r", i++, name));
      INFO(name << " -> " << r.text);
      CHECK(r.code == Code::kInvalid);
      CHECK(r.rule == "pattern");
      CHECK(r.field == "name");
      CHECK(contains(r.error, "name"));
    }
    CHECK(contains(e.query(R"({"op":"run","run":"r"})"),
                   "\"tests\":" + std::to_string(kLegitimate.size())));
  }
  SECTION("off accepts everything and records nothing") {
    TestEngine e(R"({"clock":"manual","limits":{"patterns":"off"}})");
    REQUIRE(e.push(R"({"type":"run.start","run":"r"})").code == Code::kOk);
    int i = 0;
    for (const std::string& name : kInjections) {
      CHECK(e.push(test_start("r", i++, name)).code == Code::kOk);
    }
    CHECK(flagged_rows(e) == 0);
    CHECK(stats_number(e, "flagged") == 0);
  }
}
