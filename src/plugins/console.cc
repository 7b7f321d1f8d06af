// The console reporter: live progress while a run goes, a summary at its end.
//
// On a terminal (isatty of the stream) progress is one line redrawn in place:
// a bar of finished over started tests, the counts so far, the elapsed time
// and the test that finished last. Elsewhere (CI logs, files) every finished
// attempt is one plain line, and a failure adds its first error line.
// At run.end / run.cancel the summary lists failed tests with their first
// error line, flaky tests with their attempts, the count of skipped tests,
// the slowest tests, and one closing line with the totals.
//
// Settings: "stream": "stdout" | "stderr" (default stdout), or "path": a file
// to append to (never a terminal); "color": "auto" | true | false (auto: a
// terminal, NO_COLOR unset and TERM not "dumb"); "slowest": N (default 5).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include <unistd.h>

#include <fmt/format.h>

#include "baton/state.h"
#include "plugins/builtins.h"
#include "report/markup.h"

namespace baton::plugins {

namespace {

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string duration_text(double ms) {
  if (ms < 0) return "";
  if (ms < 1000) return fmt::format("{:.0f}ms", ms);
  if (ms < 60000) return fmt::format("{:.1f}s", ms / 1000);
  return fmt::format("{}m {:.0f}s", static_cast<int64_t>(ms / 60000),
                     (ms - 60000 * static_cast<double>(static_cast<int64_t>(ms / 60000))) / 1000);
}

// Event text made safe for a terminal: control characters (C0, DEL, C1)
// could move the cursor, recolor or retitle it, so they are dropped; a tab
// becomes a space.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\t') {
      out.push_back(' ');
    } else if (c < 0x20 || c == 0x7f) {
      continue;
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// At most `bytes` bytes of `text`, never cutting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, size_t bytes) {
  if (text.size() <= bytes) return text;
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
  return text.substr(0, bytes);
}

struct SuiteName {
  std::string name;
  std::string parent;
};

// "outer › inner" from the suites seen so far.
std::string suite_title(const StringMap<SuiteName>& suites, std::string_view id) {
  std::string path;
  for (int depth = 0; depth < 32 && !id.empty(); ++depth) {
    auto it = suites.find(id);
    if (it == suites.end()) break;
    path = path.empty() ? it->second.name : it->second.name + " \u203a " + path;
    id = it->second.parent;
  }
  return path;
}

struct Live {
  std::string name;
  std::string suite;
};

struct RunProgress {
  int64_t started_ms = 0;  // steady clock, for the elapsed time
  int64_t started = 0, finished = 0, passed = 0, failed = 0, skipped = 0, retried = 0;
  StringMap<Live> running;
  StringMap<SuiteName> suites;
  std::string last;
};

class ConsolePlugin final : public Plugin {
 public:
  FILE* stream = stdout;
  FILE* owned = nullptr;
  bool tty = false;
  bool color = false;
  int64_t slowest = 5;

  ~ConsolePlugin() override {
    if (owned) std::fclose(owned);
  }

  uint32_t event_mask() const override {
    return event_type_bit(EventType::kRunStart) | event_type_bit(EventType::kRunEnd) |
           event_type_bit(EventType::kRunCancel) | event_type_bit(EventType::kSuiteStart) |
           event_type_bit(EventType::kTestStart) | event_type_bit(EventType::kTestEnd);
  }
  void attach(PluginHost* host) override { host_ = host; }

  Status observe(const PluginEvent& ev) override {
    const Event& e = ev.event();
    switch (e.type) {
      case EventType::kRunStart: {
        auto [it, fresh] = runs_.try_emplace(std::string(e.run));
        if (fresh) {
          it->second.started_ms = steady_ms();
          std::string title = printable(e.name.empty() ? e.run : e.name);
          line(fmt::format("{} {}", paint("1", "Running"), title));
        }
        break;
      }
      case EventType::kSuiteStart:
        progress(e.run).suites[std::string(e.id)] = SuiteName{printable(e.name), std::string(e.parent)};
        break;
      case EventType::kTestStart: {
        RunProgress& p = progress(e.run);
        ++p.started;
        Live& live = p.running[std::string(e.id)];
        live.name.assign(e.name);
        live.suite.assign(e.suite);
        if (tty) redraw(p);
        break;
      }
      case EventType::kTestEnd:
        test_end(progress(e.run), e);
        break;
      case EventType::kRunEnd:
      case EventType::kRunCancel:
        return run_end(e.run);
      default:
        break;
    }
    return Status::ok();
  }

 private:
  RunProgress& progress(std::string_view run) {
    auto [it, fresh] = runs_.try_emplace(std::string(run));
    if (fresh) it->second.started_ms = steady_ms();
    return it->second;
  }

  std::string paint(std::string_view code, std::string_view text) const {
    if (!color) return std::string(text);
    return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
  }

  void clear_progress() {
    if (tty && progress_shown_) {
      std::fputs("\r\x1b[2K", stream);
      progress_shown_ = false;
    }
  }

  void line(std::string_view text) {
    clear_progress();
    std::fwrite(text.data(), 1, text.size(), stream);
    std::fputc('\n', stream);
    std::fflush(stream);
  }

  std::string title(const RunProgress& p, std::string_view suite, std::string_view name) const {
    std::string path = suite_title(p.suites, suite);
    return path.empty() ? printable(name) : path + " \u203a " + printable(name);
  }

  void test_end(RunProgress& p, const Event& e) {
    std::string name(e.id), suite(e.suite);
    if (auto it = p.running.find(e.id); it != p.running.end()) {
      if (!it->second.name.empty()) name = it->second.name;
      if (suite.empty()) suite = it->second.suite;
      p.running.erase(it);
    }
    ++p.finished;
    int64_t attempt = e.attempt > 0 ? e.attempt : 1;
    std::string what = title(p, suite, name);
    std::string mark;
    switch (e.status) {
      case TestStatus::kPassed:
        ++p.passed;
        mark = paint("32", "\u2713");
        if (attempt > 1) what += paint("33", fmt::format(" (passed on attempt {}, flaky)", attempt));
        break;
      case TestStatus::kSkipped:
        ++p.skipped;
        mark = paint("2", "-");
        break;
      case TestStatus::kFailed:
      case TestStatus::kTimedout:
      case TestStatus::kInterrupted:
        ++p.failed;
        mark = paint("31", "\u2718");
        if (e.status != TestStatus::kFailed) what += fmt::format(" ({})", test_status_name(e.status));
        if (attempt > 1) what += fmt::format(" (attempt {})", attempt);
        break;
      default:
        break;
    }
    if (attempt > 1) ++p.retried;
    p.last = what;
    if (tty) {
      // On a terminal only failures leave a line; the rest is the progress bar.
      if (e.status == TestStatus::kFailed || e.status == TestStatus::kTimedout) {
        line(fmt::format("  {} {}", mark, what));
        std::string first = printable(first_line(e.error_message));
        if (!first.empty()) line(fmt::format("      {}", paint("31", first)));
      }
      redraw(p);
      return;
    }
    std::string d = e.duration_ms >= 0 ? paint("2", fmt::format(" ({})", duration_text(e.duration_ms))) : "";
    line(fmt::format("  {} {}{}", mark, what, d));
    std::string first = printable(first_line(e.error_message));
    if (!first.empty() && e.status != TestStatus::kPassed && e.status != TestStatus::kSkipped) {
      line(fmt::format("      {}", first));
    }
  }

  void redraw(const RunProgress& p) {
    int64_t now = steady_ms();
    bool done = p.finished == p.started;
    if (!done && now - last_draw_ms_ < 50) return;
    last_draw_ms_ = now;
    constexpr int kWidth = 24;
    int filled = p.started > 0 ? static_cast<int>(kWidth * p.finished / p.started) : 0;
    std::string bar;
    for (int i = 0; i < kWidth; ++i) bar += i < filled ? "\u2588" : "\u2591";
    std::string text = fmt::format(
        "{} {}/{}  {} {} {} {}  {}  {}", paint(p.failed ? "31" : "32", bar), p.finished, p.started,
        paint("32", fmt::format("\u2713 {}", p.passed)), paint("31", fmt::format("\u2718 {}", p.failed)),
        paint("2", fmt::format("- {}", p.skipped)), paint("33", fmt::format("\u21bb {}", p.retried)),
        duration_text(static_cast<double>(now - p.started_ms)), utf8_prefix(p.last, 60));
    std::fputs("\r\x1b[2K", stream);
    std::fwrite(text.data(), 1, text.size(), stream);
    std::fflush(stream);
    progress_shown_ = true;
  }

  Status run_end(std::string_view run) {
    auto it = runs_.find(run);
    if (it != runs_.end()) runs_.erase(it);
    std::string json;
    Status s = host_->export_run(run, "json", &json);
    if (!s) {
      clear_progress();
      return s;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element report;
    if (parser.parse(json).get(report) != simdjson::SUCCESS) {
      return Status::error(Code::kInternal, "the run report did not parse");
    }
    StringMap<SuiteName> suites;
    for (auto su : report["suites"].get_array()) {
      std::string_view id, name, parent;
      if (su["id"].get(id) || su["name"].get(name)) continue;
      if (su["parent"].get(parent)) parent = "";
      suites[std::string(id)] = SuiteName{printable(name), std::string(parent)};
    }
    struct Row {
      std::string title, status, error;
      double duration = -1;
      int64_t attempts = 0;
      bool flaky = false;
    };
    std::vector<Row> rows;
    for (auto t : report["tests"].get_array()) {
      Row r;
      std::string_view id, name, suite, status;
      if (t["id"].get(id) == simdjson::SUCCESS) r.title = printable(id);
      if (t["name"].get(name) == simdjson::SUCCESS && !name.empty()) r.title = printable(name);
      if (t["suite"].get(suite) == simdjson::SUCCESS) {
        std::string path = suite_title(suites, suite);
        if (!path.empty()) r.title = path + " \u203a " + r.title;
      }
      if (t["status"].get(status) == simdjson::SUCCESS) r.status.assign(status);
      if (t["flaky"].get(r.flaky)) r.flaky = false;
      simdjson::dom::array attempts;
      if (t["attempts"].get(attempts) == simdjson::SUCCESS) {
        for (auto a : attempts) {
          ++r.attempts;
          double d;
          r.duration = a["duration_ms"].get(d) == simdjson::SUCCESS ? d : -1;
          std::string_view message;
          // The summary shows the last attempt's error.
          r.error.clear();
          if (a["error"]["message"].get(message) == simdjson::SUCCESS) r.error = printable(first_line(message));
        }
      }
      rows.push_back(std::move(r));
    }

    std::string_view run_status, run_name;
    if (report["status"].get(run_status)) run_status = "";
    if (report["name"].get(run_name) || run_name.empty()) run_name = run;
    std::string run_title = printable(run_name);
    int64_t duration_ms = 0;
    if (report["duration_ms"].get(duration_ms)) duration_ms = -1;

    int64_t failed = 0, flaky = 0, skipped = 0, passed = 0, other = 0;
    std::string out = "\n";
    for (const Row& r : rows) {
      if (r.status == "failed" || r.status == "timedout" || r.status == "interrupted") ++failed;
      else if (r.flaky) ++flaky;
      else if (r.status == "skipped") ++skipped;
      else if (r.status == "passed") ++passed;
      else ++other;
    }
    if (failed) {
      out += paint("31", fmt::format("  {} failed", failed)) + "\n";
      for (const Row& r : rows) {
        if (r.status != "failed" && r.status != "timedout" && r.status != "interrupted") continue;
        std::string extra = r.status == "failed" ? "" : fmt::format(" [{}]", r.status);
        if (r.attempts > 1) extra += fmt::format(" ({} attempts)", r.attempts);
        out += fmt::format("    {} {}{}\n", paint("31", "\u2718"), r.title, extra);
        if (!r.error.empty()) out += fmt::format("        {}\n", paint("2", r.error));
      }
    }
    if (flaky) {
      out += paint("33", fmt::format("  {} flaky", flaky)) + "\n";
      for (const Row& r : rows) {
        if (!r.flaky) continue;
        out += fmt::format("    {} {} ({} attempts)\n", paint("33", "\u21bb"), r.title, r.attempts);
      }
    }
    if (skipped) out += paint("2", fmt::format("  {} skipped", skipped)) + "\n";
    if (other) out += fmt::format("  {} still running\n", other);
    out += paint("32", fmt::format("  {} passed", passed)) + "\n";

    std::vector<const Row*> timed;
    for (const Row& r : rows) {
      if (r.duration >= 0) timed.push_back(&r);
    }
    std::stable_sort(timed.begin(), timed.end(),
                     [](const Row* a, const Row* b) { return a->duration > b->duration; });
    if (slowest > 0 && !timed.empty()) {
      out += "\n  Slowest tests:\n";
      for (size_t i = 0; i < timed.size() && static_cast<int64_t>(i) < slowest; ++i) {
        out += fmt::format("    {:>8}  {}\n", duration_text(timed[i]->duration), timed[i]->title);
      }
    }
    std::string status_word = paint(failed ? "1;31" : "1;32", run_status);
    out += fmt::format("\n  Run {} {}: {} tests", run_title, status_word, rows.size());
    std::vector<std::string> parts;
    if (failed) parts.push_back(fmt::format("{} failed", failed));
    if (flaky) parts.push_back(fmt::format("{} flaky", flaky));
    if (skipped) parts.push_back(fmt::format("{} skipped", skipped));
    parts.push_back(fmt::format("{} passed", passed));
    out += " (" + fmt::format("{}", fmt::join(parts, ", ")) + ")";
    if (duration_ms >= 0) out += fmt::format(" in {}", duration_text(static_cast<double>(duration_ms)));
    out += "\n";
    clear_progress();
    std::fwrite(out.data(), 1, out.size(), stream);
    std::fflush(stream);
    return Status::ok();
  }

  PluginHost* host_ = nullptr;
  StringMap<RunProgress> runs_;
  bool progress_shown_ = false;
  int64_t last_draw_ms_ = 0;
};

}  // namespace

Status make_console(Settings& settings, std::unique_ptr<Plugin>* out) {
  auto p = std::make_unique<ConsolePlugin>();
  std::string stream = "stdout", path;
  Status s = settings.string("stream", &stream);
  if (!s) return s;
  if (!(s = settings.string("path", &path))) return s;
  if (!(s = settings.integer("slowest", 0, 1000, &p->slowest))) return s;
  simdjson::dom::element color;
  bool has_color = settings.element("color", &color);
  if (!(s = settings.finish())) return s;
  if (stream == "stdout") {
    p->stream = stdout;
  } else if (stream == "stderr") {
    p->stream = stderr;
  } else {
    return settings.error("stream", "must be \"stdout\" or \"stderr\"");
  }
  if (!path.empty()) {
    p->owned = std::fopen(path.c_str(), "a");
    if (p->owned == nullptr) {
      return settings.error("path", fmt::format("names a file that cannot be opened: {}",
                                                std::strerror(errno)));
    }
    p->stream = p->owned;
  }
  p->tty = isatty(fileno(p->stream)) != 0;
  const char* term = std::getenv("TERM");
  p->color = p->tty && std::getenv("NO_COLOR") == nullptr && !(term && std::strcmp(term, "dumb") == 0);
  if (has_color) {
    std::string_view word;
    bool b;
    if (color.get(b) == simdjson::SUCCESS) {
      p->color = b;
    } else if (color.get(word) != simdjson::SUCCESS || word != "auto") {
      return settings.error("color", "must be \"auto\", true or false");
    }
  }
  *out = std::move(p);
  return Status::ok();
}

}  // namespace baton::plugins
