#include <fmt/format.h>

#include "baton/plugin.h"

namespace baton {

Status make_builtin_plugin(std::string_view name, std::string_view settings_json,
                           std::unique_ptr<Plugin>* out) {
  (void)settings_json;
  out->reset();
  return Status::error(Code::kInvalidArgument, fmt::format("unknown plugin \"{}\"", name));
}

}  // namespace baton
