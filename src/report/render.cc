#include <fmt/format.h>

#include "report/report.h"

namespace baton {

Status render_report(const RunReport& report, std::string_view format, std::string* out) {
  if (format == "json") return render_json(report, out);
  return Status::error(Code::kInvalidArgument,
                       fmt::format("unknown export format \"{}\" (known: json)", format));
}

}  // namespace baton
