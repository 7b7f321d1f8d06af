// Status: how every fallible operation of the core reports failure.
//
// Errors inside baton are values, not exceptions. A Status is cheap when ok
// (no allocation) and carries, when not ok, a code whose numeric value is the
// C ABI's status code, one sentence for humans, and for refusals of a message
// the field and the rule that refused it (what the security audit records).
#ifndef BATON_STATUS_H_
#define BATON_STATUS_H_

#include <cstdint>
#include <memory>
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
  Status(const Status& other) : rep_(other.rep_ ? new Rep(*other.rep_) : nullptr) {}
  Status(Status&& other) noexcept = default;
  Status& operator=(const Status& other) {
    if (this != &other) rep_.reset(other.rep_ ? new Rep(*other.rep_) : nullptr);
    return *this;
  }
  Status& operator=(Status&& other) noexcept = default;
  ~Status() = default;

  static Status ok() { return Status(); }
  static Status error(Code code, std::string message, std::string field = {},
                      std::string rule = {}) {
    Status s;
    if (code == Code::kOk) return s;  // ok carries nothing
    s.rep_.reset(new Rep{code, std::move(message), std::move(field), std::move(rule), 0});
    return s;
  }
  static Status rate_limited(std::string message, int64_t retry_after_ms) {
    Status s = error(Code::kRateLimited, std::move(message), {}, "rate");
    s.rep_->retry_after_ms = retry_after_ms;
    return s;
  }

  bool is_ok() const { return rep_ == nullptr; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const { return rep_ ? rep_->message : empty(); }
  // The offending field ("run", "plan.specs[3].id", ...) when a message was refused.
  const std::string& field() const { return rep_ ? rep_->field : empty(); }
  // The rule that refused it ("required", "type", "max_string_bytes", ...).
  const std::string& rule() const { return rep_ ? rep_->rule : empty(); }
  int64_t retry_after_ms() const { return rep_ ? rep_->retry_after_ms : 0; }

 private:
  // An ok Status is one null pointer, so that passing and returning one
  // (every call on the hot path does) costs no more than a pointer.
  struct Rep {
    Code code;
    std::string message;
    std::string field;
    std::string rule;
    int64_t retry_after_ms;
  };
  static const std::string& empty() {
    static const std::string kEmpty;
    return kEmpty;
  }
  std::unique_ptr<Rep> rep_;
};

}  // namespace baton

#endif  // BATON_STATUS_H_
