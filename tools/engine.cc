#include "engine.h"

#include <sys/stat.h>

#include <cstdio>
#include <mutex>

#include <fmt/format.h>

#include "json_util.h"

namespace baton_cli {

std::vector<OptionSpec> db_option_specs() {
  return {{"db"}, {"dsn"}, {"durability"}, {"options"}};
}

const char* const kDbOptionsHelp =
    "  --db PATH            the SQLite database file\n"
    "  --dsn DSN            a PostgreSQL database instead, as a libpq connection string\n"
    "                       ('host=db.internal dbname=baton user=baton' or\n"
    "                       'postgresql://...'); every engine on it (e.g. several\n"
    "                       'baton serve') shares its runs and queues. One of --db and\n"
    "                       --dsn is required\n"
    "  --durability MODE    full | normal | async (default: the engine's, normal)\n"
    "  --options JSON       more baton_open options as a JSON object, e.g.\n"
    "                       '{\"limits\":{\"max_message_bytes\":65536}}'; --db, --dsn\n"
    "                       and --durability win over the same keys here\n";

std::string with_db_help(std::string_view help) {
  std::string out(help);
  constexpr std::string_view marker = "@DB_OPTIONS@\n";
  if (auto at = out.find(marker); at != std::string::npos) {
    out.replace(at, marker.size(), kDbOptionsHelp);
  }
  return out;
}

bool DbSettings::postgres() const {
  if (!dsn.empty()) return true;
  if (options_json.empty()) return false;
  auto doc = Document::parse(options_json);
  return doc && doc->root().is_object() && get_string(doc->root(), "store") == "postgresql";
}

std::string DbSettings::describe() const {
  return postgres() ? std::string("the PostgreSQL database") : fmt::format("the database at {}", path);
}

void check_db_choice(const DbSettings& db, std::string_view command) {
  if (!db.path.empty() && !db.dsn.empty()) {
    throw usage_error(command, "--db and --dsn exclude each other: --db names a SQLite file, "
                               "--dsn a PostgreSQL database");
  }
  if (db.path.empty() && !db.postgres()) {
    throw usage_error(command, "--db PATH or --dsn DSN is required (the database baton records "
                               "into)");
  }
}

DbSettings db_settings_from(const Args& args, std::string_view command, bool must_exist) {
  DbSettings db;
  db.path = args.get_or("db", "");
  db.dsn = args.get_or("dsn", "");
  db.options_json = args.get_or("options", "");
  check_db_choice(db, command);
  db.durability = args.get_or("durability", "");
  if (!db.durability.empty() && db.durability != "full" && db.durability != "normal" &&
      db.durability != "async") {
    throw usage_error(command, fmt::format("--durability must be full, normal or async, got '{}'",
                                           db.durability));
  }
  db.must_exist = must_exist;
  return db;
}

std::string engine_options_json(const DbSettings& db) {
  std::vector<std::pair<std::string, std::string>> fields;
  if (!db.dsn.empty()) {
    fields.emplace_back("store", json_quote("postgresql"));
    fields.emplace_back("dsn", json_quote(db.dsn));
  } else if (!db.path.empty()) {
    fields.emplace_back("path", json_quote(db.path));
  }
  if (!db.durability.empty()) fields.emplace_back("durability", json_quote(db.durability));
  return json_object_with(db.options_json, fields, "--options");
}

CliError status_error(int status, std::string_view doing, bool postgres) {
  std::string detail = baton_last_error();
  // Some details already start with the status name; say it once.
  if (std::string prefix = fmt::format("{}: ", baton_status_name(status)); detail.starts_with(prefix)) {
    detail.erase(0, prefix.size());
  }
  std::string message = fmt::format("{} failed: {}{}{}", doing, baton_status_name(status),
                                    detail.empty() ? "" : ": ", detail);
  switch (status) {
    case BATON_EINVALID_ARGUMENT:
      return CliError(kExitUsage, message, "check the flags and the --options JSON");
    case BATON_ESTORAGE:
      if (postgres) {
        return CliError(kExitRuntime, message,
                        "check that the PostgreSQL server of --dsn is running and accepts the "
                        "connection (host, port, dbname, user, password)");
      }
      return CliError(kExitRuntime, message,
                      "check that the database's directory exists and is writable, and that "
                      "the file is a baton database");
    case BATON_EDENIED:
      return CliError(kExitRefused, message, "pass a token whose roles allow this");
    case BATON_ENOT_FOUND:
      return CliError(kExitRefused, message, "list what exists with 'baton runs --db PATH'");
    case BATON_EINTERNAL:
    case BATON_ECLOSED:
      return CliError(kExitRuntime, message);
    default:
      return CliError(kExitRefused, message);
  }
}

Engine::Engine(const DbSettings& db) : description_(db.describe()), postgres_(db.postgres()) {
  struct stat st {};
  if (db.must_exist && !postgres_ && db.path != ":memory:" &&
      ::stat(db.path.c_str(), &st) != 0) {
    throw CliError(kExitRuntime, fmt::format("no database at {}", db.path),
                   "check --db, or record events first with 'baton ingest' or 'baton serve'");
  }
  std::string options = engine_options_json(db);
  int rc = baton_open(options.c_str(), &engine_);
  if (rc != BATON_OK) throw status_error(rc, fmt::format("opening {}", description_), postgres_);
}

Engine::~Engine() {
  if (engine_) baton_close(engine_);
}

void Engine::close() {
  baton_engine* e = engine_;
  engine_ = nullptr;
  int rc = baton_close(e);
  if (rc != BATON_OK) throw status_error(rc, fmt::format("closing {}", description_), postgres_);
}

std::string Engine::query(std::string_view request_json) const {
  std::string request(request_json);
  BatonString out;
  int rc = baton_query(engine_, request.c_str(), out.out(), out.out_len());
  if (rc != BATON_OK) throw status_error(rc, fmt::format("query {}", request), postgres_);
  return std::string(out.view());
}

int parse_log_level(std::string_view level) {
  if (level == "debug") return BATON_LOG_DEBUG;
  if (level == "info") return BATON_LOG_INFO;
  if (level == "warn") return BATON_LOG_WARN;
  if (level == "error") return BATON_LOG_ERROR;
  if (level == "off") return -1;
  throw CliError(kExitUsage,
                 fmt::format("--log must be debug, info, warn, error or off, got '{}'", level));
}

namespace {

std::mutex& stderr_mutex() {
  static std::mutex m;
  return m;
}

void log_to_stderr(void*, int level, const char* message) {
  static const char* const names[] = {"debug", "info", "warn", "error"};
  const char* name = level >= 0 && level <= 3 ? names[level] : "log";
  std::lock_guard lock(stderr_mutex());
  std::fprintf(stderr, "baton[%s]: %s\n", name, message);
}

}  // namespace

void install_stderr_logger(baton_engine* engine, std::string_view level) {
  int min_level = parse_log_level(level);
  if (min_level < 0) return;
  int rc = baton_set_logger(engine, log_to_stderr, min_level, nullptr);
  if (rc != BATON_OK) throw status_error(rc, "installing the logger");
}

}  // namespace baton_cli
