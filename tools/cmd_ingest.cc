// baton ingest: replays a recorded JSON Lines stream into a database, one
// session per distinct `client`, exactly as a server would have received it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "engine.h"
#include "json_util.h"
#include "summary_view.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton ingest FILE.jsonl --db PATH [--durability MODE] [--token T] [--json]\n"
    "\n"
    "Pushes every line of FILE (one JSON message per line; '-' reads stdin) into the\n"
    "database, opening one session per distinct \"client\" field, then prints the\n"
    "summary of every run the stream touched. Messages carrying a seq already\n"
    "recorded are acknowledged as duplicates and not applied twice, so ingesting\n"
    "the same file again changes nothing. Rate-limited messages are retried after\n"
    "the delay the engine asks for.\n"
    "\n"
    "For bulk loads, --durability async is several times faster: ingest flushes\n"
    "before it exits 0, so everything is durable then; after a crash, running it\n"
    "again records what was missing (messages carrying a seq are never doubled).\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --token T            the token every session presents (when access is configured)\n"
    "  --json               print each run summary as one JSON line instead of text\n"
    "\n"
    "exit codes: 0 every message accepted, 2 usage error, 3 the file or database\n"
    "cannot be opened, 4 some messages were refused (counted by code on stderr).\n";

constexpr int kMaxRateLimitRetries = 1000;
constexpr size_t kMaxRefusalSamples = 5;

struct ClientSession {
  baton_session* session = nullptr;
  int open_status = BATON_OK;
  std::string open_error;
};

class Ingestor {
 public:
  Ingestor(baton_engine* engine, std::string token) : engine_(engine), token_(std::move(token)) {}
  ~Ingestor() {
    for (auto& [client, cs] : sessions_) baton_session_close(cs.session);
  }

  void push_line(std::string_view line, size_t line_no) {
    ++messages_;
    std::string client;
    if (auto doc = parser_.parse(line.data(), line.size(), true); !doc.error()) {
      simdjson::dom::element root = doc.value_unsafe();
      if (auto c = get_string(root, "client")) client = *c;
      if (auto r = get_string(root, "run")) note_run(*r);
    }
    ClientSession& cs = session_for(client);
    if (!cs.session) {
      refuse(baton_status_name(cs.open_status), cs.open_error, line_no);
      return;
    }
    for (int attempt = 0;; ++attempt) {
      BatonString reply;
      int rc = baton_push(cs.session, line.data(), line.size(), reply.out(), reply.out_len());
      if (rc == BATON_OK) {
        ++accepted_;
        auto r = Document::parse(reply.view());
        if (r && get_bool(r->root(), "dup").value_or(false)) ++duplicates_;
        return;
      }
      auto r = Document::parse(reply.view());
      if (rc == BATON_ERATE_LIMITED && attempt < kMaxRateLimitRetries) {
        int64_t wait = r ? get_int(r->root(), "retry_after_ms").value_or(10) : 10;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(wait, 1)));
        continue;
      }
      std::string error = r ? std::string(get_string(r->root(), "error").value_or("")) : "";
      refuse(baton_status_name(rc), error.empty() ? baton_last_error() : error, line_no);
      return;
    }
  }

  const std::vector<std::string>& runs() const { return runs_; }
  size_t refused() const { return messages_ - accepted_; }

  void print_counts(std::string_view source) const {
    std::printf("ingested %zu messages from %.*s: %zu accepted (%zu duplicates), %zu refused\n",
                messages_, static_cast<int>(source.size()), source.data(), accepted_,
                duplicates_, refused());
    for (const auto& [code, n] : refusals_) std::printf("  refused %-16s %zu\n", code.c_str(), n);
    for (const auto& s : samples_) std::fprintf(stderr, "  %s\n", s.c_str());
    if (refused() > samples_.size()) {
      std::fprintf(stderr, "  (%zu more refusals not shown)\n", refused() - samples_.size());
    }
  }

 private:
  ClientSession& session_for(const std::string& client) {
    auto it = sessions_.find(client);
    if (it != sessions_.end()) return it->second;
    ClientSession& cs = sessions_[client];
    std::vector<std::pair<std::string, std::string>> creds;
    if (!client.empty()) creds.emplace_back("client", json_quote(client));
    if (!token_.empty()) creds.emplace_back("token", json_quote(token_));
    std::string credentials = creds.empty() ? "" : json_object_with("", creds, "credentials");
    cs.open_status = baton_session_open(engine_, credentials.empty() ? nullptr : credentials.c_str(),
                                        &cs.session);
    if (cs.open_status != BATON_OK) {
      cs.session = nullptr;
      cs.open_error = fmt::format("opening a session for client '{}': {}", client,
                                  baton_last_error());
    }
    return cs;
  }

  void note_run(std::string_view run) {
    if (seen_runs_.emplace(run).second) runs_.emplace_back(run);
  }

  void refuse(const std::string& code, const std::string& error, size_t line_no) {
    ++refusals_[code];
    if (samples_.size() < kMaxRefusalSamples) {
      samples_.push_back(fmt::format("line {}: {}: {}", line_no, code, error));
    }
  }

  baton_engine* engine_;
  std::string token_;
  simdjson::dom::parser parser_;
  std::map<std::string, ClientSession> sessions_;
  std::set<std::string, std::less<>> seen_runs_;
  std::vector<std::string> runs_;
  std::map<std::string, size_t> refusals_;
  std::vector<std::string> samples_;
  size_t messages_ = 0;
  size_t accepted_ = 0;
  size_t duplicates_ = 0;
};

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

int run_ingest(CommandArgs argv) {
  auto specs = db_option_specs();
  specs.push_back({"token"});
  specs.push_back({"json", false});
  Args args = Args::parse(argv, specs, with_db_help(kHelp));
  if (args.positional().size() != 1) {
    throw usage_error("ingest", "give exactly one FILE.jsonl to ingest ('-' for stdin)");
  }
  const std::string& source = args.positional()[0];
  DbSettings db = db_settings_from(args, "ingest", /*must_exist=*/false);

  std::ifstream file;
  std::istream* in = &std::cin;
  if (source != "-") {
    file.open(source, std::ios::binary);
    if (!file) {
      throw CliError(kExitRuntime, fmt::format("cannot read {}", source),
                     "check the path, or pass '-' to read the stream from stdin");
    }
    in = &file;
  }
  std::ios::sync_with_stdio(false);

  Engine engine(db);
  std::vector<std::string> runs;
  size_t refused = 0;
  {
    Ingestor ingestor(engine.get(), args.get_or("token", ""));
    std::string line;
    size_t line_no = 0;
    while (std::getline(*in, line)) {
      ++line_no;
      if (is_blank(line)) continue;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      ingestor.push_line(line, line_no);
    }
    if (in->bad()) throw CliError(kExitRuntime, fmt::format("reading {} failed", source));
    ingestor.print_counts(source == "-" ? "stdin" : source);
    runs = ingestor.runs();
    refused = ingestor.refused();
  }
  if (int rc = baton_flush(engine.get()); rc != BATON_OK) {
    throw status_error(rc, fmt::format("flushing {}", db.describe()), db.postgres());
  }

  const bool as_json = args.has("json");
  for (const auto& run : runs) {
    std::string answer;
    try {
      answer = engine.query(fmt::format("{{\"op\":\"run\",\"run\":{}}}", json_quote(run)));
    } catch (const CliError& e) {
      // A stream whose run.start was refused has no run to summarize.
      std::fprintf(stderr, "no summary for run %s: %s\n", run.c_str(), e.what());
      continue;
    }
    auto doc = Document::parse(answer);
    if (!doc) throw CliError(kExitRuntime, "the engine answered a run query with invalid JSON");
    if (as_json) {
      std::printf("%s\n", compact_json(doc->root()).c_str());
    } else {
      std::fputs(render_summary(doc->root()).c_str(), stdout);
    }
  }
  engine.close();
  return refused == 0 ? kExitOk : kExitRefused;
}

}  // namespace baton_cli
