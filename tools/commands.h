// The subcommands of `baton`. Each takes the arguments after its name, prints
// its own --help, and returns an exit code (or throws CliError).
#ifndef BATON_TOOLS_COMMANDS_H_
#define BATON_TOOLS_COMMANDS_H_

#include <span>

namespace baton_cli {

using CommandArgs = std::span<char* const>;

int run_ingest(CommandArgs args);
int run_summary(CommandArgs args);
int run_runs(CommandArgs args);
int run_report(CommandArgs args);
int run_stats(CommandArgs args);
int run_replay(CommandArgs args);
int run_cleanup(CommandArgs args);
int run_serve(CommandArgs args);
int run_worker(CommandArgs args);

}  // namespace baton_cli

#endif  // BATON_TOOLS_COMMANDS_H_
