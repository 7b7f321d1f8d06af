#include "summary_view.h"

#include <ctime>

#include <fmt/format.h>

#include "cli.h"
#include "json_util.h"

namespace baton_cli {

std::string format_duration_ms(double ms) {
  if (ms < 1000) return fmt::format("{:.0f} ms", ms);
  double s = ms / 1000;
  if (s < 60) return fmt::format("{:.3f} s", s);
  auto total = static_cast<int64_t>(s);
  if (total < 3600) return fmt::format("{} min {:02} s", total / 60, total % 60);
  return fmt::format("{} h {:02} min", total / 3600, (total % 3600) / 60);
}

std::string format_timestamp_ms(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

namespace {

int64_t count_of(simdjson::dom::element obj, std::string_view key) {
  return get_int(obj, key).value_or(0);
}

}  // namespace

std::string render_summary(simdjson::dom::element summary) {
  std::string out;
  auto run = get_string(summary, "run").value_or("?");
  auto status = get_string(summary, "status").value_or("unknown");
  out += fmt::format("run {}: {}\n", run, status);

  auto specs = get_field(summary, "specs");
  const int64_t spec_total = specs ? count_of(*specs, "total") : 0;
  auto counts = get_field(summary, "counts");
  // A queue-mode run whose workers report no tests has only specs to show.
  if (counts && (count_of(*counts, "tests") > 0 || spec_total == 0)) {
    int64_t flaky = count_of(*counts, "flaky");
    std::string line = fmt::format("  tests    {} total, {} passed", count_of(*counts, "tests"),
                                   count_of(*counts, "passed"));
    if (flaky > 0) line += fmt::format(" ({} flaky)", flaky);
    line += fmt::format(", {} failed, {} skipped", count_of(*counts, "failed"),
                        count_of(*counts, "skipped"));
    for (const char* key : {"timedout", "interrupted", "running"}) {
      if (int64_t n = count_of(*counts, key); n > 0) {
        line += fmt::format(", {} {}", n, std::string_view(key) == "timedout" ? "timed out" : key);
      }
    }
    out += line + "\n";
  }
  if (spec_total > 0) {
    out += fmt::format("  specs    {} total, {} done, {} leased, {} queued\n", spec_total,
                       count_of(*specs, "done"), count_of(*specs, "leased"),
                       count_of(*specs, "queued"));
  }
  if (auto started = get_int(summary, "started_at")) {
    out += fmt::format("  started  {}\n", format_timestamp_ms(*started));
  }
  if (auto duration = get_number(summary, "duration_ms")) {
    out += fmt::format("  duration {}\n", format_duration_ms(*duration));
  }
  return out;
}

int summary_exit_code(simdjson::dom::element summary) {
  auto status = get_string(summary, "status").value_or("");
  if (status == "passed") return kExitOk;
  if (status == "running") {
    auto counts = get_field(summary, "counts");
    bool failing = counts && (count_of(*counts, "failed") > 0 || count_of(*counts, "timedout") > 0);
    return failing ? kExitFailed : kExitOk;
  }
  return kExitFailed;
}

}  // namespace baton_cli
