// RAII access to one baton engine through the C ABI, and the database flags
// shared by every subcommand that opens one (--db or --dsn, --durability,
// --options).
#ifndef BATON_TOOLS_ENGINE_H_
#define BATON_TOOLS_ENGINE_H_

#include <string>
#include <string_view>
#include <vector>

#include <baton/baton.h>

#include "cli.h"

namespace baton_cli {

// The option specs of --db, --dsn, --durability and --options, for Args::parse.
std::vector<OptionSpec> db_option_specs();
// Help lines describing the options above.
extern const char* const kDbOptionsHelp;
// `help` with the line "@DB_OPTIONS@" replaced by kDbOptionsHelp.
std::string with_db_help(std::string_view help);

struct DbSettings {
  std::string path;          // SQLite
  std::string dsn;           // PostgreSQL (libpq connection string)
  std::string durability;    // empty: the engine's default
  std::string options_json;  // empty: none
  bool must_exist = true;    // reading commands refuse a path that holds no database

  // Whether the engine opens PostgreSQL: --dsn, or "store":"postgresql" in --options.
  bool postgres() const;
  // For messages: "the database at PATH" or "the PostgreSQL database" (a DSN
  // may hold a password, so it is never printed).
  std::string describe() const;
};

// Reads --db or --dsn (one is required, unless --options names the store),
// --durability and --options from parsed flags.
DbSettings db_settings_from(const Args& args, std::string_view command, bool must_exist);
// Throws the usage error of `command` when `db` names no database, or two.
void check_db_choice(const DbSettings& db, std::string_view command);
// The options JSON given to baton_open: --options with path/durability set.
std::string engine_options_json(const DbSettings& db);

// A buffer returned by baton, released with baton_free.
class BatonString {
 public:
  BatonString() = default;
  ~BatonString() { baton_free(ptr_); }
  BatonString(const BatonString&) = delete;
  BatonString& operator=(const BatonString&) = delete;
  char** out() { return &ptr_; }
  size_t* out_len() { return &len_; }
  std::string_view view() const { return ptr_ ? std::string_view(ptr_, len_) : std::string_view(); }

 private:
  char* ptr_ = nullptr;
  size_t len_ = 0;
};

// The exit code and error that a baton status maps to, for messages naming
// what was being done ("opening the database at x.db"). `postgres`: the
// engine's database is PostgreSQL, which changes the advice on storage errors.
CliError status_error(int status, std::string_view doing, bool postgres = false);

class Engine {
 public:
  explicit Engine(const DbSettings& db);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  baton_engine* get() const { return engine_; }
  // Runs a query; throws CliError on refusal. Returns the answer JSON.
  std::string query(std::string_view request_json) const;
  // Flushes and closes now (the destructor does it otherwise); throws on failure.
  void close();

 private:
  baton_engine* engine_ = nullptr;
  std::string description_;
  bool postgres_ = false;
};

// Routes baton's logger to stderr at `level` ("debug", "info", "warn",
// "error"; "off" installs nothing). Throws a usage error on another name.
void install_stderr_logger(baton_engine* engine, std::string_view level);
// Parses a --log level name into BATON_LOG_*; -1 for "off".
int parse_log_level(std::string_view level);

}  // namespace baton_cli

#endif  // BATON_TOOLS_ENGINE_H_
