#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <fmt/format.h>

#include "plugins/builtins.h"

namespace baton::plugins {

Status Settings::parse(std::string_view plugin, std::string_view json) {
  plugin_.assign(plugin);
  simdjson::dom::element root;
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos || json == "true") {
    return Status::ok();
  }
  if (parser_.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.get(obj_) != simdjson::SUCCESS) {
    return Status::error(Code::kInvalidArgument,
                         fmt::format("the settings of plugin \"{}\" must be an object", plugin));
  }
  empty_ = false;
  return Status::ok();
}

bool Settings::element(const char* key, simdjson::dom::element* dst) {
  asked_.emplace(key);
  if (empty_) return false;
  return obj_[key].get(*dst) == simdjson::SUCCESS;
}

bool Settings::has(const char* key) {
  simdjson::dom::element e;
  return element(key, &e);
}

Status Settings::error(const char* key, std::string_view what) const {
  return Status::error(Code::kInvalidArgument,
                       fmt::format("plugin \"{}\": setting \"{}\" {}", plugin_, key, what));
}

Status Settings::string(const char* key, std::string* dst) {
  simdjson::dom::element e;
  if (!element(key, &e)) return Status::ok();
  std::string_view v;
  if (e.get(v) != simdjson::SUCCESS) return error(key, "must be a string");
  dst->assign(v);
  return Status::ok();
}

Status Settings::integer(const char* key, int64_t min, int64_t max, int64_t* dst) {
  simdjson::dom::element e;
  if (!element(key, &e)) return Status::ok();
  int64_t v;
  if (e.get(v) != simdjson::SUCCESS || v < min || v > max) {
    return error(key, fmt::format("must be an integer {}..{}", min, max));
  }
  *dst = v;
  return Status::ok();
}

Status Settings::number(const char* key, double min, double* dst) {
  simdjson::dom::element e;
  if (!element(key, &e)) return Status::ok();
  double v;
  if (e.get(v) != simdjson::SUCCESS || !(v >= min)) {
    return error(key, fmt::format("must be a number >= {}", min));
  }
  *dst = v;
  return Status::ok();
}

Status Settings::boolean(const char* key, bool* dst) {
  simdjson::dom::element e;
  if (!element(key, &e)) return Status::ok();
  if (e.get(*dst) != simdjson::SUCCESS) return error(key, "must be true or false");
  return Status::ok();
}

Status Settings::strings(const char* key, std::vector<std::string>* dst) {
  simdjson::dom::element e;
  if (!element(key, &e)) return Status::ok();
  simdjson::dom::array arr;
  if (e.get(arr) != simdjson::SUCCESS) return error(key, "must be an array of strings");
  dst->clear();
  for (auto item : arr) {
    std::string_view v;
    if (item.get(v) != simdjson::SUCCESS) return error(key, "must be an array of strings");
    dst->emplace_back(v);
  }
  return Status::ok();
}

Status Settings::finish() const {
  if (empty_) return Status::ok();
  for (auto field : obj_) {
    if (asked_.count(field.key) == 0) {
      return Status::error(Code::kInvalidArgument,
                           fmt::format("plugin \"{}\": unknown setting \"{}\"", plugin_, field.key));
    }
  }
  return Status::ok();
}

Status write_file_atomic(const std::string& path, std::string_view content) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(path);
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) {
      return Status::error(Code::kInternal, fmt::format("cannot create the directory of \"{}\": {}",
                                                        path, ec.message()));
    }
  }
  std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      return Status::error(Code::kInternal, fmt::format("cannot write \"{}\"", tmp));
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return Status::error(Code::kInternal,
                         fmt::format("cannot rename onto \"{}\": {}", path, ec.message()));
  }
  return Status::ok();
}

Status OutputPath::read(Settings& settings) {
  Status s = settings.string("path", &path);
  if (!s) return s;
  s = settings.string("dir", &dir);
  if (!s) return s;
  if (settings.has("path") && settings.has("dir")) {
    return settings.error("path", "and \"dir\" exclude each other");
  }
  if (settings.has("path") && path.empty()) return settings.error("path", "must not be empty");
  if (dir.empty()) return settings.error("dir", "must not be empty");
  return Status::ok();
}

std::string file_safe(std::string_view text) {
  std::string safe;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    safe.push_back(ok ? c : '_');
  }
  // Never a hidden file, "." or "..".
  if (safe.empty() || safe[0] == '.') safe.insert(safe.begin(), '_');
  return safe;
}

std::string OutputPath::for_run(std::string_view run) const {
  std::string safe = file_safe(run);
  if (path.empty()) return fmt::format("{}/{}.{}", dir, safe, extension);
  std::string p = path;
  for (size_t at = p.find("{run}"); at != std::string::npos; at = p.find("{run}", at + safe.size())) {
    p.replace(at, 5, safe);
  }
  return p;
}

}  // namespace baton::plugins
