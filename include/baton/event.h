// Event: one parsed and validated inbound message (EVENTS.md, wire version 1).
//
// An Event does not own its text: every string_view points either into the
// message bytes given to EventValidator::validate or into storage owned by the
// validator's per-thread parser, and stays valid until the next validate() on
// the same thread. Whatever outlives the push must be copied.
#ifndef BATON_EVENT_H_
#define BATON_EVENT_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace baton {

enum class EventType : uint8_t {
  kRunStart = 0,
  kRunEnd,
  kRunCancel,
  kSuiteStart,
  kSuiteEnd,
  kTestStart,
  kTestEnd,
  kTestLog,
  kQueueClaim,
  kSpecEnd,
  kWorkerHeartbeat,
};
inline constexpr int kEventTypeCount = 11;

// "run.start", "test.end", ...
const char* event_type_name(EventType type);
bool parse_event_type(std::string_view text, EventType* out);
// One bit per type, for plugin masks: 1u << type.
inline constexpr uint32_t event_type_bit(EventType type) {
  return 1u << static_cast<unsigned>(type);
}
inline constexpr uint32_t kAllEventTypes = (1u << kEventTypeCount) - 1;

// Status of a test attempt or a spec.
enum class TestStatus : uint8_t {
  kNone = 0,  // absent / still running
  kPassed,
  kFailed,
  kSkipped,
  kTimedout,
  kInterrupted,
};
// "passed", ... ; "running" for kNone.
const char* test_status_name(TestStatus status);
bool parse_test_status(std::string_view text, TestStatus* out);

// queue.plan entry of run.start.
struct PlanSpec {
  std::string_view id;
  int64_t estimate_ms = -1;  // -1: absent
};

// The longest span that is added to the clock (leases, run timeouts, the
// engine's timing options): 30 days, longer than any CI run and far from
// overflowing a deadline.
inline constexpr int64_t kMaxSpanMs = int64_t{30} * 24 * 3600 * 1000;

// run.start `config`; -1 means absent (the engine's default applies).
struct RunConfig {
  int64_t retries = -1;         // extra attempts for a failed spec
  int64_t lease_ms = -1;        // lease length for queue.claim
  int64_t max_failures = -1;    // auto-cancel after this many finally failed specs
  int64_t run_timeout_ms = -1;  // mark what is left interrupted after this long
  int failed_first = -1;        // 0/1: specs that failed last build go first
};

struct Event {
  EventType type = EventType::kRunStart;
  std::string_view raw;  // the whole message text as validated

  // Common fields. Empty string_view means absent.
  std::string_view run;
  std::string_view client;
  int64_t seq = 0;  // 0: absent
  int64_t ts = 0;
  bool has_ts = false;
  std::string_view meta;  // raw JSON object text, or empty

  // Identity and description fields (by type, see EVENTS.md).
  std::string_view id;        // suite/test id
  std::string_view name;      // run/suite/test name
  std::string_view parent;    // suite.start
  std::string_view file;      // suite.start, test.start
  std::string_view suite;     // test.start, test.end
  std::string_view spec;      // test.start, spec.end
  std::string_view worker;    // test.start, queue.claim
  std::string_view build;     // run.start
  std::string_view platform;  // run.start, queue.claim
  std::string_view lease;     // spec.end
  std::string_view reason;    // run.cancel
  std::string_view message;   // test.log
  std::string_view level;     // test.log

  // Outcome fields.
  TestStatus status = TestStatus::kNone;  // test.end, spec.end
  std::string_view status_text;           // run.end's free status text (optional)
  int64_t attempt = 0;                    // 0: absent (means 1)
  double duration_ms = -1;                // -1: absent
  std::string_view error;                 // raw JSON object text, or empty
  std::string_view error_message;         // error.message (unescaped)
  std::string_view error_type;            // error.type (unescaped)
  std::string_view stdout_text;           // test.end stdout (unescaped)
  std::string_view stderr_text;           // test.end stderr (unescaped)
  std::string_view attachments;           // raw JSON array text, or empty

  // run.start extras.
  bool has_plan = false;
  std::vector<PlanSpec> plan;  // reused across validate() calls on one thread
  RunConfig config;
  std::string_view config_raw;  // raw JSON object text, or empty

  // queue.claim extras.
  int64_t count = 1;      // how many specs to claim at once (1..1000)
  int64_t lease_ms = -1;  // requested lease length, -1: run's default
};

}  // namespace baton

#endif  // BATON_EVENT_H_
