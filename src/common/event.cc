#include "baton/event.h"

#include <array>

namespace baton {

namespace {
constexpr std::array<const char*, kEventTypeCount> kTypeNames = {
    "run.start",  "run.end", "run.cancel",  "suite.start", "suite.end",       "test.start",
    "test.end",   "test.log", "queue.claim", "spec.end",   "worker.heartbeat"};
constexpr std::array<const char*, 6> kStatusNames = {"running", "passed",  "failed",
                                                     "skipped", "timedout", "interrupted"};
}  // namespace

const char* event_type_name(EventType type) {
  auto i = static_cast<size_t>(type);
  return i < kTypeNames.size() ? kTypeNames[i] : "unknown";
}

bool parse_event_type(std::string_view text, EventType* out) {
  for (size_t i = 0; i < kTypeNames.size(); ++i) {
    if (text == kTypeNames[i]) {
      *out = static_cast<EventType>(i);
      return true;
    }
  }
  return false;
}

const char* test_status_name(TestStatus status) {
  auto i = static_cast<size_t>(status);
  return i < kStatusNames.size() ? kStatusNames[i] : "unknown";
}

bool parse_test_status(std::string_view text, TestStatus* out) {
  for (size_t i = 1; i < kStatusNames.size(); ++i) {
    if (text == kStatusNames[i]) {
      *out = static_cast<TestStatus>(i);
      return true;
    }
  }
  return false;
}

}  // namespace baton
