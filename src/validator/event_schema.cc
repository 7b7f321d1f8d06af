#include "validator/event_schema.h"

#include <algorithm>
#include <array>
#include <bit>
#include <initializer_list>
#include <iterator>
#include <string>

#include "validator/text_checks.h"

namespace baton::validator_internal {

namespace {

// Top-level fields. The order is the order in which missing required fields
// are reported.
enum Field : int {
  kType,
  kRun,
  kId,
  kName,
  kStatus,
  kMessage,
  kSpec,
  kLease,
  kClient,
  kSeq,
  kTs,
  kMeta,
  kBuild,
  kPlan,
  kConfig,
  kPlatform,
  kReason,
  kParent,
  kFile,
  kSuite,
  kAttempt,
  kWorker,
  kDurationMs,
  kError,
  kStdout,
  kStderr,
  kAttachments,
  kLevel,
  kCount,
  kLeaseMs,
  kFieldCount,
};
static_assert(kFieldCount <= 32, "fields are tracked in a 32-bit mask");

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "type",     "run",    "id",    "name",   "status", "message", "spec",        "lease",
    "client",   "seq",    "ts",    "meta",   "build",  "plan",    "config",      "platform",
    "reason",   "parent", "file",  "suite",  "attempt", "worker", "duration_ms", "error",
    "stdout",   "stderr", "attachments", "level", "count", "lease_ms"};

constexpr uint32_t bits(std::initializer_list<Field> fields) {
  uint32_t mask = 0;
  for (Field f : fields) mask |= 1u << f;
  return mask;
}

constexpr uint32_t kCommon = bits({kType, kRun, kClient, kSeq, kTs, kMeta});

// Indexed by EventType: the fields each type defines, beyond the common ones.
constexpr std::array<uint32_t, kEventTypeCount> kAllowed = {
    kCommon | bits({kName, kBuild, kPlan, kConfig, kPlatform}),               // run.start
    kCommon | bits({kStatus}),                                                // run.end
    kCommon | bits({kReason}),                                                // run.cancel
    kCommon | bits({kId, kName, kParent, kFile}),                             // suite.start
    kCommon | bits({kId}),                                                    // suite.end
    kCommon | bits({kId, kName, kSuite, kFile, kSpec, kAttempt, kWorker}),    // test.start
    kCommon | bits({kId, kStatus, kSuite, kAttempt, kDurationMs, kError, kStdout, kStderr,
                    kAttachments}),                                           // test.end
    kCommon | bits({kId, kMessage, kLevel, kAttempt}),                        // test.log
    kCommon | bits({kCount, kLeaseMs, kWorker, kPlatform}),                   // queue.claim
    kCommon | bits({kSpec, kLease, kStatus, kDurationMs, kAttempt, kError}),  // spec.end
    kCommon,                                                                  // worker.heartbeat
};

constexpr std::array<uint32_t, kEventTypeCount> kRequired = {
    bits({kType, kRun}),                    // run.start
    bits({kType, kRun}),                    // run.end
    bits({kType, kRun}),                    // run.cancel
    bits({kType, kRun, kId, kName}),        // suite.start
    bits({kType, kRun, kId}),               // suite.end
    bits({kType, kRun, kId, kName}),        // test.start
    bits({kType, kRun, kId, kStatus}),      // test.end
    bits({kType, kRun, kId, kMessage}),     // test.log
    bits({kType, kRun}),                    // queue.claim
    bits({kType, kRun, kSpec, kLease, kStatus}),  // spec.end
    bits({kType}),                          // worker.heartbeat
};

// Candidates are narrowed by length and first letter so that a key costs
// one or two comparisons on the hot path.
bool lookup_field(std::string_view key, int* out) {
  auto is = [&](Field field) {
    if (key != kFieldNames[static_cast<size_t>(field)]) return false;
    *out = field;
    return true;
  };
  if (key.empty()) return false;
  switch (key.size()) {
    case 2: return is(kId) || is(kTs);
    case 3: return key[0] == 'r' ? is(kRun) : is(kSeq);
    case 4:
      switch (key[0]) {
        case 't': return is(kType);
        case 'n': return is(kName);
        case 's': return is(kSpec);
        case 'm': return is(kMeta);
        case 'p': return is(kPlan);
        case 'f': return is(kFile);
        default: return false;
      }
    case 5:
      switch (key[0]) {
        case 'b': return is(kBuild);
        case 'l': return is(kLease) || is(kLevel);
        case 's': return is(kSuite);
        case 'e': return is(kError);
        case 'c': return is(kCount);
        default: return false;
      }
    case 6:
      switch (key[0]) {
        case 's': return is(kStatus) || is(kStdout) || is(kStderr);
        case 'c': return is(kClient) || is(kConfig);
        case 'r': return is(kReason);
        case 'p': return is(kParent);
        case 'w': return is(kWorker);
        default: return false;
      }
    case 7: return key[0] == 'a' ? is(kAttempt) : is(kMessage);
    case 8: return key[0] == 'p' ? is(kPlatform) : is(kLeaseMs);
    case 11: return key[0] == 'd' ? is(kDurationMs) : is(kAttachments);
    default: return false;
  }
}

constexpr int64_t kMaxRetries = 100;
constexpr int64_t kMaxClaimCount = 1000;

}  // namespace

bool EventSchemaReader::read_member(std::string_view key, od::value& value) {
  int field = 0;
  const size_t type_index = static_cast<size_t>(type_);
  if (!lookup_field(key, &field) || (kAllowed[type_index] & (1u << field)) == 0) {
    if (reader_.limits().reject_unknown_fields) {
      return reader_.fail(Code::kInvalid, "unknown_field",
                          std::string("is not a field of ") + event_type_name(type_));
    }
    return reader_.walk_value(value, 2);
  }
  seen_ |= 1u << field;
  return read_field(field, value);
}

bool EventSchemaReader::finish() {
  const uint32_t missing = kRequired[static_cast<size_t>(type_)] & ~seen_;
  if (missing == 0) return true;
  const std::string_view name = kFieldNames[static_cast<size_t>(std::countr_zero(missing))];
  return reader_.fail_message(
      Code::kInvalid, "required", std::string(name),
      "field \"" + std::string(name) + "\" is required for " + event_type_name(type_));
}

bool EventSchemaReader::read_text(od::value& value, std::string_view* out, bool check_pattern) {
  if (!reader_.read_string(value, out)) return false;
  return !check_pattern || reader_.check_pattern(*out);
}

bool EventSchemaReader::read_field(int field, od::value& value) {
  JsonReader& r = reader_;
  Event& e = *out_;
  switch (field) {
    case kType: {
      std::string_view text;
      if (!r.read_string(value, &text)) return false;
      if (text != event_type_name(type_)) {
        return r.fail(Code::kInvalid, "enum", "must name one message type");
      }
      return true;
    }
    case kRun: return r.read_id(value, &e.run);
    case kClient: return r.read_id(value, &e.client);
    case kId: return r.read_id(value, &e.id);
    case kParent: return r.read_id(value, &e.parent);
    case kSuite: return r.read_id(value, &e.suite);
    case kSpec: return r.read_id(value, &e.spec);
    case kWorker: return r.read_id(value, &e.worker);
    case kBuild: return r.read_id(value, &e.build);
    case kLease: return r.read_id(value, &e.lease);
    case kName: return read_text(value, &e.name, true);
    case kReason: return read_text(value, &e.reason, true);
    case kMessage: return read_text(value, &e.message, true);
    case kPlatform: return read_text(value, &e.platform, false);
    case kFile: return read_text(value, &e.file, false);
    case kStdout: return read_text(value, &e.stdout_text, false);
    case kStderr: return read_text(value, &e.stderr_text, false);
    case kSeq: return r.read_int(value, &e.seq) && r.require_at_least(e.seq, 1);
    case kTs:
      e.has_ts = true;
      return r.read_int(value, &e.ts);
    case kAttempt: return r.read_int(value, &e.attempt) && r.require_at_least(e.attempt, 1);
    case kCount:
      return r.read_int(value, &e.count) && r.require_between(e.count, 1, kMaxClaimCount);
    case kLeaseMs:
      return r.read_int(value, &e.lease_ms) && r.require_between(e.lease_ms, 1, kMaxSpanMs);
    case kDurationMs:
      if (!r.read_number(value, &e.duration_ms)) return false;
      if (e.duration_ms < 0) return r.fail(Code::kInvalid, "range", "must be at least 0");
      return true;
    case kStatus: return read_status(value);
    case kLevel: return read_level(value);
    case kMeta: return read_meta(value);
    case kError: return read_error(value);
    case kAttachments: return read_attachments(value);
    case kPlan: return read_plan(value);
    case kConfig: return read_config(value);
    default: return r.walk_value(value, 2);
  }
}

bool EventSchemaReader::read_status(od::value& value) {
  std::string_view text;
  if (!reader_.read_string(value, &text)) return false;
  if (type_ == EventType::kRunEnd) {
    if (text != "passed" && text != "failed" && text != "cancelled" && text != "interrupted") {
      return reader_.fail(Code::kInvalid, "enum",
                          "must be one of passed, failed, cancelled, interrupted");
    }
    out_->status_text = text;
    return true;
  }
  if (!parse_test_status(text, &out_->status)) {
    return reader_.fail(Code::kInvalid, "enum",
                        "must be one of passed, failed, skipped, timedout, interrupted");
  }
  return true;
}

bool EventSchemaReader::read_level(od::value& value) {
  std::string_view text;
  if (!reader_.read_string(value, &text)) return false;
  if (text != "debug" && text != "info" && text != "warn" && text != "error") {
    return reader_.fail(Code::kInvalid, "enum", "must be one of debug, info, warn, error");
  }
  out_->level = text;
  return true;
}

bool EventSchemaReader::read_meta(od::value& value) {
  const char* begin = reader_.value_begin(value);
  od::object object;
  if (!reader_.enter_object(value, 2, &object)) return false;
  if (!reader_.walk_object(object, [this](std::string_view, od::value& member) {
        return reader_.walk_value(member, 3);
      })) {
    return false;
  }
  out_->meta = reader_.span_since(value, begin);
  return true;
}

bool EventSchemaReader::read_error(od::value& value) {
  const char* begin = reader_.value_begin(value);
  od::object object;
  if (!reader_.enter_object(value, 2, &object)) return false;
  bool has_message = false;
  auto on_member = [this, &has_message](std::string_view key, od::value& member) {
    if (key == "message") {
      has_message = true;
      return read_text(member, &out_->error_message, true);
    }
    if (key == "type") return read_text(member, &out_->error_type, true);
    if (key == "stack") {
      std::string_view stack;
      return read_text(member, &stack, true);
    }
    return reader_.walk_value(member, 3);
  };
  if (!reader_.walk_object(object, on_member)) return false;
  if (!has_message) {
    return reader_.fail_member("message", Code::kInvalid, "required", "is required in error");
  }
  out_->error = reader_.span_since(value, begin);
  return true;
}

bool EventSchemaReader::read_attachments(od::value& value) {
  const char* begin = reader_.value_begin(value);
  od::array array;
  if (!reader_.enter_array(value, 2, &array)) return false;
  if (!reader_.walk_array(array, [this](size_t, od::value& item) { return read_attachment(item); })) {
    return false;
  }
  out_->attachments = reader_.span_since(value, begin);
  return true;
}

bool EventSchemaReader::read_attachment(od::value& item) {
  od::object object;
  if (!reader_.enter_object(item, 3, &object)) return false;
  bool has_name = false;
  bool has_content_type = false;
  bool has_path = false;
  auto on_member = [&](std::string_view key, od::value& member) {
    std::string_view text;
    if (key == "name") {
      has_name = true;
      return read_text(member, &text, true);
    }
    if (key == "content_type") {
      has_content_type = true;
      return read_text(member, &text, false);
    }
    if (key != "path") return reader_.walk_value(member, 4);
    has_path = true;
    if (!read_text(member, &text, false)) return false;
    switch (check_attachment_path(text, reader_.limits().allow_absolute_paths)) {
      case PathProblem::kNone:
        return true;
      case PathProblem::kEmpty:
        return reader_.fail(Code::kInvalid, "empty", "must not be empty");
      case PathProblem::kControl:
        return reader_.fail(Code::kInvalid, "control_char", "holds a control character");
      case PathProblem::kParentSegment:
        return reader_.fail(Code::kInvalid, "path", "must not climb out with a \"..\" segment");
      case PathProblem::kAbsolute:
        return reader_.fail(Code::kInvalid, "path", "must be a relative path");
    }
    return true;
  };
  if (!reader_.walk_object(object, on_member)) return false;
  if (!has_name) {
    return reader_.fail_member("name", Code::kInvalid, "required", "is required in an attachment");
  }
  if (!has_content_type) {
    return reader_.fail_member("content_type", Code::kInvalid, "required",
                               "is required in an attachment");
  }
  if (!has_path) {
    return reader_.fail_member("path", Code::kInvalid, "required", "is required in an attachment");
  }
  return true;
}

bool EventSchemaReader::read_plan(od::value& value) {
  od::object object;
  if (!reader_.enter_object(value, 2, &object)) return false;
  bool has_specs = false;
  auto on_member = [this, &has_specs](std::string_view key, od::value& member) {
    if (key != "specs") return reader_.walk_value(member, 3);
    has_specs = true;
    od::array specs;
    if (!reader_.enter_array(member, 3, &specs)) return false;
    return reader_.walk_array(specs, [this](size_t, od::value& item) {
      return read_plan_spec(item);
    });
  };
  if (!reader_.walk_object(object, on_member)) return false;
  if (!has_specs) {
    return reader_.fail_member("specs", Code::kInvalid, "required", "is required in plan");
  }
  out_->has_plan = true;
  return check_unique_specs();
}

bool EventSchemaReader::read_plan_spec(od::value& item) {
  od::object object;
  if (!reader_.enter_object(item, 4, &object)) return false;
  PlanSpec spec;
  bool has_id = false;
  auto on_member = [this, &spec, &has_id](std::string_view key, od::value& member) {
    if (key == "id") {
      has_id = true;
      return reader_.read_id(member, &spec.id);
    }
    if (key == "estimate_ms") {
      return reader_.read_int(member, &spec.estimate_ms) &&
             reader_.require_at_least(spec.estimate_ms, 0);
    }
    return reader_.walk_value(member, 5);
  };
  if (!reader_.walk_object(object, on_member)) return false;
  if (!has_id) return reader_.fail_member("id", Code::kInvalid, "required", "is required in a spec");
  out_->plan.push_back(spec);
  return true;
}

bool EventSchemaReader::check_unique_specs() {
  const std::vector<PlanSpec>& plan = out_->plan;
  size_t first = 0;
  size_t repeat = 0;
  bool found = false;
  if (plan.size() <= kLinearKeyCheck) {
    for (size_t i = 1; i < plan.size() && !found; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (plan[i].id == plan[j].id) {
          first = j;
          repeat = i;
          found = true;
          break;
        }
      }
    }
  } else {
    auto& ids = thread_scratch().ids;
    ids.clear();
    for (size_t i = 0; i < plan.size(); ++i) ids.emplace_back(plan[i].id, i);
    std::sort(ids.begin(), ids.end());
    auto it = std::adjacent_find(ids.begin(), ids.end(),
                                 [](const auto& a, const auto& b) { return a.first == b.first; });
    if (it != ids.end()) {
      first = it->second;
      repeat = std::next(it)->second;
      found = true;
    }
  }
  if (!found) return true;
  reader_.push("specs");
  reader_.push(repeat);
  return reader_.fail_member("id", Code::kInvalid, "unique",
                             "repeats the id of plan.specs[" + std::to_string(first) + "]");
}

bool EventSchemaReader::read_config(od::value& value) {
  const char* begin = reader_.value_begin(value);
  od::object object;
  if (!reader_.enter_object(value, 2, &object)) return false;
  RunConfig& config = out_->config;
  auto on_member = [this, &config](std::string_view key, od::value& member) {
    JsonReader& r = reader_;
    if (key == "retries") {
      return r.read_int(member, &config.retries) && r.require_between(config.retries, 0, kMaxRetries);
    }
    if (key == "lease_ms") {
      return r.read_int(member, &config.lease_ms) &&
             r.require_between(config.lease_ms, 1, kMaxSpanMs);
    }
    if (key == "max_failures") {
      return r.read_int(member, &config.max_failures) && r.require_at_least(config.max_failures, 1);
    }
    if (key == "run_timeout_ms") {
      return r.read_int(member, &config.run_timeout_ms) &&
             r.require_between(config.run_timeout_ms, 1, kMaxSpanMs);
    }
    if (key == "failed_first") {
      bool failed_first = false;
      if (!r.read_bool(member, &failed_first)) return false;
      config.failed_first = failed_first ? 1 : 0;
      return true;
    }
    return r.walk_value(member, 3);
  };
  if (!reader_.walk_object(object, on_member)) return false;
  out_->config_raw = reader_.span_since(value, begin);
  return true;
}

}  // namespace baton::validator_internal
