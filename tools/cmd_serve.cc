// baton serve: a WebSocket server embedding one engine.
#include <signal.h>

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "engine.h"
#include "json_util.h"
#include "serve/serve_config.h"
#include "serve/server.h"

namespace baton_cli {

namespace {

// Blocks SIGINT and SIGTERM in this thread and every thread it starts, so the
// I/O threads never take them and the main thread collects them with sigwait.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The engine reports open mode when it opens, before a logger can be set, so
// the server says it again: anyone who can reach the port may record events.
void warn_if_open_mode(const Engine& engine, const ServeConfig& config) {
  int level = parse_log_level(config.log);
  if (level < 0 || level > BATON_LOG_WARN) return;
  auto stats = Document::parse(engine.query(R"({"op":"stats"})"));
  if (stats && get_bool(stats->root(), "open_mode").value_or(false)) {
    std::fprintf(stderr,
                 "baton serve[warn]: open mode: no access tokens are configured, so any client "
                 "that can reach --bind %s may record events; require tokens with --options "
                 "'{\"access\":{\"tokens\":[...]}}'\n",
                 config.bind.c_str());
  }
}

}  // namespace

int run_serve(CommandArgs argv) {
  Args args = Args::parse(argv, serve_option_specs(), with_db_help(kServeHelp));
  if (!args.positional().empty()) {
    throw usage_error("serve", "serve takes no positional argument; pass the database with --db");
  }
  ServeConfig config = serve_config_from(args);
  sigset_t stop_signals = block_stop_signals();

  Engine engine(config.db);
  install_stderr_logger(engine.get(), config.log);
  int signal_number = 0;
  {
    Server server(engine.get(), config);
    warn_if_open_mode(engine, config);
    auto endpoint = server.local_endpoint();
    std::string address = endpoint.address().is_v6()
                              ? fmt::format("[{}]", endpoint.address().to_string())
                              : endpoint.address().to_string();
    server.start();
    std::printf("listening on %s:%u\n", address.c_str(), static_cast<unsigned>(endpoint.port()));
    std::fflush(stdout);

    sigwait(&stop_signals, &signal_number);
    if (parse_log_level(config.log) >= 0 && parse_log_level(config.log) <= BATON_LOG_INFO) {
      std::fprintf(stderr, "baton serve: %s received, finishing messages in flight\n",
                   signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    }
    server.stop(std::chrono::milliseconds(config.shutdown_timeout_ms));
  }
  // Every connection is gone and every push has returned: make it all durable.
  if (int rc = baton_flush(engine.get()); rc != BATON_OK) {
    throw status_error(rc, fmt::format("flushing {}", config.db.describe()),
                       config.db.postgres());
  }
  engine.close();
  return kExitOk;
}

}  // namespace baton_cli
