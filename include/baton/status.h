// Status: how every fallible operation of the core reports failure.
//
// Errors inside baton are values, not exceptions. A Status is cheap when ok
// (no allocation) and carries, when not ok, a code whose numeric value is the
// C ABI's status code, one sentence for humans, and for refusals of a message
// the field and the rule that refused it (what the security audit records).
#ifndef BATON_STATUS_H_
#define BATON_STATUS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace baton {

// Numeric values are the C ABI's BATON_E* constants and never change.
enum class Code : int {
  kOk = 0,
  kInvalidArgument = -1,
  kParse = -2,
  kInvalid = -3,
  kDenied = -4,
  kRateLimited = -5,
  kConflict = -6,
  kNotFound = -7,
  kRejected = -8,
  kStorage = -9,
  kClosed = -10,
  kInternal = -11,
  kUser = -12,
};

// "ok", "invalid_argument", "parse", ... ; "unknown" for a value not above.
const char* code_name(Code code);
const char* code_name(int code);

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(Code code, std::string message, std::string field = {},
                      std::string rule = {}) {
    Status s;
    s.code_ = code;
    s.message_ = std::move(message);
    s.field_ = std::move(field);
    s.rule_ = std::move(rule);
    return s;
  }
  static Status rate_limited(std::string message, int64_t retry_after_ms) {
    Status s = error(Code::kRateLimited, std::move(message), {}, "rate");
    s.retry_after_ms_ = retry_after_ms;
    return s;
  }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The offending field ("run", "plan.specs[3].id", ...) when a message was refused.
  const std::string& field() const { return field_; }
  // The rule that refused it ("required", "type", "max_string_bytes", ...).
  const std::string& rule() const { return rule_; }
  int64_t retry_after_ms() const { return retry_after_ms_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string field_;
  std::string rule_;
  int64_t retry_after_ms_ = 0;
};

}  // namespace baton

#endif  // BATON_STATUS_H_
