// baton stats: the engine's statistics (refusals, plugins, store) for a database.
#include <cstdio>

#include "commands.h"
#include "engine.h"
#include "json_util.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton stats --db PATH [--json]\n"
    "\n"
    "Prints the engine's statistics for the database: event and run counts,\n"
    "refusals by code, plugin errors, access mode and store details.\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --json               print the statistics as one JSON line\n"
    "\n"
    "exit codes: 0 ok, 2 usage error, 3 no database at PATH.\n";

}  // namespace

int run_stats(CommandArgs argv) {
  auto specs = db_option_specs();
  specs.push_back({"json", false});
  Args args = Args::parse(argv, specs, with_db_help(kHelp));
  if (!args.positional().empty()) throw usage_error("stats", "stats takes no positional argument");
  Engine engine(db_settings_from(args, "stats", /*must_exist=*/true));
  std::string answer = engine.query(R"({"op":"stats"})");
  auto doc = Document::parse(answer);
  if (!doc) throw CliError(kExitRuntime, "the engine answered the stats query with invalid JSON");
  std::string text = args.has("json") ? compact_json(doc->root()) : pretty_json(doc->root());
  std::printf("%s\n", text.c_str());
  return kExitOk;
}

}  // namespace baton_cli
