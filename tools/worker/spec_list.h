// The specs a worker plans for its run, from --plan, --specs or --specs-glob.
#ifndef BATON_TOOLS_WORKER_SPEC_LIST_H_
#define BATON_TOOLS_WORKER_SPEC_LIST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace baton_cli {

struct PlannedSpec {
  std::string id;
  std::optional<int64_t> estimate_ms;
};

// A plan file is JSON ({"specs":[...]} or a bare array, of ids or of
// {"id","estimate_ms"} objects) or plain text with one spec id per line.
std::vector<PlannedSpec> specs_from_plan_file(const std::string& path);
// "a,b,c" -> a, b, c (empty items skipped).
std::vector<PlannedSpec> specs_from_list(const std::string& list);
// Paths matching a glob(3) pattern, sorted; "**" is not special.
std::vector<PlannedSpec> specs_from_glob(const std::string& pattern);

// {"specs":[{"id":...,"estimate_ms":...},...]}
std::string plan_json(const std::vector<PlannedSpec>& specs);

}  // namespace baton_cli

#endif  // BATON_TOOLS_WORKER_SPEC_LIST_H_
