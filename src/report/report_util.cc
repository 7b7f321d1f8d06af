#include <unordered_set>

#include "report/report.h"

namespace baton {

const AttemptReport* last_attempt(const TestReport& test) {
  return test.attempts.empty() ? nullptr : &test.attempts.back();
}

double test_duration_ms(const TestReport& test) {
  const AttemptReport* a = last_attempt(test);
  return a ? a->duration_ms : -1;
}

std::string suite_path(const RunReport& report, std::string_view suite_id) {
  std::string path;
  std::unordered_set<std::string_view> seen;  // a parent cycle must not loop
  std::string_view id = suite_id;
  while (!id.empty() && seen.insert(id).second) {
    const SuiteReport* found = nullptr;
    for (const SuiteReport& s : report.suites) {
      if (s.id == id) {
        found = &s;
        break;
      }
    }
    if (found == nullptr) break;
    std::string_view name = found->name.empty() ? std::string_view(found->id) : found->name;
    path = path.empty() ? std::string(name) : std::string(name) + " \u203a " + path;
    id = found->parent;
  }
  return path;
}

bool is_failure_status(std::string_view status) {
  return status == "failed" || status == "timedout";
}

}  // namespace baton
