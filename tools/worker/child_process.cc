#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "../cli.h"

namespace baton_cli {

namespace {

// Writes whole lines with the prefix; keeps an unterminated tail until more
// output (or the end) arrives, so interleaved specs stay readable.
class LinePrefixer {
 public:
  LinePrefixer(std::FILE* out, std::string prefix) : out_(out), prefix_(std::move(prefix)) {}

  void feed(const char* data, size_t len) {
    pending_.append(data, len);
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
      write_line(std::string_view(pending_).substr(start, nl - start));
    }
    pending_.erase(0, start);
  }
  void finish() {
    if (!pending_.empty()) write_line(pending_);
    pending_.clear();
  }

 private:
  void write_line(std::string_view line) {
    std::fwrite(prefix_.data(), 1, prefix_.size(), out_);
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
  }

  std::FILE* out_;
  std::string prefix_;
  std::string pending_;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

volatile sig_atomic_t g_child_pid = 0;

}  // namespace

void signal_running_child(int sig) {
  pid_t pid = g_child_pid;
  if (pid > 0 && ::kill(-pid, sig) != 0) ::kill(pid, sig);
}

std::vector<std::string> expand_command(const std::vector<std::string>& command,
                                        const std::string& spec) {
  constexpr std::string_view kPlaceholder = "{spec}";
  std::vector<std::string> out;
  bool placed = false;
  for (std::string arg : command) {
    for (size_t at = 0; (at = arg.find(kPlaceholder, at)) != std::string::npos; at += spec.size()) {
      arg.replace(at, kPlaceholder.size(), spec);
      placed = true;
    }
    out.push_back(std::move(arg));
  }
  if (!placed) out.push_back(spec);
  return out;
}

ChildResult run_child(const ChildOptions& options) {
  int out_pipe[2];
  int err_pipe[2];
  int exec_pipe[2];  // closed on a successful exec; carries errno otherwise
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    throw CliError(kExitRuntime, fmt::format("cannot create pipes: {}", std::strerror(errno)));
  }
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The environment is built before fork: the worker has threads (the
  // resolver's), so the child may only call async-signal-safe functions.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : options.extra_env) replaced = replaced || name == k;
    if (!replaced) env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : options.extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto started_at = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    int fork_errno = errno;
    if (null_fd >= 0) ::close(null_fd);
    throw CliError(kExitRuntime, fmt::format("fork failed: {}", std::strerror(fork_errno)));
  }
  if (pid == 0) {
    // Its own process group, so a stop signal reaches everything the command
    // started (a shell's children included), not only its first process.
    ::setpgid(0, 0);
    // Outside the terminal's foreground group a read from the terminal would
    // stop the command; specs get no input.
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    ssize_t ignored = ::write(exec_pipe[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: a signal may come before the child runs
  g_child_pid = pid;
  if (null_fd >= 0) ::close(null_fd);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);

  ChildResult result;
  int exec_errno = 0;
  if (::read(exec_pipe[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
    result.started = false;
    std::fprintf(stderr, "%scannot run %s: %s\n", options.prefix.c_str(), argv[0],
                 std::strerror(exec_errno));
  }
  ::close(exec_pipe[0]);

  LinePrefixer out(stdout, options.prefix);
  LinePrefixer err(stderr, options.prefix);
  int fds[2] = {out_pipe[0], err_pipe[0]};
  LinePrefixer* sinks[2] = {&out, &err};
  auto next_tick = std::chrono::steady_clock::now() + options.tick_interval;
  char buf[8192];
  auto read_ready = [&](int timeout_ms) {
    pollfd pfds[2];
    int n = 0;
    int index[2];
    for (int i = 0; i < 2; ++i) {
      if (fds[i] >= 0) {
        pfds[n] = {fds[i], POLLIN, 0};
        index[n++] = i;
      }
    }
    if (n == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      return 0;
    }
    int ready = ::poll(pfds, static_cast<nfds_t>(n), timeout_ms);
    for (int k = 0; k < n && ready > 0; ++k) {
      if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int i = index[k];
      ssize_t got = ::read(fds[i], buf, sizeof buf);
      if (got > 0) {
        sinks[i]->feed(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        sinks[i]->finish();
        close_fd(fds[i]);
      }
    }
    return ready;
  };
  // The loop ends when the child exits, not when its pipes close: a process it
  // left behind (a server, a daemon) may hold them open for ever.
  int status = 0;
  while (true) {
    auto until_tick = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_tick - std::chrono::steady_clock::now());
    read_ready(static_cast<int>(std::clamp<int64_t>(until_tick.count(), 0, 50)));
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= next_tick) {
      if (options.on_tick) options.on_tick();
      next_tick = std::chrono::steady_clock::now() + options.tick_interval;
    }
  }
  // What the child wrote just before exiting is still in the pipes.
  while ((fds[0] >= 0 || fds[1] >= 0) && read_ready(0) > 0) {
  }
  for (int i = 0; i < 2; ++i) {
    sinks[i]->finish();
    close_fd(fds[i]);
  }
  g_child_pid = 0;
  result.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                 started_at)
                           .count();
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace baton_cli
