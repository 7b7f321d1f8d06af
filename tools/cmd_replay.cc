// baton replay: the event log as JSON Lines, in global sequence order.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "engine.h"
#include "json_util.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton replay --db PATH [--run RUN] [--from-seq N] [--types T1,T2] [--with-seq]\n"
    "\n"
    "Prints every recorded event as one JSON line, in the order of the event log.\n"
    "The output is itself a stream 'baton ingest' accepts.\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --run RUN            only the events of this run\n"
    "  --from-seq N         only events whose global sequence number is >= N\n"
    "  --types T1,T2        only these event types, e.g. test.end,run.end\n"
    "  --with-seq           prefix each line with its global sequence number and a tab\n"
    "\n"
    "exit codes: 0 ok, 2 usage error, 3 no database at PATH or stdout closed.\n";

struct ReplayState {
  bool with_seq = false;
  bool write_failed = false;
  size_t events = 0;
};

int print_event(void* user_data, const baton_event* ev) {
  auto* state = static_cast<ReplayState*>(user_data);
  size_t len = 0;
  const char* json = baton_event_json(ev, &len);
  if (state->with_seq) std::fprintf(stdout, "%lld\t", static_cast<long long>(baton_event_seq(ev)));
  std::fwrite(json, 1, len, stdout);
  std::fputc('\n', stdout);
  ++state->events;
  // A closed pipe (e.g. `| head`) ends the replay instead of reading the whole log.
  if (std::ferror(stdout)) {
    state->write_failed = true;
    return 1;
  }
  return 0;
}

}  // namespace

int run_replay(CommandArgs argv) {
  auto specs = db_option_specs();
  specs.push_back({"run"});
  specs.push_back({"from-seq"});
  specs.push_back({"types"});
  specs.push_back({"with-seq", false});
  Args args = Args::parse(argv, specs, with_db_help(kHelp));
  if (!args.positional().empty()) {
    throw usage_error("replay", "replay takes no positional argument; use --run RUN");
  }
  std::vector<std::pair<std::string, std::string>> filter;
  if (auto run = args.get("run")) filter.emplace_back("run", json_quote(*run));
  if (auto from = args.get_int("from-seq", 0, INT64_MAX)) {
    filter.emplace_back("from_seq", std::to_string(*from));
  }
  if (auto types = args.get("types")) {
    std::string list = "[";
    size_t start = 0;
    while (start <= types->size()) {
      size_t comma = types->find(',', start);
      if (comma == std::string::npos) comma = types->size();
      if (comma > start) {
        if (list.size() > 1) list += ",";
        list += json_quote(std::string_view(*types).substr(start, comma - start));
      }
      start = comma + 1;
    }
    filter.emplace_back("types", list + "]");
  }
  Engine engine(db_settings_from(args, "replay", /*must_exist=*/true));
  std::string filter_json = filter.empty() ? "" : json_object_with("", filter, "filter");
  ReplayState state;
  state.with_seq = args.has("with-seq");
  int rc = baton_replay(engine.get(), filter.empty() ? nullptr : filter_json.c_str(), print_event,
                        &state);
  if (rc != BATON_OK) throw status_error(rc, "replaying the event log");
  if (state.write_failed || std::fflush(stdout) != 0) {
    throw CliError(kExitRuntime, "writing to stdout failed");
  }
  return kExitOk;
}

}  // namespace baton_cli
