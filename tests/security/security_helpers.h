// Helpers for the security tests: an engine driven through its push path,
// replies read back as JSON, and a dump of everything the store holds.
#ifndef BATON_TESTS_SECURITY_SECURITY_HELPERS_H_
#define BATON_TESTS_SECURITY_SECURITY_HELPERS_H_

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "baton/orchestrator.h"
#include "baton/status.h"
#include "baton/store.h"

namespace baton::security_testing {

// A refusal (or success) as the client sees it.
struct Reply {
  Code code = Code::kOk;  // what push returned
  std::string text;       // the reply JSON
  bool ok = false;
  std::string code_name;
  std::string error;
  std::string field;
  std::string rule;
};

inline Reply read_reply(Code code, std::string text) {
  Reply r;
  r.code = code;
  r.text = std::move(text);
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(r.text).get(object) != simdjson::SUCCESS) return r;
  bool ok = false;
  if (object["ok"].get(ok) == simdjson::SUCCESS) r.ok = ok;
  std::string_view text_value;
  if (object["code"].get(text_value) == simdjson::SUCCESS) r.code_name = text_value;
  if (object["error"].get(text_value) == simdjson::SUCCESS) r.error = text_value;
  if (object["field"].get(text_value) == simdjson::SUCCESS) r.field = text_value;
  if (object["rule"].get(text_value) == simdjson::SUCCESS) r.rule = text_value;
  return r;
}

struct TestEngine {
  std::unique_ptr<Orchestrator> engine;
  std::map<std::string, std::unique_ptr<Session>> sessions;

  explicit TestEngine(const std::string& options = R"({"clock":"manual"})") {
    EngineOptions parsed;
    Status s = EngineOptions::from_json(options, &parsed);
    if (!s) throw std::runtime_error("options: " + s.message());
    s = Orchestrator::open(parsed, &engine);
    if (!s) throw std::runtime_error("open: " + s.message());
    if (parsed.manual_clock) engine->clock_set(1700000000000);
  }

  Session* session(const std::string& client) {
    std::unique_ptr<Session>& slot = sessions[client];
    if (!slot) {
      Status s = engine->open_session("{\"client\":\"" + client + "\"}", &slot);
      if (!s) throw std::runtime_error("session: " + s.message());
    }
    return slot.get();
  }

  Reply push(std::string_view message, const std::string& client = "ci-1") {
    std::string reply;
    Status s = engine->push(session(client), message, &reply);
    return read_reply(s.code(), std::move(reply));
  }

  std::string query(const std::string& request) {
    std::string answer;
    Status s = engine->query(request, &answer);
    if (!s) return "ERROR " + s.message();
    return answer;
  }

  // Every row of every table (and view) the store holds, as text, in a
  // stable order: what "nothing changed" is compared on.
  std::string dump_tables() {
    if (!engine->flush()) throw std::runtime_error("flush failed");
    std::string out;
    std::string names;
    Status s = engine->store()->read(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name", {},
        [&](const Row& row) {
          names += std::string(row.text(0)) + "\n";
          return true;
        });
    if (!s) throw std::runtime_error("listing tables: " + s.message());
    out += names;
    size_t begin = 0;
    while (begin < names.size()) {
      const size_t end = names.find('\n', begin);
      const std::string table = names.substr(begin, end - begin);
      begin = end + 1;
      if (table == "audit") continue;  // refusals are recorded there by design
      // Table names come from sqlite_master of our own schema, never from
      // event data; each is a constant of the schema.
      s = engine->store()->read(table_query(table), {}, [&](const Row& row) {
        for (int c = 0; c < row.columns(); ++c) {
          out += row.is_null(c) ? std::string("NULL") : std::string(row.text(c));
          out += '|';
        }
        out += '\n';
        return true;
      });
      if (!s) throw std::runtime_error("reading " + table + ": " + s.message());
    }
    return out;
  }

  static const char* table_query(const std::string& table) {
    static const std::map<std::string, std::string> kQueries = {
        {"attempts", "SELECT * FROM attempts ORDER BY run, test, attempt"},
        {"clients", "SELECT * FROM clients ORDER BY client"},
        {"events", "SELECT * FROM events ORDER BY seq"},
        {"runs", "SELECT * FROM runs ORDER BY run"},
        {"spec_history", "SELECT * FROM spec_history ORDER BY run, spec, at"},
        {"specs", "SELECT * FROM specs ORDER BY run, spec"},
        {"suites", "SELECT * FROM suites ORDER BY run, suite"},
        {"tests", "SELECT * FROM tests ORDER BY run, test"},
    };
    auto it = kQueries.find(table);
    if (it == kQueries.end()) throw std::runtime_error("a table the tests do not know: " + table);
    return it->second.c_str();
  }
};

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace baton::security_testing

#endif  // BATON_TESTS_SECURITY_SECURITY_HELPERS_H_
