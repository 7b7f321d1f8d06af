#include <fmt/format.h>

#include "plugins/builtins.h"

namespace baton {

Status make_builtin_plugin(std::string_view name, std::string_view settings_json,
                           std::unique_ptr<Plugin>* out) {
  out->reset();
  plugins::Settings settings;
  Status s = settings.parse(name, settings_json);
  if (!s) return s;
  if (name == "console") return plugins::make_console(settings, out);
  if (name == "json" || name == "junit" || name == "ctrf" || name == "html") {
    return plugins::make_report_file(name, settings, out);
  }
  if (name == "performance") return plugins::make_performance(settings, out);
  if (name == "redact") return plugins::make_redact(settings, out);
  if (name == "retry") return plugins::make_retry(settings, out);
  if (name == "screenshot") return plugins::make_screenshot(settings, out);
  return Status::error(Code::kInvalidArgument,
                       fmt::format("unknown plugin \"{}\" (known: console, json, junit, ctrf, html, "
                                   "performance, redact, retry, screenshot)",
                                   name));
}

}  // namespace baton
