// baton summary: one run's summary, for people or (with --json) for scripts.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "engine.h"
#include "json_util.h"
#include "summary_view.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton summary RUN --db PATH [--json]\n"
    "\n"
    "Prints the summary of run RUN: its status, test counts (flaky tests are\n"
    "counted among the passed ones), queue specs and duration.\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --json               print the summary object as JSON (one line)\n"
    "\n"
    "exit codes: 0 the run passed (or is running with nothing failed yet), 1 the run\n"
    "failed, was cancelled or interrupted, 2 usage error, 3 no database at PATH,\n"
    "4 no such run.\n";

}  // namespace

int run_summary(CommandArgs argv) {
  auto specs = db_option_specs();
  specs.push_back({"json", false});
  Args args = Args::parse(argv, specs, with_db_help(kHelp));
  if (args.positional().size() != 1) throw usage_error("summary", "give exactly one RUN id");
  Engine engine(db_settings_from(args, "summary", /*must_exist=*/true));
  const std::string& run = args.positional()[0];
  std::string answer = engine.query(fmt::format("{{\"op\":\"run\",\"run\":{}}}", json_quote(run)));
  auto doc = Document::parse(answer);
  if (!doc) throw CliError(kExitRuntime, "the engine answered the run query with invalid JSON");
  if (args.has("json")) {
    std::printf("%s\n", compact_json(doc->root()).c_str());
  } else {
    std::fputs(render_summary(doc->root()).c_str(), stdout);
  }
  return summary_exit_code(doc->root());
}

}  // namespace baton_cli
