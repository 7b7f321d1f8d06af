#include "spec_list.h"

#include <glob.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "../cli.h"
#include "../json_util.h"

namespace baton_cli {

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::optional<PlannedSpec> spec_from_json(simdjson::dom::element item) {
  if (item.is_string()) return PlannedSpec{std::string(item.get_string().value_unsafe()), {}};
  auto id = get_string(item, "id");
  if (!id) return std::nullopt;
  return PlannedSpec{std::string(*id), get_int(item, "estimate_ms")};
}

}  // namespace

std::vector<PlannedSpec> specs_from_plan_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CliError(kExitUsage, fmt::format("cannot read the plan file {}", path),
                   "check --plan; it holds one spec id per line, or JSON {\"specs\":[...]}");
  }
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  std::vector<PlannedSpec> specs;
  std::string first = trim(text.substr(0, 64));
  if (first.starts_with('{') || first.starts_with('[')) {
    auto doc = Document::parse(text);
    if (!doc) throw CliError(kExitUsage, fmt::format("the plan file {} is not valid JSON", path));
    auto list = doc->root().is_array() ? std::optional(doc->root()) : get_field(doc->root(), "specs");
    if (!list || !list->is_array()) {
      throw CliError(kExitUsage, fmt::format("the plan file {} holds no \"specs\" array", path));
    }
    for (auto item : as_array(*list)) {
      auto spec = spec_from_json(item);
      if (!spec) {
        throw CliError(kExitUsage,
                       fmt::format("every spec in {} must be a string or an object with \"id\"",
                                   path));
      }
      specs.push_back(std::move(*spec));
    }
    return specs;
  }
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::string id = trim(line);
    if (!id.empty() && !id.starts_with('#')) specs.push_back({id, {}});
  }
  return specs;
}

std::vector<PlannedSpec> specs_from_list(const std::string& list) {
  std::vector<PlannedSpec> specs;
  std::istringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    std::string id = trim(item);
    if (!id.empty()) specs.push_back({id, {}});
  }
  return specs;
}

std::vector<PlannedSpec> specs_from_glob(const std::string& pattern) {
  glob_t g{};
  int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<PlannedSpec> specs;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) specs.push_back({g.gl_pathv[i], {}});
  }
  ::globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) {
    throw CliError(kExitRuntime, fmt::format("--specs-glob '{}' could not be read", pattern));
  }
  return specs;
}

std::string plan_json(const std::vector<PlannedSpec>& specs) {
  std::string out = "{\"specs\":[";
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i) out += ',';
    out += "{\"id\":";
    json_append_quoted(&out, specs[i].id);
    if (specs[i].estimate_ms) out += fmt::format(",\"estimate_ms\":{}", *specs[i].estimate_ms);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace baton_cli
