#include "serve_config.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "../json_util.h"

namespace baton_cli {

const char* const kServeHelp =
    "usage: baton serve (--db PATH | --dsn DSN) [--port N] [--bind ADDR] [--threads N]\n"
    "                   [--config FILE.json] [--options JSON] [--max-message-bytes N]\n"
    "                   [--origin URL ...] [--idle-timeout-ms N] [--log LEVEL]\n"
    "\n"
    "Runs a WebSocket server embedding one engine. Every connection gets one baton\n"
    "session; each text message is pushed through it and the engine's JSON reply is\n"
    "sent back. Test reporters send events; CI workers ('baton worker') claim specs.\n"
    "\n"
    "Connecting (ws://HOST:PORT/, any path):\n"
    "  Authorization: Bearer TOKEN     the token (when --options configures access)\n"
    "  X-Baton-Client: NAME            the client name, or ?client=NAME in the URL\n"
    "  Without an Authorization header the first message may instead be\n"
    "  {\"type\":\"hello\",\"client\":\"NAME\",\"token\":\"TOKEN\"}; the reply is\n"
    "  {\"ok\":true,\"hello\":true}. A bad token is refused at the handshake with HTTP 401\n"
    "  (or, after a hello, with a refusal reply and close code 1008).\n"
    "  {\"type\":\"query\",\"op\":\"run\",\"run\":ID} (any baton query op) is answered with\n"
    "  {\"ok\":true,\"result\":ANSWER}, with the rights of the connection's token.\n"
    "  A message larger than --max-message-bytes closes the connection with close\n"
    "  code 1009 (message too big). Binary messages are refused; send JSON as text.\n"
    "\n"
    "Plain HTTP on the same port:\n"
    "  GET /healthz       200 {\"ok\":true}\n"
    "  GET /runs/ID       200 the run summary (404 unknown run, 401 bad token)\n"
    "\n"
    "On SIGINT or SIGTERM the server stops accepting, finishes the messages in\n"
    "flight, closes every connection with code 1001, flushes the database and exits 0:\n"
    "every acknowledged event is on disk.\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --port N             TCP port (default 8787); 0 picks a free port. The server\n"
    "                       prints 'listening on ADDR:PORT' on stdout once it accepts\n"
    "  --bind ADDR          address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
    "  --threads N          I/O threads (default 2)\n"
    "  --config FILE        a JSON object with the same settings: db, dsn, durability,\n"
    "                       options, port, bind, threads, max_message_bytes, origins\n"
    "                       (array), idle_timeout_ms, shutdown_timeout_ms, log\n"
    "  --max-message-bytes N  largest accepted message (default 1048576)\n"
    "  --origin URL         a browser Origin allowed to connect (repeatable; '*' for\n"
    "                       any). Browsers from other origins are refused with 403;\n"
    "                       clients that send no Origin are not affected\n"
    "  --idle-timeout-ms N  ping an idle connection, close it when nothing answers\n"
    "                       for N ms (default 60000; 0 disables)\n"
    "  --shutdown-timeout-ms N  how long a stop waits for connections (default 10000)\n"
    "  --log LEVEL          debug | info | warn | error | off (default warn): baton's\n"
    "                       and the server's messages on stderr\n"
    "\n"
    "exit codes: 0 stopped by a signal after a clean flush, 2 usage or config error,\n"
    "3 the port cannot be bound or the database cannot be opened.\n";

std::vector<OptionSpec> serve_option_specs() {
  auto specs = db_option_specs();
  for (const char* name : {"port", "bind", "threads", "config", "max-message-bytes",
                           "idle-timeout-ms", "shutdown-timeout-ms", "log"}) {
    specs.push_back({name});
  }
  specs.push_back({"origin", true, true});
  return specs;
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CliError(kExitUsage, fmt::format("cannot read the config file {}", path),
                   "check --config; it must be a JSON object of serve settings");
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int64_t config_int(simdjson::dom::element value, std::string_view key, int64_t min, int64_t max) {
  if (!value.is_int64() || value.get_int64().value_unsafe() < min ||
      value.get_int64().value_unsafe() > max) {
    throw CliError(kExitUsage,
                   fmt::format("config key \"{}\" must be an integer from {} to {}", key, min, max));
  }
  return value.get_int64().value_unsafe();
}

std::string config_string(simdjson::dom::element value, std::string_view key) {
  if (!value.is_string()) {
    throw CliError(kExitUsage, fmt::format("config key \"{}\" must be a string", key));
  }
  return std::string(value.get_string().value_unsafe());
}

// Applies the config file; flags are applied after it and win.
void apply_config_file(const std::string& path, ServeConfig* cfg, std::string* options_json) {
  std::string text = read_file(path);
  auto doc = Document::parse(text);
  if (!doc || !doc->root().is_object()) {
    throw CliError(kExitUsage, fmt::format("the config file {} is not a JSON object", path));
  }
  for (auto field : as_object(doc->root())) {
    std::string_view key = field.key;
    auto v = field.value;
    if (key == "db") {
      cfg->db.path = config_string(v, key);
    } else if (key == "dsn") {
      cfg->db.dsn = config_string(v, key);
    } else if (key == "durability") {
      cfg->db.durability = config_string(v, key);
    } else if (key == "options") {
      if (!v.is_object()) throw CliError(kExitUsage, "config key \"options\" must be an object");
      *options_json = compact_json(v);
    } else if (key == "port") {
      cfg->port = static_cast<uint16_t>(config_int(v, key, 0, 65535));
    } else if (key == "bind") {
      cfg->bind = config_string(v, key);
    } else if (key == "threads") {
      cfg->threads = static_cast<int>(config_int(v, key, 1, 256));
    } else if (key == "max_message_bytes") {
      cfg->max_message_bytes = static_cast<size_t>(config_int(v, key, 64, int64_t{1} << 30));
    } else if (key == "origins") {
      if (!v.is_array()) throw CliError(kExitUsage, "config key \"origins\" must be an array");
      cfg->origins.clear();
      for (auto o : as_array(v)) cfg->origins.push_back(config_string(o, key));
    } else if (key == "idle_timeout_ms") {
      cfg->idle_timeout_ms = config_int(v, key, 0, int64_t{1} << 40);
    } else if (key == "shutdown_timeout_ms") {
      cfg->shutdown_timeout_ms = config_int(v, key, 0, int64_t{1} << 40);
    } else if (key == "log") {
      cfg->log = config_string(v, key);
    } else {
      throw CliError(kExitUsage, fmt::format("unknown key \"{}\" in the config file {}", key, path),
                     "see 'baton serve --help' for the settings a config file may hold");
    }
  }
}

}  // namespace

ServeConfig serve_config_from(const Args& args) {
  ServeConfig cfg;
  std::string options_json;
  if (auto path = args.get("config")) apply_config_file(*path, &cfg, &options_json);

  // A flag naming the database replaces the config file's choice of store.
  if (auto db = args.get("db")) {
    cfg.db.path = *db;
    cfg.db.dsn.clear();
  }
  if (auto dsn = args.get("dsn")) {
    cfg.db.dsn = *dsn;
    if (!args.has("db")) cfg.db.path.clear();
  }
  if (auto d = args.get("durability")) cfg.db.durability = *d;
  if (auto o = args.get("options")) options_json = *o;
  cfg.db.options_json = options_json;
  check_db_choice(cfg.db, "serve");
  if (!cfg.db.durability.empty() && cfg.db.durability != "full" &&
      cfg.db.durability != "normal" && cfg.db.durability != "async") {
    throw usage_error("serve", fmt::format("durability must be full, normal or async, got '{}'",
                                           cfg.db.durability));
  }
  cfg.db.must_exist = false;

  if (auto port = args.get_int("port", 0, 65535)) cfg.port = static_cast<uint16_t>(*port);
  if (auto bind = args.get("bind")) cfg.bind = *bind;
  if (auto threads = args.get_int("threads", 1, 256)) cfg.threads = static_cast<int>(*threads);
  if (auto max = args.get_int("max-message-bytes", 64, int64_t{1} << 30)) {
    cfg.max_message_bytes = static_cast<size_t>(*max);
  }
  if (args.has("origin")) cfg.origins = args.all("origin");
  if (auto idle = args.get_int("idle-timeout-ms", 0, int64_t{1} << 40)) cfg.idle_timeout_ms = *idle;
  if (auto t = args.get_int("shutdown-timeout-ms", 0, int64_t{1} << 40)) {
    cfg.shutdown_timeout_ms = *t;
  }
  if (auto log = args.get("log")) cfg.log = *log;
  parse_log_level(cfg.log);  // validates the name early, before the port is bound
  return cfg;
}

}  // namespace baton_cli
