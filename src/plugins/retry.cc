// The retry policy: one answer, for every runner, to "should this failed
// test run again?". The answer rides on the reply to test.end as
// `"retry":{"attempt":N}` (N: the attempt to run next); no field means no.
//
// A test is retried when its attempt ended with a retryable status (failed
// and timedout by default; never skipped or passed), fewer than
// 1 + max_retries attempts have run, and, when error filters are set, its
// error message contains one of `errors` or matches one of `patterns`
// (ECMAScript regular expressions, searched in the first 4 KiB of the
// message to bound their cost). A run's `config.retries` from run.start
// overrides `max_retries` for that run.
#include <regex>
#include <unordered_map>

#include <fmt/format.h>

#include "plugins/builtins.h"
#include "baton/state.h"

namespace baton::plugins {

namespace {

constexpr size_t kPatternWindow = 4096;

class RetryPlugin final : public Plugin {
 public:
  int64_t max_retries = 1;
  std::vector<TestStatus> statuses{TestStatus::kFailed, TestStatus::kTimedout};
  std::vector<std::string> errors;
  std::vector<std::regex> patterns;

  uint32_t event_mask() const override {
    return event_type_bit(EventType::kRunStart) | event_type_bit(EventType::kRunEnd) |
           event_type_bit(EventType::kRunCancel) | event_type_bit(EventType::kTestEnd);
  }

  Status observe(const PluginEvent& ev) override {
    const Event& e = ev.event();
    if (e.type == EventType::kRunStart) {
      if (e.config.retries >= 0) run_retries_[std::string(e.run)] = e.config.retries;
    } else if (e.type == EventType::kRunEnd || e.type == EventType::kRunCancel) {
      auto it = run_retries_.find(e.run);
      if (it != run_retries_.end()) run_retries_.erase(it);
    }
    return Status::ok();
  }

  void annotate_reply(const PluginEvent& ev, std::string* fields) override {
    const Event& e = ev.event();
    if (e.type != EventType::kTestEnd || !should_retry(e)) return;
    int64_t attempt = e.attempt > 0 ? e.attempt : 1;
    fields->append(fmt::format(",\"retry\":{{\"attempt\":{}}}", attempt + 1));
  }

 private:
  bool should_retry(const Event& e) const {
    bool retryable = false;
    for (TestStatus s : statuses) retryable = retryable || s == e.status;
    if (!retryable) return false;
    int64_t limit = max_retries;
    if (auto it = run_retries_.find(e.run); it != run_retries_.end()) limit = it->second;
    int64_t attempt = e.attempt > 0 ? e.attempt : 1;
    if (attempt >= 1 + limit) return false;
    if (errors.empty() && patterns.empty()) return true;
    std::string_view message = e.error_message;
    for (const std::string& needle : errors) {
      if (message.find(needle) != std::string_view::npos) return true;
    }
    std::string_view window = message.substr(0, kPatternWindow);
    for (const std::regex& re : patterns) {
      if (std::regex_search(window.begin(), window.end(), re)) return true;
    }
    return false;
  }

  StringMap<int64_t> run_retries_;
};

}  // namespace

Status make_retry(Settings& settings, std::unique_ptr<Plugin>* out) {
  auto p = std::make_unique<RetryPlugin>();
  Status s = settings.integer("max_retries", 0, 100, &p->max_retries);
  if (!s) return s;
  std::vector<std::string> statuses, patterns;
  if (!(s = settings.strings("statuses", &statuses))) return s;
  if (settings.has("statuses")) {
    p->statuses.clear();
    for (const std::string& name : statuses) {
      TestStatus st;
      if (!parse_test_status(name, &st) || st == TestStatus::kPassed || st == TestStatus::kSkipped) {
        return settings.error("statuses", fmt::format("holds \"{}\"; retryable are failed, "
                                                      "timedout and interrupted",
                                                      name));
      }
      p->statuses.push_back(st);
    }
  }
  if (!(s = settings.strings("errors", &p->errors))) return s;
  if (!(s = settings.strings("patterns", &patterns))) return s;
  for (const std::string& pattern : patterns) {
    try {
      p->patterns.emplace_back(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return settings.error("patterns", fmt::format("holds \"{}\", not a regular expression ({})",
                                                    pattern, e.what()));
    }
  }
  if (!(s = settings.finish())) return s;
  *out = std::move(p);
  return Status::ok();
}

}  // namespace baton::plugins
