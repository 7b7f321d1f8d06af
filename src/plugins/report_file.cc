// Report plugins (json, junit, ctrf, html, performance): when a run ends
// (run.end or run.cancel), they ask the engine for the run's export (or,
// for performance, the `perf` query) and write it to a file.
#include <functional>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "plugins/builtins.h"

namespace baton::plugins {

namespace {

using Producer = std::function<Status(PluginHost* host, std::string_view run, std::string* out)>;

class ReportFilePlugin final : public Plugin {
 public:
  ReportFilePlugin(std::string name, OutputPath output, Producer producer)
      : name_(std::move(name)), output_(std::move(output)), producer_(std::move(producer)) {}

  uint32_t event_mask() const override {
    return event_type_bit(EventType::kRunEnd) | event_type_bit(EventType::kRunCancel);
  }
  void attach(PluginHost* host) override { host_ = host; }

  Status observe(const PluginEvent& ev) override {
    std::string_view run = ev.event().run;
    std::string text;
    Status s = producer_(host_, run, &text);
    if (!s) return s;
    std::string path = output_.for_run(run);
    s = write_file_atomic(path, text);
    if (!s) return s;
    host_->log(1, fmt::format("{}: wrote {} for run \"{}\"", name_, path, run));
    return Status::ok();
  }

 private:
  std::string name_;
  OutputPath output_;
  Producer producer_;
  PluginHost* host_ = nullptr;
};

}  // namespace

Status make_report_file(std::string_view format, Settings& settings, std::unique_ptr<Plugin>* out) {
  OutputPath output;
  output.extension = format == "junit" ? "xml" : format == "ctrf" ? "ctrf.json" : std::string(format);
  Status s = output.read(settings);
  if (!s) return s;
  s = settings.finish();
  if (!s) return s;
  std::string fmt_name(format);
  *out = std::make_unique<ReportFilePlugin>(
      fmt_name, std::move(output),
      [fmt_name](PluginHost* host, std::string_view run, std::string* text) {
        return host->export_run(run, fmt_name, text);
      });
  return Status::ok();
}

Status make_performance(Settings& settings, std::unique_ptr<Plugin>* out) {
  OutputPath output;
  output.extension = "perf.json";
  Status s = output.read(settings);
  if (!s) return s;
  int64_t slowest = 10;
  double factor = 3, min_delta_ms = 100;
  if (!(s = settings.integer("slowest", 0, 10000, &slowest))) return s;
  if (!(s = settings.number("factor", 1, &factor))) return s;
  if (!(s = settings.number("min_delta_ms", 0, &min_delta_ms))) return s;
  if (!(s = settings.finish())) return s;
  *out = std::make_unique<ReportFilePlugin>(
      "performance", std::move(output),
      [=](PluginHost* host, std::string_view run, std::string* text) {
        std::string request;
        JsonWriter w(&request);
        w.begin_object().field("op", "perf").field("run", run).field("slowest", slowest);
        w.field("factor", factor).field("min_delta_ms", min_delta_ms).end_object();
        Status q = host->query(request, text);
        if (!q) return q;
        // Regressions are worth a warning in the host's log as well.
        simdjson::dom::parser parser;
        simdjson::dom::array regressions;
        if (parser.parse(*text).at_key("regressions").get(regressions) == simdjson::SUCCESS) {
          for (auto r : regressions) {
            std::string_view id;
            double d = 0, median = 0;
            if (r["id"].get(id) || r["duration_ms"].get(d) || r["median_ms"].get(median)) continue;
            host->log(2, fmt::format("performance: test \"{}\" took {:.0f} ms in run \"{}\", its "
                                     "median is {:.0f} ms",
                                     id, d, run, median));
          }
        }
        return Status::ok();
      });
  return Status::ok();
}

}  // namespace baton::plugins
