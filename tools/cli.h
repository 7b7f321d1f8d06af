// Shared plumbing of the `baton` command-line tool: exit codes, the error type
// every subcommand throws, and a small option parser.
//
// Subcommands never call exit(); they return an exit code or throw CliError,
// which main() prints as "baton <command>: <message>" plus a hint saying what
// to do, so every failure reads the same way.
#ifndef BATON_TOOLS_CLI_H_
#define BATON_TOOLS_CLI_H_

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace baton_cli {

// Documented in `baton --help`; scripts rely on these values.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,    // the run (or this worker's part of it) failed
  kExitUsage = 2,     // bad flags or arguments
  kExitRuntime = 3,   // server unreachable, database cannot be opened, I/O error
  kExitRefused = 4,   // the engine refused the request or some of the messages
};

class CliError : public std::runtime_error {
 public:
  CliError(int exit_code, std::string message, std::string hint = {})
      : std::runtime_error(std::move(message)), exit_code_(exit_code), hint_(std::move(hint)) {}
  int exit_code() const { return exit_code_; }
  const std::string& hint() const { return hint_; }

 private:
  int exit_code_;
  std::string hint_;
};

// Thrown when the user asked for --help: main() prints the text and exits 0.
struct HelpRequested {
  std::string text;
};

struct OptionSpec {
  std::string name;         // without the leading "--"
  bool takes_value = true;
  bool repeatable = false;
  char short_name = 0;      // e.g. 'o' for "-o FILE"; 0 for none
};

// Parses "--name value", "--name=value", boolean "--flag", positionals, and
// (when allow_command is set) everything after "--" as a command line.
// "--help" anywhere before "--" throws HelpRequested{help}.
class Args {
 public:
  static Args parse(std::span<char* const> argv, const std::vector<OptionSpec>& specs,
                    std::string_view help, bool allow_command = false);

  bool has(std::string_view name) const;
  std::optional<std::string> get(std::string_view name) const;
  std::string get_or(std::string_view name, std::string fallback) const;
  std::vector<std::string> all(std::string_view name) const;
  // Integer option within [min, max]; a usage error names the flag otherwise.
  std::optional<long long> get_int(std::string_view name, long long min, long long max) const;

  const std::vector<std::string>& positional() const { return positional_; }
  const std::vector<std::string>& command() const { return command_; }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
  std::vector<std::string> command_;
};

// Parses a whole decimal integer in [min, max]; `what` names it in the error.
long long parse_int(std::string_view text, long long min, long long max, std::string_view what);

// A usage error that points at the subcommand's --help.
CliError usage_error(std::string_view command, std::string message);

}  // namespace baton_cli

#endif  // BATON_TOOLS_CLI_H_
