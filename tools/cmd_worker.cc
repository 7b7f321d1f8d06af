// baton worker: queue mode from any CI with no code. Joins a run on a
// `baton serve` server, claims specs one by one, runs a command for each,
// reports the outcome, and exits with the run's result.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cli.h"
#include "commands.h"
#include "json_util.h"
#include "summary_view.h"
#include "worker/child_process.h"
#include "worker/messenger.h"
#include "worker/spec_list.h"
#include "worker/ws_client.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton worker --server ws://HOST:PORT --run RUN [options] -- COMMAND [ARGS...]\n"
    "\n"
    "Joins run RUN on a 'baton serve' server and runs COMMAND once per spec the\n"
    "server hands out, until the run's queue is empty. '{spec}' in COMMAND or ARGS\n"
    "is replaced by the spec id; without it, the spec id is appended. COMMAND runs\n"
    "without a shell (use 'sh -c \"...\"' for one), with BATON_RUN, BATON_SPEC,\n"
    "BATON_ATTEMPT and BATON_WORKER in its environment, stdin from /dev/null and its\n"
    "own process group (SIGINT/SIGTERM to the worker stop all of it); its output is\n"
    "passed through with each line prefixed by '[SPEC] '. Exit status 0 reports the\n"
    "spec passed, anything else failed (queued again while retries remain).\n"
    "\n"
    "Start as many workers as you like, on any machines: every worker sends the\n"
    "same run.start and joins the same run; the server balances the specs.\n"
    "\n"
    "options:\n"
    "  --server URL[,URL...]  ws://HOST:PORT of 'baton serve' (required). Several\n"
    "                       URLs name servers that share one PostgreSQL database\n"
    "                       ('baton serve --dsn'): the worker starts with the first\n"
    "                       and moves to the next when a connection drops or fails\n"
    "  --run RUN            the run id, e.g. the CI pipeline id (required)\n"
    "  --build ID           the CI build id: workers of the same build share the run\n"
    "  --token T            access token (sent as 'Authorization: Bearer T')\n"
    "  --client NAME        this worker's name (default worker-HOSTNAME-PID)\n"
    "  --plan FILE          the specs: one id per line, or JSON {\"specs\":[{\"id\":..,\n"
    "                       \"estimate_ms\":..}]}\n"
    "  --specs a,b,c        the specs as a comma-separated list\n"
    "  --specs-glob PATTERN the specs as the files matching PATTERN, e.g.\n"
    "                       'tests/*.test.js' (repeatable; quote it for the shell)\n"
    "  --retries N          attempts after a failure (sent in the run's config)\n"
    "  --heartbeat-ms N     lease heartbeat interval while a spec runs (default 5000)\n"
    "  --request-timeout-ms N  wait this long for each reply (default 30000)\n"
    "  --reconnect-timeout-ms N  keep reconnecting this long before giving up\n"
    "                       (default 120000)\n"
    "  --quiet              no progress lines (the spec output is still shown)\n"
    "\n"
    "Every message carries --client and an increasing seq; after a dropped\n"
    "connection the worker reconnects (to the next --server URL, if several) with\n"
    "backoff and resends the unanswered message with the same seq, which the\n"
    "engine applies at most once.\n"
    "\n"
    "exit codes: 0 the run passed, 1 the run failed, 2 usage error, 3 the server is\n"
    "unreachable, 4 the server refused (bad token, unknown run, ...), 130/143\n"
    "stopped by SIGINT/SIGTERM (the spec in progress is handed out again when its\n"
    "lease expires).\n";

volatile sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
  g_stop_signal = sig;
  signal_running_child(sig);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Sleeps in slices so that SIGINT/SIGTERM end a long wait_ms promptly.
void sleep_unless_stopped(std::chrono::milliseconds total) {
  auto until = std::chrono::steady_clock::now() + total;
  while (!g_stop_signal && std::chrono::steady_clock::now() < until) {
    auto left = until - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        left, std::chrono::milliseconds(100)));
  }
}

std::string default_client_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "host");
  return fmt::format("worker-{}-{}", host, ::getpid());
}

std::string refusal_text(simdjson::dom::element reply) {
  return fmt::format("{}: {}", get_string(reply, "code").value_or("unknown"),
                     get_string(reply, "error").value_or("(no detail)"));
}

struct WorkerTally {
  int passed = 0;
  int failed = 0;
};

}  // namespace

int run_worker(CommandArgs argv) {
  std::vector<OptionSpec> specs = {
      {"server"},     {"run"},          {"build"},          {"token"},
      {"client"},     {"plan"},         {"specs"},          {"specs-glob", true, true},
      {"retries"},    {"heartbeat-ms"}, {"request-timeout-ms"}, {"reconnect-timeout-ms"},
      {"quiet", false}};
  Args args = Args::parse(argv, specs, kHelp, /*allow_command=*/true);
  if (!args.positional().empty()) {
    throw usage_error("worker", fmt::format("unexpected argument '{}': put the command after '--'",
                                            args.positional()[0]));
  }
  auto server = args.get("server");
  auto run = args.get("run");
  if (!server) throw usage_error("worker", "--server ws://HOST:PORT[,ws://...] is required");
  if (!run || run->empty()) throw usage_error("worker", "--run RUN is required");
  if (args.command().empty()) {
    throw usage_error("worker", "give the command to run per spec after '--', e.g. "
                                "-- npx mocha {spec}");
  }
  std::vector<WsUrl> urls = parse_ws_urls(*server);
  const std::string client = args.get_or("client", default_client_name());
  const bool quiet = args.has("quiet");
  auto retries = args.get_int("retries", 0, 100);
  auto heartbeat_ms = args.get_int("heartbeat-ms", 100, 3600000).value_or(5000);
  MessengerSettings settings;
  settings.request_timeout =
      std::chrono::milliseconds(args.get_int("request-timeout-ms", 100, 3600000).value_or(30000));
  settings.reconnect_timeout = std::chrono::milliseconds(
      args.get_int("reconnect-timeout-ms", 0, 86400000).value_or(120000));
  settings.verbose = !quiet;

  std::vector<PlannedSpec> planned;
  if (auto plan = args.get("plan")) planned = specs_from_plan_file(*plan);
  if (auto list = args.get("specs")) {
    auto more = specs_from_list(*list);
    planned.insert(planned.end(), more.begin(), more.end());
  }
  for (const auto& pattern : args.all("specs-glob")) {
    auto more = specs_from_glob(pattern);
    if (more.empty()) {
      throw usage_error("worker", fmt::format("--specs-glob '{}' matched no file", pattern));
    }
    planned.insert(planned.end(), more.begin(), more.end());
  }
  auto progress = [&](const std::string& line) {
    if (!quiet) std::printf("baton worker: %s\n", line.c_str());
    std::fflush(stdout);
  };

  WsClient::Headers headers = {{"X-Baton-Client", client}};
  if (auto token = args.get("token")) headers.emplace_back("Authorization", "Bearer " + *token);
  WsClient ws(std::move(urls), headers, size_t{64} << 20);
  Messenger messenger(ws, client, settings);
  install_signal_handlers();
  const std::string run_field = "\"run\":" + json_quote(*run);

  // run.start: every worker sends it; the first creates the run, the rest join.
  std::string start_fields = run_field;
  if (auto build = args.get("build")) start_fields += ",\"build\":" + json_quote(*build);
  if (!planned.empty()) start_fields += ",\"plan\":" + plan_json(planned);
  if (retries) start_fields += fmt::format(",\"config\":{{\"retries\":{}}}", *retries);
  {
    auto reply = messenger.call("run.start", start_fields);
    if (!get_bool(reply.root(), "ok").value_or(false)) {
      if (get_string(reply.root(), "code") != "conflict") {
        throw CliError(kExitRefused,
                       fmt::format("the server refused run.start: {}", refusal_text(reply.root())),
                       "check --run, --token and the plan");
      }
      progress(fmt::format("run {} already started; joining it ({})", *run,
                           refusal_text(reply.root())));
    } else {
      progress(fmt::format("joined run {} as {}{}", *run, client,
                           planned.empty() ? "" : fmt::format(" ({} specs planned)", planned.size())));
    }
  }

  WorkerTally tally;
  const std::string claim_fields = run_field + ",\"worker\":" + json_quote(client);
  while (!g_stop_signal) {
    auto reply = messenger.call("queue.claim", claim_fields);
    auto root = reply.root();
    if (!get_bool(root, "ok").value_or(false)) {
      throw CliError(kExitRefused,
                     fmt::format("the server refused queue.claim: {}", refusal_text(root)),
                     "check --run (the run must exist and be started) and the token's roles");
    }
    if (get_bool(root, "done").value_or(false)) break;
    if (auto wait = get_int(root, "wait_ms")) {
      sleep_unless_stopped(std::chrono::milliseconds(std::clamp<int64_t>(*wait, 10, 30000)));
      continue;
    }
    auto spec = get_field(root, "spec");
    if (!spec) {
      // A claim resent after a reconnect comes back as a bare duplicate: its
      // lease went to the dropped connection and returns to the queue; claim anew.
      if (get_bool(root, "dup").value_or(false)) continue;
      throw CliError(kExitRuntime, fmt::format("unexpected claim reply: {}", compact_json(root)));
    }
    std::string spec_id(get_string(*spec, "id").value_or(""));
    int64_t attempt = get_int(*spec, "attempt").value_or(1);
    auto lease = get_field(*spec, "lease");
    std::string lease_json = lease ? compact_json(*lease) : "null";
    progress(fmt::format("{} attempt {} started", spec_id, attempt));

    ChildOptions child;
    child.argv = expand_command(args.command(), spec_id);
    child.extra_env = {{"BATON_RUN", *run},
                       {"BATON_SPEC", spec_id},
                       {"BATON_ATTEMPT", std::to_string(attempt)},
                       {"BATON_WORKER", client}};
    child.prefix = fmt::format("[{}] ", spec_id);
    child.tick_interval = std::chrono::milliseconds(heartbeat_ms);
    // worker.heartbeat carries only the common fields: it extends every lease
    // this connection's session holds.
    const std::string heartbeat_fields = run_field;
    child.on_tick = [&] {
      auto hb = messenger.call("worker.heartbeat", heartbeat_fields);
      if (!get_bool(hb.root(), "ok").value_or(false)) {
        progress(fmt::format("heartbeat refused: {}", refusal_text(hb.root())));
      }
    };
    ChildResult result = run_child(child);
    if (g_stop_signal) break;  // no spec.end: the lease expires and the spec is handed out again

    const bool passed = result.started && result.exit_code == 0;
    (passed ? tally.passed : tally.failed)++;
    std::string how = result.signal ? fmt::format("killed by signal {}", result.signal)
                      : !result.started ? std::string("could not start")
                                        : fmt::format("exit code {}", result.exit_code);
    progress(fmt::format("{} attempt {} {} in {} ({})", spec_id, attempt,
                         passed ? "passed" : "failed", format_duration_ms(result.duration_ms), how));
    std::string end_fields =
        fmt::format("{},\"spec\":{},\"lease\":{},\"status\":\"{}\",\"duration_ms\":{:.3f},"
                    "\"attempt\":{}",
                    run_field, json_quote(spec_id), lease_json, passed ? "passed" : "failed",
                    result.duration_ms, attempt);
    auto end_reply = messenger.call("spec.end", end_fields);
    if (!get_bool(end_reply.root(), "ok").value_or(false)) {
      // A stale lease means the spec was handed to another worker meanwhile.
      progress(fmt::format("spec.end of {} refused: {}", spec_id, refusal_text(end_reply.root())));
    }
  }
  if (g_stop_signal) {
    messenger.close();
    std::fprintf(stderr, "baton worker: stopped by %s\n",
                 g_stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    return 128 + g_stop_signal;
  }

  auto summary = messenger.call("query", fmt::format("\"op\":\"run\",{}", run_field));
  messenger.close();
  auto result = get_field(summary.root(), "result");
  if (!get_bool(summary.root(), "ok").value_or(false) || !result) {
    std::fprintf(stderr,
                 "baton worker: cannot read the run summary (%s); this worker ran %d passed, "
                 "%d failed\n",
                 refusal_text(summary.root()).c_str(), tally.passed, tally.failed);
    return tally.failed > 0 ? kExitFailed : kExitOk;
  }
  std::fputs(render_summary(*result).c_str(), stdout);
  return summary_exit_code(*result);
}

}  // namespace baton_cli
