#include <fmt/format.h>

#include "report/report.h"

namespace baton {

Status render_report(const RunReport& report, std::string_view format, std::string* out) {
  if (format == "json") return render_json(report, out);
  if (format == "junit") return render_junit(report, out);
  if (format == "ctrf") return render_ctrf(report, out);
  if (format == "html") return render_html(report, out);
  return Status::error(
      Code::kInvalidArgument,
      fmt::format("unknown export format \"{}\" (known: json, junit, ctrf, html)", format));
}

}  // namespace baton
