// baton cleanup: deletes runs (and their events) older than a number of days.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "commands.h"
#include "engine.h"
#include "json_util.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton cleanup --db PATH --older-than DAYS [--json]\n"
    "\n"
    "Deletes the runs that started more than DAYS days ago (fractions allowed,\n"
    "e.g. 0.5), with their events and derived rows, and prints what was removed.\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --older-than DAYS    age threshold in days (required)\n"
    "  --json               print the engine's answer as one JSON line\n"
    "\n"
    "exit codes: 0 ok, 2 usage error, 3 no database at PATH, 4 refused.\n";

}  // namespace

int run_cleanup(CommandArgs argv) {
  auto specs = db_option_specs();
  specs.push_back({"older-than"});
  specs.push_back({"json", false});
  Args args = Args::parse(argv, specs, with_db_help(kHelp));
  if (!args.positional().empty()) {
    throw usage_error("cleanup", "cleanup takes no positional argument");
  }
  auto days_text = args.get("older-than");
  if (!days_text) throw usage_error("cleanup", "--older-than DAYS is required");
  char* end = nullptr;
  double days = std::strtod(days_text->c_str(), &end);
  if (days_text->empty() || *end != '\0' || !std::isfinite(days) || days < 0 || days > 1e6) {
    throw usage_error("cleanup",
                      fmt::format("--older-than must be a number of days >= 0, got '{}'",
                                  *days_text));
  }
  auto older_than_ms = static_cast<int64_t>(std::llround(days * 86400000.0));
  Engine engine(db_settings_from(args, "cleanup", /*must_exist=*/true));
  std::string answer =
      engine.query(fmt::format(R"({{"op":"cleanup","older_than_ms":{}}})", older_than_ms));
  auto doc = Document::parse(answer);
  if (!doc) throw CliError(kExitRuntime, "the engine answered the cleanup with invalid JSON");
  std::string text = args.has("json") ? compact_json(doc->root()) : pretty_json(doc->root());
  std::printf("%s\n", text.c_str());
  engine.close();
  return kExitOk;
}

}  // namespace baton_cli
