// baton runs: the runs recorded in a database, newest as the engine lists them.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "engine.h"
#include "json_util.h"
#include "summary_view.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton runs --db PATH [--json]\n"
    "\n"
    "Lists the runs in the database with their status, test counts and start time.\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --json               print the engine's answer as JSON\n"
    "\n"
    "exit codes: 0 ok, 2 usage error, 3 no database at PATH.\n";

// The engine answers {"runs":[...]}; a bare array is read the same way.
std::optional<simdjson::dom::array> runs_array(simdjson::dom::element root) {
  if (root.is_array()) return root.get_array().value_unsafe();
  auto runs = get_field(root, "runs");
  if (runs && runs->is_array()) return runs->get_array().value_unsafe();
  return std::nullopt;
}

}  // namespace

int run_runs(CommandArgs argv) {
  Args args = Args::parse(argv, [] {
    auto specs = db_option_specs();
    specs.push_back({"json", false});
    return specs;
  }(), with_db_help(kHelp));
  if (!args.positional().empty()) throw usage_error("runs", "runs takes no positional argument");
  Engine engine(db_settings_from(args, "runs", /*must_exist=*/true));
  std::string answer = engine.query(R"({"op":"runs"})");
  auto doc = Document::parse(answer);
  if (!doc) throw CliError(kExitRuntime, "the engine answered the runs query with invalid JSON");
  if (args.has("json")) {
    std::printf("%s\n", compact_json(doc->root()).c_str());
    return kExitOk;
  }
  auto runs = runs_array(doc->root());
  if (!runs) throw CliError(kExitRuntime, "the engine's runs answer holds no list of runs");
  if (runs->size() == 0) {
    std::puts("no runs recorded");
    return kExitOk;
  }
  std::printf("%-40s %-12s %7s %7s %7s  %s\n", "RUN", "STATUS", "TESTS", "FAILED", "FLAKY",
              "STARTED");
  for (auto run : *runs) {
    auto id = get_string(run, "run");
    if (!id) id = get_string(run, "id");
    auto counts = get_field(run, "counts");
    auto count = [&](std::string_view key) -> std::string {
      auto n = counts ? get_int(*counts, key) : get_int(run, key);
      return n ? std::to_string(*n) : "-";
    };
    auto started = get_int(run, "started_at");
    std::printf("%-40s %-12s %7s %7s %7s  %s\n", std::string(id.value_or("?")).c_str(),
                std::string(get_string(run, "status").value_or("?")).c_str(),
                count("tests").c_str(), count("failed").c_str(), count("flaky").c_str(),
                started ? format_timestamp_ms(*started).c_str() : "-");
  }
  return kExitOk;
}

}  // namespace baton_cli
