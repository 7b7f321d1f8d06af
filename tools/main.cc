// `baton`: the command-line face of the engine. It only talks to the engine
// through the C ABI (libbaton), like any other host.
#include <cstdio>
#include <cstring>
#include <string_view>

#include <baton/baton.h>
#include <fmt/format.h>

#include "cli.h"
#include "commands.h"

namespace {

using baton_cli::CommandArgs;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(CommandArgs);
};

const Command kCommands[] = {
    {"ingest", "record a JSON Lines event stream into a database", baton_cli::run_ingest},
    {"summary", "show the summary of one run", baton_cli::run_summary},
    {"runs", "list the runs in a database", baton_cli::run_runs},
    {"report", "export a run as JUnit XML, CTRF, JSON or HTML", baton_cli::run_report},
    {"stats", "show engine and database statistics", baton_cli::run_stats},
    {"replay", "print the event log as JSON Lines", baton_cli::run_replay},
    {"cleanup", "delete runs older than a number of days", baton_cli::run_cleanup},
    {"serve", "run a WebSocket server that records events and hands out specs",
     baton_cli::run_serve},
    {"worker", "claim specs of a run from a server and run a command for each",
     baton_cli::run_worker},
};

void print_help() {
  std::fputs(
      "usage: baton COMMAND [OPTIONS]\n"
      "\n"
      "Records test events and coordinates distributed test runs.\n"
      "\n"
      "commands:\n",
      stdout);
  for (const auto& c : kCommands) std::printf("  %-9s %s\n", c.name, c.summary);
  std::fputs(
      "\n"
      "Run 'baton COMMAND --help' for the options of one command.\n"
      "\n"
      "exit codes:\n"
      "  0  success (and, for summary and worker, the run passed)\n"
      "  1  the run failed (failed, cancelled or interrupted tests)\n"
      "  2  usage error: a bad flag or argument\n"
      "  3  runtime error: server unreachable, database cannot be opened, I/O error\n"
      "  4  the engine refused the request or some of the messages\n",
      stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_help();
    return baton_cli::kExitUsage;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_help();
    return baton_cli::kExitOk;
  }
  if (name == "--version" || name == "version") {
    std::printf("baton %s (C ABI %d)\n", baton_version(), baton_abi_version());
    return baton_cli::kExitOk;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(CommandArgs(argv + 2, static_cast<size_t>(argc - 2)));
    } catch (const baton_cli::HelpRequested& help) {
      std::fputs(help.text.c_str(), stdout);
      return baton_cli::kExitOk;
    } catch (const baton_cli::CliError& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "baton %s: %s\n", c.name, e.what());
      if (!e.hint().empty()) {
        std::fprintf(stderr, "  %s\n", e.hint().c_str());
      } else if (e.exit_code() == baton_cli::kExitUsage) {
        std::fprintf(stderr, "  see 'baton %s --help'\n", c.name);
      }
      return e.exit_code();
    } catch (const std::exception& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "baton %s: %s\n", c.name, e.what());
      return baton_cli::kExitRuntime;
    }
  }
  std::fprintf(stderr, "baton: unknown command '%s'\n  see 'baton --help'\n", argv[1]);
  return baton_cli::kExitUsage;
}
