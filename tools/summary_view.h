// Renders a run summary (EVENTS.md, query {"op":"run"}) for people, and maps
// it to the exit code of commands that gate CI on a run.
#ifndef BATON_TOOLS_SUMMARY_VIEW_H_
#define BATON_TOOLS_SUMMARY_VIEW_H_

#include <cstdint>
#include <string>

#include <simdjson.h>

namespace baton_cli {

// A few readable lines, each ending in '\n'.
std::string render_summary(simdjson::dom::element summary);
// kExitOk when the run passed, or is still running with nothing failed so far;
// kExitFailed otherwise (failed, cancelled, interrupted).
int summary_exit_code(simdjson::dom::element summary);

// "1.234 s", "2 min 03 s", "1 h 02 min"; for durations in milliseconds.
std::string format_duration_ms(double ms);
// "2026-11-26 06:51:54 UTC" for milliseconds since the Unix epoch.
std::string format_timestamp_ms(int64_t ms);

}  // namespace baton_cli

#endif  // BATON_TOOLS_SUMMARY_VIEW_H_
