// The settings of `baton serve`, from flags and an optional --config file
// holding the same settings as JSON (flags win).
#ifndef BATON_TOOLS_SERVE_SERVE_CONFIG_H_
#define BATON_TOOLS_SERVE_SERVE_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "../cli.h"
#include "../engine.h"

namespace baton_cli {

struct ServeConfig {
  DbSettings db;
  std::string bind = "127.0.0.1";
  uint16_t port = 8787;
  int threads = 2;
  size_t max_message_bytes = 1 << 20;
  // Browser origins allowed to open a WebSocket; "*" allows any. Clients that
  // send no Origin header (CI workers, scripts) are never affected.
  std::vector<std::string> origins;
  int64_t idle_timeout_ms = 60000;
  int64_t shutdown_timeout_ms = 10000;
  std::string log = "warn";
};

extern const char* const kServeHelp;

std::vector<OptionSpec> serve_option_specs();
ServeConfig serve_config_from(const Args& args);

}  // namespace baton_cli

#endif  // BATON_TOOLS_SERVE_SERVE_CONFIG_H_
