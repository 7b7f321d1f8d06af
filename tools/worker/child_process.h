// Runs one spec's command for `baton worker`: fork/exec without a shell, the
// child's stdout and stderr passed through line by line with a prefix, and a
// callback every few seconds while it runs (the worker's lease heartbeat).
#ifndef BATON_TOOLS_WORKER_CHILD_PROCESS_H_
#define BATON_TOOLS_WORKER_CHILD_PROCESS_H_

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace baton_cli {

struct ChildResult {
  int exit_code = -1;     // the child's exit status, or -1 when killed by a signal
  int signal = 0;         // the signal that ended it, or 0
  bool started = true;    // false when the program could not be executed
  double duration_ms = 0;
};

struct ChildOptions {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> extra_env;
  std::string prefix;  // prepended to every output line, e.g. "[auth.test.js] "
  std::chrono::milliseconds tick_interval{5000};
  std::function<void()> on_tick;  // called every tick_interval while the child runs
};

// Blocks until the child exits. Throws CliError (runtime) when the pipes or
// the fork fail; a program that cannot be executed yields started = false.
ChildResult run_child(const ChildOptions& options);

// Sends `sig` to the running child, if any. Async-signal-safe: the worker's
// SIGINT/SIGTERM handler calls it so the spec's command stops first.
void signal_running_child(int sig);

// Replaces "{spec}" in every argument with `spec`; when no argument holds
// the placeholder, `spec` is appended as the last argument.
std::vector<std::string> expand_command(const std::vector<std::string>& command,
                                        const std::string& spec);

}  // namespace baton_cli

#endif  // BATON_TOOLS_WORKER_CHILD_PROCESS_H_
