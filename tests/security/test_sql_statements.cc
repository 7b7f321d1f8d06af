// Every SQL statement baton runs is constant text with bound parameters.
//
// The rule (docs/security.md): the SQL argument of sqlite3_prepare*,
// sqlite3_exec, the store's exec(), and every EventStore::read()/execute()
// call is built only from string literals and named constants (kSomething,
// by the project's naming), possibly concatenated, indexed, wrapped in
// std::string()/c_str()/data(), or formatted with fmt::format from those
// alone (the schema migration's "PRAGMA user_version={}" with kSchemaVersion
// is the case that needs it: PRAGMAs take no parameters). A variable in that
// expression could carry event data into the statement, so it fails here.
// Inside src/store/ the store forwards its callers' `sql`, which is checked
// at those call sites.
//
// This test scans every .cc under src/ and fails on a statement that breaks
// the rule, naming file, line and the offending identifier. It tests its own
// scanner on examples first, so a scanner that finds nothing cannot pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Call {
  std::string callee;
  size_t line = 0;
  std::string sql;  // the SQL argument's text
};

struct Violation {
  size_t line = 0;
  std::string callee;
  std::string reason;
};

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Blanks comments (keeping newlines, so line numbers hold) and leaves string
// and character literals as they are.
std::string strip_comments(std::string_view src) {
  std::string out(src);
  size_t i = 0;
  while (i < out.size()) {
    if (out[i] == 'R' && i + 1 < out.size() && out[i + 1] == '"' && (i == 0 || !is_ident(out[i - 1]))) {
      const size_t open = out.find('(', i + 2);
      if (open == std::string::npos) break;
      const std::string close = ")" + out.substr(i + 2, open - i - 2) + "\"";
      const size_t end = out.find(close, open);
      i = end == std::string::npos ? out.size() : end + close.size();
    } else if (out[i] == '"' || out[i] == '\'') {
      const char quote = out[i++];
      while (i < out.size() && out[i] != quote) i += out[i] == '\\' ? 2 : 1;
      ++i;
    } else if (out.compare(i, 2, "//") == 0) {
      while (i < out.size() && out[i] != '\n') out[i++] = ' ';
    } else if (out.compare(i, 2, "/*") == 0) {
      const size_t end = out.find("*/", i + 2);
      const size_t stop = end == std::string::npos ? out.size() : end + 2;
      for (; i < stop; ++i) {
        if (out[i] != '\n') out[i] = ' ';
      }
    } else {
      ++i;
    }
  }
  return out;
}

// Skips a literal starting at text[i]; returns the index after it.
size_t skip_literal(std::string_view text, size_t i) {
  if (text[i] == 'R' && i + 1 < text.size() && text[i + 1] == '"') {
    const size_t open = text.find('(', i + 2);
    const std::string close = ")" + std::string(text.substr(i + 2, open - i - 2)) + "\"";
    const size_t end = text.find(close, open);
    return end == std::string_view::npos ? text.size() : end + close.size();
  }
  const char quote = text[i++];
  while (i < text.size() && text[i] != quote) i += text[i] == '\\' ? 2 : 1;
  return std::min(text.size(), i + 1);
}

bool starts_literal(std::string_view text, size_t i) {
  if (text[i] == '"' || text[i] == '\'') return true;
  return text[i] == 'R' && i + 1 < text.size() && text[i + 1] == '"' &&
         (i == 0 || !is_ident(text[i - 1]));
}

// The top-level arguments of the call whose '(' is at text[open].
std::vector<std::string> arguments(std::string_view text, size_t open) {
  std::vector<std::string> args;
  int depth = 0;
  size_t begin = open + 1;
  for (size_t i = open; i < text.size();) {
    if (starts_literal(text, i)) {
      i = skip_literal(text, i);
      continue;
    }
    const char c = text[i];
    if (c == '(' || c == '{' || c == '[') {
      ++depth;
    } else if (c == ')' || c == '}' || c == ']') {
      if (--depth == 0) {
        args.emplace_back(text.substr(begin, i - begin));
        return args;
      }
    } else if (c == ',' && depth == 1) {
      args.emplace_back(text.substr(begin, i - begin));
      begin = i + 1;
    }
    ++i;
  }
  return args;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Which argument holds the SQL, by callee; -1 when the call is not SQL.
int sql_argument(std::string_view callee, const std::vector<std::string>& args,
                 bool member_call) {
  if (callee.rfind("sqlite3_prepare", 0) == 0 || callee == "sqlite3_exec") return 1;
  // libpq: the command text, and the PostgreSQL store's wrappers of it.
  if (callee == "PQexec" || callee == "PQexecParams" || callee == "PQsendQuery" ||
      callee == "PQsendQueryParams") {
    return 1;
  }
  if (callee == "PQprepare") return 2;
  if (callee == "send_sql") return 0;
  if (member_call && (callee == "exec" || callee == "prepared")) return 0;
  if (!member_call && callee == "exec") return args.size() == 1 ? 0 : -1;
  if (member_call && (callee == "read" || callee == "execute")) {
    // EventStore::read/execute(sql, {params...}, ...): the braced parameter
    // list tells them from other read() functions.
    if (args.size() >= 2 && trim(args[1]).rfind('{', 0) == 0) return 0;
  }
  return -1;
}

std::vector<Call> find_calls(std::string_view source) {
  const std::string text = strip_comments(source);
  std::vector<Call> calls;
  for (size_t i = 0; i < text.size();) {
    if (starts_literal(text, i)) {
      i = skip_literal(text, i);
      continue;
    }
    if (!is_ident(text[i]) || (i > 0 && is_ident(text[i - 1]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && is_ident(text[end])) ++end;
    const std::string name = text.substr(i, end - i);
    size_t open = end;
    while (open < text.size() && std::isspace(static_cast<unsigned char>(text[open]))) ++open;
    const bool member_call =
        (i >= 1 && text[i - 1] == '.') || (i >= 2 && text.compare(i - 2, 2, "->") == 0);
    // A definition (`Status SqliteStore::read(std::string_view sql, ...)`) is
    // not a call: the name follows "::" and a type precedes it.
    const bool qualified = i >= 2 && text.compare(i - 2, 2, "::") == 0;
    if (open < text.size() && text[open] == '(' && !qualified) {
      const std::vector<std::string> args = arguments(text, open);
      const int index = sql_argument(name, args, member_call);
      if (index >= 0 && static_cast<size_t>(index) < args.size()) {
        Call call;
        call.callee = name;
        call.line = static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(i), '\n')) + 1;
        call.sql = trim(args[static_cast<size_t>(index)]);
        calls.push_back(call);
      }
    }
    i = end;
  }
  return calls;
}

bool is_constant_name(std::string_view name) {
  return name.size() >= 2 && name[0] == 'k' && std::isupper(static_cast<unsigned char>(name[1]));
}

// Words that build text without bringing data of their own.
// schema_v1() fills a constant template with the dialect's type names;
// numbered_placeholders() rewrites a constant statement's `?` as $1, $2, ...
const std::set<std::string, std::less<>> kBuildingWords = {
    "std",   "string", "string_view", "c_str",      "data",
    "fmt",   "format", "const",       "char",       "schema_v1",
    "SqlDialect", "numbered_placeholders"};

// The position after a top-level '?' of a conditional expression, or 0.
size_t after_condition(std::string_view sql) {
  int depth = 0;
  for (size_t i = 0; i < sql.size();) {
    if (starts_literal(sql, i)) {
      i = skip_literal(sql, i);
      continue;
    }
    if (sql[i] == '(' || sql[i] == '[' || sql[i] == '{') ++depth;
    if (sql[i] == ')' || sql[i] == ']' || sql[i] == '}') --depth;
    if (sql[i] == '?' && depth == 0) return i + 1;
    ++i;
  }
  return 0;
}

// Empty when `sql` is constant; else why not. A conditional picks one of its
// branches, so only the branches must be constant, not the condition.
std::string check_sql(std::string_view sql, bool forwarding_allowed) {
  sql = sql.substr(after_condition(sql));
  int index_depth = 0;
  for (size_t i = 0; i < sql.size();) {
    if (starts_literal(sql, i)) {
      i = skip_literal(sql, i);
      continue;
    }
    const char c = sql[i];
    if (c == '[') ++index_depth;
    if (c == ']') --index_depth;
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < sql.size() && is_ident(sql[i])) ++i;
      continue;
    }
    if (!is_ident(c)) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < sql.size() && is_ident(sql[end])) ++end;
    const std::string_view word = sql.substr(i, end - i);
    i = end;
    // An index into a table of constant statements picks a constant.
    if (index_depth > 0) continue;
    if (is_constant_name(word) || kBuildingWords.count(word) > 0) continue;
    if (forwarding_allowed && word == "sql") continue;
    return "\"" + std::string(word) + "\" is not a constant";
  }
  return {};
}

std::vector<Violation> check_source(std::string_view source, bool forwarding_allowed,
                                    size_t* calls_seen = nullptr) {
  std::vector<Violation> violations;
  const std::vector<Call> calls = find_calls(source);
  if (calls_seen != nullptr) *calls_seen += calls.size();
  for (const Call& call : calls) {
    std::string reason = check_sql(call.sql, forwarding_allowed);
    if (!reason.empty()) violations.push_back({call.line, call.callee, reason + ": " + call.sql});
  }
  return violations;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("the SQL scanner finds statements built from data and passes constant ones") {
  const char* bad[] = {
      R"(s = store_->read("SELECT * FROM runs WHERE run = '" + run + "'", {}, fn);)",
      R"(s = store->read(fmt::format("SELECT * FROM runs WHERE run = '{}'", ev.run), {}, fn);)",
      R"(s = store_->execute(std::string("DELETE FROM events WHERE run = ") + run, {}, &n);)",
      R"(sqlite3_exec(db_, ("DELETE FROM audit WHERE client = '" + client + "'").c_str(), 0, 0, 0);)",
      R"(sqlite3_prepare_v2(db_, query.c_str(), -1, &st, nullptr);)",
      R"(s = exec(full ? "PRAGMA synchronous=FULL" : pragma);)",
      R"(s = exec(fmt::format("PRAGMA user_version={}", version).c_str());)",
      R"(const std::string sql = "SELECT 1"; s = log->read(sql, {seq}, fn);)",
      R"(Result r(PQexec(pg, ("DELETE FROM runs WHERE run = '" + run + "'").c_str()));)",
      R"(PQprepare(pg, name.c_str(), query.c_str(), 0, nullptr);)",
      R"(PQsendQueryParams(pg, text, 0, nullptr, nullptr, nullptr, nullptr, 0);)",
      R"(s = writer_.exec(fmt::format("SET search_path = {}", schema).c_str(), "setting");)",
  };
  for (const char* source : bad) {
    INFO(source);
    size_t seen = 0;
    CHECK(check_source(source, false, &seen).size() == 1);
    CHECK(seen == 1);
  }
  const char* good[] = {
      R"(s = store_->read("SELECT 1 FROM runs WHERE run = ? AND status != 'running'", {ev.run}, fn);)",
      R"(s = store_->read(std::string(kRunColumns) + " WHERE run = ?", {run}, fn);)",
      R"(s = exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str());)",
      R"(s = store_->execute(kDeletes[i], {cutoff}, &n);)",
      R"(s = exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");)",
      R"(sqlite3_prepare_v3(db_, kWriteSql[i], -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);)",
      R"(Result r(PQexec(pg, "SELECT value FROM baton_meta WHERE key = 'schema_version'"));)",
      R"src(s = writer_.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kLogLockKey).c_str(), "locking");)src",
      R"(s = writer_.exec(schema_v1(SqlDialect::kPostgres).c_str(), "creating the schema");)",
      R"src(s = store->read(R"sql(SELECT a, b FROM t WHERE x = ? -- " + run)sql", {x}, fn);)src",
      // Not the store's read: no parameter list.
      R"(Status s = output.read(settings);)",
      // Comments are not code.
      R"(// store->read("SELECT " + run, {}, fn);)",
  };
  for (const char* source : good) {
    INFO(source);
    CHECK(check_source(source, false).empty());
  }
}

TEST_CASE("every SQL statement under src/ is constant text with bound parameters") {
  const std::filesystem::path src = std::filesystem::path(BATON_SOURCE_DIR) / "src";
  REQUIRE(std::filesystem::is_directory(src));
  size_t files = 0;
  size_t calls = 0;
  std::string report;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".cc") continue;
    ++files;
    const std::filesystem::path relative = std::filesystem::relative(entry.path(), src);
    const bool in_store = *relative.begin() == "store";
    for (const Violation& v : check_source(read_file(entry.path()), in_store, &calls)) {
      report += "src/" + relative.string() + ":" + std::to_string(v.line) + ": " + v.callee +
                "(): " + v.reason + "\n";
    }
  }
  INFO(report);
  CHECK(report.empty());
  CHECK(files > 10);
  // Enough statements were seen for the scan to mean something.
  CHECK(calls > 30);
}
