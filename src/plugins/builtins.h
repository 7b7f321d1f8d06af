// The built-in plugins, one factory each, and what they share: a reader for
// their settings objects and an atomic file writer for the report plugins.
#ifndef BATON_PLUGINS_BUILTINS_H_
#define BATON_PLUGINS_BUILTINS_H_

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "baton/plugin.h"

namespace baton::plugins {

// A plugin's settings object. Each getter leaves the destination unchanged
// when the key is absent and fails, naming the key, when it has the wrong
// type; finish() refuses keys no getter asked for.
class Settings {
 public:
  Status parse(std::string_view plugin, std::string_view json);
  bool has(const char* key);
  Status string(const char* key, std::string* dst);
  Status integer(const char* key, int64_t min, int64_t max, int64_t* dst);
  Status number(const char* key, double min, double* dst);
  Status boolean(const char* key, bool* dst);
  Status strings(const char* key, std::vector<std::string>* dst);
  // The raw value, for settings that take more than one shape.
  bool element(const char* key, simdjson::dom::element* dst);
  Status error(const char* key, std::string_view what) const;
  Status finish() const;

 private:
  std::string plugin_;
  simdjson::dom::parser parser_;
  simdjson::dom::object obj_;
  bool empty_ = true;
  std::set<std::string, std::less<>> asked_;
};

// Writes `content` to `path` through a temporary file and a rename, so that
// a reader never sees half a report; creates missing parent directories.
Status write_file_atomic(const std::string& path, std::string_view content);

// `text` with every character but [A-Za-z0-9._-] replaced by '_', so that a
// run or test id can name a file.
std::string file_safe(std::string_view text);

// Where a report plugin writes: `path` (may hold "{run}") or `dir` (one file
// per run, named after the run id with unsafe characters replaced).
struct OutputPath {
  std::string path;
  std::string dir = "reports";
  std::string extension;
  Status read(Settings& settings);
  std::string for_run(std::string_view run) const;
};

Status make_console(Settings& settings, std::unique_ptr<Plugin>* out);
Status make_report_file(std::string_view format, Settings& settings, std::unique_ptr<Plugin>* out);
Status make_performance(Settings& settings, std::unique_ptr<Plugin>* out);
Status make_redact(Settings& settings, std::unique_ptr<Plugin>* out);
Status make_retry(Settings& settings, std::unique_ptr<Plugin>* out);
Status make_screenshot(Settings& settings, std::unique_ptr<Plugin>* out);

}  // namespace baton::plugins

#endif  // BATON_PLUGINS_BUILTINS_H_
