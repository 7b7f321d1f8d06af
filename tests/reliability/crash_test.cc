// Crash test: a child process ingests at full speed (several client threads,
// one session each, `normal` durability, a file database) and is killed with
// SIGKILL at a random moment. The child reports every acknowledged (client,
// seq) through a pipe. After each kill the parent checks that
//   - PRAGMA integrity_check is ok;
//   - every acknowledged event is in the log, exactly once, and each client's
//     seqs have no gap;
//   - the derived tables equal a rebuild from the log;
//   - resending from the last ack answers "dup":true and adds nothing.
// The next child resumes each client from its last ack, resending the last
// few acknowledged messages first (a client that never saw their replies
// would), so recovery runs after every kill.
//
//   crash_test [--kills N] [--clients K] [--seed S] [--rotate R] [--dir D]
//
// N defaults to $BATON_CRASH_KILLS or 20; the database starts afresh every R
// kills (default 25) so that a long run checks many short histories instead
// of re-verifying one ever-growing log.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "reliability.h"

using namespace baton;
using namespace baton::reliability;

namespace {

constexpr int kMaxClients = 16;
// How many acknowledged messages a resuming client sends again.
constexpr int64_t kResend = 5;

struct Ack {
  uint32_t client;
  uint32_t seq;
};

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void child_fail(const std::string& what) {
  std::fprintf(stderr, "crash_test child: %s\n", what.c_str());
  std::fflush(stderr);
  _exit(2);
}

bool is_dup(const std::string& reply) { return reply.find("\"dup\":true") != std::string::npos; }

// The child: K client threads pushing until killed. A client resumes at its
// last ack minus kResend; those resent messages must be duplicates.
[[noreturn]] void run_child(const std::string& db, int clients, const int64_t* last_ack,
                            int ack_fd) {
  EngineOptions options;
  Status s = EngineOptions::from_json(fmt::format(R"({{"path":"{}","durability":"normal"}})", db),
                                      &options);
  if (!s) child_fail("options: " + s.message());
  std::unique_ptr<Orchestrator> engine;
  s = Orchestrator::open(options, &engine);
  if (!s) child_fail("open: " + s.message());
  std::vector<std::thread> threads;
  for (int k = 0; k < clients; ++k) {
    threads.emplace_back([&, k] {
      std::unique_ptr<Session> session;
      Status st = engine->open_session(fmt::format(R"({{"client":"c{}"}})", k), &session);
      if (!st) child_fail("session: " + st.message());
      std::string reply;
      for (int64_t seq = std::max<int64_t>(1, last_ack[k] - kResend + 1);; ++seq) {
        st = engine->push(session.get(), message("", k, seq), &reply);
        if (!st) {
          child_fail(fmt::format("client c{} seq {}: {} {}", k, seq, st.message(), reply));
        }
        if (seq <= last_ack[k] && !is_dup(reply)) {
          child_fail(fmt::format("client c{} resent acknowledged seq {} and got {}", k, seq, reply));
        }
        Ack a{static_cast<uint32_t>(k), static_cast<uint32_t>(seq)};
        // Writes of at most PIPE_BUF bytes are atomic, so acks never interleave.
        if (write(ack_fd, &a, sizeof a) != static_cast<ssize_t>(sizeof a)) {
          child_fail("ack pipe write failed");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

struct Options {
  int kills = 20;
  int clients = 4;
  int rotate = 25;
  uint64_t seed = 0;
  std::string dir;
};

// Reads every complete ack available on `fd` into last_ack; false at EOF.
bool drain(int fd, std::string* partial, int64_t* last_ack, int clients, std::string* error) {
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  partial->append(buf, static_cast<size_t>(n));
  size_t whole = partial->size() / sizeof(Ack) * sizeof(Ack);
  for (size_t off = 0; off < whole; off += sizeof(Ack)) {
    Ack a;
    std::memcpy(&a, partial->data() + off, sizeof a);
    if (static_cast<int>(a.client) >= clients) {
      *error = "garbled ack";
      continue;
    }
    // A client acks in order; a lower seq would mean the pipe lost something.
    if (static_cast<int64_t>(a.seq) < last_ack[a.client] - kResend) *error = "acks out of order";
    last_ack[a.client] = std::max<int64_t>(last_ack[a.client], a.seq);
  }
  partial->erase(0, whole);
  return true;
}

// Everything checked after one kill. Empty when all holds.
// `journal_only` gets how many acknowledged events the database file itself
// lacked before the reopen: they were only in the ack journal.
std::string verify(const std::string& db, int clients, const int64_t* last_ack,
                   int64_t* journal_only) {
  // Killed before it created the database: fine, as long as nothing was acked.
  if (access(db.c_str(), F_OK) != 0) {
    for (int k = 0; k < clients; ++k) {
      if (last_ack[k] > 0) return fmt::format("{} is gone but c{} was acknowledged", db, k);
    }
  } else {
    Db direct(db);
    if (!direct.error().empty()) return direct.error();
    std::string error;
    std::string integrity = direct.one("PRAGMA integrity_check", &error);
    if (!error.empty()) return error;
    if (integrity != "ok") return "integrity_check: " + integrity;
    for (int k = 0; k < clients; ++k) {
      int64_t in_file = std::max<int64_t>(0, logged_seq(db, client_name(k)));
      if (in_file < last_ack[k]) *journal_only += last_ack[k] - in_file;
    }
  }
  // A kill during the very first open may leave a database without a schema
  // (the migration is one transaction); reopening creates it.
  EngineOptions options;
  Status s = EngineOptions::from_json(fmt::format(R"({{"path":"{}","durability":"normal"}})", db),
                                      &options);
  std::unique_ptr<Orchestrator> engine;
  if (s) s = Orchestrator::open(options, &engine);
  if (!s) return "reopen after the kill: " + s.message();
  std::string e = check_log(db);
  if (!e.empty()) return e;
  for (int k = 0; k < clients; ++k) {
    int64_t logged = logged_seq(db, client_name(k));
    if (logged < last_ack[k]) {
      return fmt::format("client c{} was acknowledged up to seq {} but the log ends at {}", k,
                         last_ack[k], logged);
    }
  }
  e = check_rebuild(engine->store());
  if (!e.empty()) return e;
  // Clients resending from their last ack: every acknowledged message is a dup.
  for (int k = 0; k < clients && e.empty(); ++k) {
    std::unique_ptr<Session> session;
    s = engine->open_session(fmt::format(R"({{"client":"c{}"}})", k), &session);
    if (!s) return "session: " + s.message();
    std::string reply;
    for (int64_t seq = std::max<int64_t>(1, last_ack[k] - kResend + 1); seq <= last_ack[k]; ++seq) {
      s = engine->push(session.get(), message("", k, seq), &reply);
      if (!s || !is_dup(reply)) {
        e = fmt::format("client c{} resent acknowledged seq {}: {}", k, seq, reply);
        break;
      }
    }
  }
  s = engine->close();
  if (!s && e.empty()) e = "close: " + s.message();
  if (!e.empty()) return e;
  return check_log(db);
}

int parse_int(const char* v, const char* flag) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || n < 0) {
    std::fprintf(stderr, "crash_test: %s needs a non-negative number\n", flag);
    std::exit(64);
  }
  return static_cast<int>(n);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("BATON_CRASH_KILLS")) o.kills = parse_int(env, "BATON_CRASH_KILLS");
  o.seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  o.dir = BATON_BINARY_DIR;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "crash_test: %s needs a value\n", a.c_str());
        std::exit(64);
      }
      return argv[++i];
    };
    if (a == "--kills") o.kills = parse_int(value(), "--kills");
    else if (a == "--clients") o.clients = std::clamp(parse_int(value(), "--clients"), 1, kMaxClients);
    else if (a == "--rotate") o.rotate = std::max(1, parse_int(value(), "--rotate"));
    else if (a == "--seed") o.seed = std::strtoull(value(), nullptr, 10);
    else if (a == "--dir") o.dir = value();
    else {
      std::fprintf(stderr, "usage: crash_test [--kills N] [--clients K] [--seed S] [--rotate R] [--dir D]\n");
      return 64;
    }
  }
  std::printf("crash_test: %d kills, %d clients, seed %llu\n", o.kills, o.clients,
              static_cast<unsigned long long>(o.seed));
  std::fflush(stdout);
  std::mt19937_64 rng(o.seed);
  std::string db = fmt::format("{}/crash-{}.db", o.dir, getpid());
  int64_t last_ack[kMaxClients] = {};
  int64_t total_acks = 0, killed_before_first_ack = 0, max_events = 0;
  int64_t total_journal_only = 0, kills_with_journal_only = 0;
  int64_t t0 = now_ms();

  for (int kill_no = 0; kill_no < o.kills; ++kill_no) {
    if (kill_no % o.rotate == 0) {
      remove_db(db);
      std::fill(std::begin(last_ack), std::end(last_ack), 0);
    }
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("pipe");
      return 1;
    }
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      close(fds[0]);
      run_child(db, o.clients, last_ack, fds[1]);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);

    // Most kills land while ingesting (a random delay after the first ack);
    // some land early, while the child opens and recovers the database.
    bool early = std::uniform_int_distribution<int>(0, 4)(rng) == 0;
    int64_t delay = early ? std::uniform_int_distribution<int64_t>(0, 40)(rng)
                          : std::uniform_int_distribution<int64_t>(1, 150)(rng);
    int64_t start = now_ms();
    int64_t deadline = early ? start + delay : -1;
    int64_t acks_before[kMaxClients];
    std::copy(std::begin(last_ack), std::end(last_ack), acks_before);
    std::string partial, error;
    bool open = true;
    while (open) {
      int64_t now = now_ms();
      if (deadline < 0) {
        for (int k = 0; k < o.clients; ++k) {
          if (last_ack[k] != acks_before[k]) deadline = now + delay;
        }
      }
      if (deadline >= 0 && now >= deadline) break;
      if (now - start > 30000) {
        error = "the child acknowledged nothing for 30 s";
        break;
      }
      pollfd p{fds[0], POLLIN, 0};
      int wait = deadline < 0 ? 20 : static_cast<int>(std::max<int64_t>(0, deadline - now));
      poll(&p, 1, wait);
      open = drain(fds[0], &partial, last_ack, o.clients, &error);
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    fcntl(fds[0], F_SETFL, 0);
    while (drain(fds[0], &partial, last_ack, o.clients, &error)) {
    }
    close(fds[0]);
    if (!open || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      std::fprintf(stderr, "crash_test: kill %d: the child ended on its own (status %d)\n",
                   kill_no, status);
      return 1;
    }
    if (!error.empty()) {
      std::fprintf(stderr, "crash_test: kill %d: %s\n", kill_no, error.c_str());
      return 1;
    }
    int64_t acked = 0;
    for (int k = 0; k < o.clients; ++k) acked += last_ack[k] - acks_before[k];
    total_acks += acked;
    if (acked == 0) ++killed_before_first_ack;
    int64_t journal_only = 0;
    std::string failure = verify(db, o.clients, last_ack, &journal_only);
    total_journal_only += journal_only;
    if (journal_only > 0) ++kills_with_journal_only;
    if (!failure.empty()) {
      std::fprintf(stderr, "crash_test: kill %d (seed %llu): %s\n", kill_no,
                   static_cast<unsigned long long>(o.seed), failure.c_str());
      return 1;
    }
    int64_t events = 0;
    for (int k = 0; k < o.clients; ++k) events += last_ack[k];
    max_events = std::max(max_events, events);
    if ((kill_no + 1) % 50 == 0 && kill_no + 1 < o.kills) {
      std::printf("crash_test: %d kills checked (%.1f s)\n", kill_no + 1, (now_ms() - t0) / 1000.0);
      std::fflush(stdout);
    }
  }
  remove_db(db);
  std::printf(
      "crash_test: %d kills passed in %.1f s: %lld new acks checked, %lld kills before any ack, "
      "up to %lld acknowledged events per database; %lld kills left %lld acknowledged events "
      "only in the ack journal, and the reopen applied them\n",
      o.kills, (now_ms() - t0) / 1000.0, static_cast<long long>(total_acks),
      static_cast<long long>(killed_before_first_ack), static_cast<long long>(max_events),
      static_cast<long long>(kills_with_journal_only), static_cast<long long>(total_journal_only));
  return 0;
}
