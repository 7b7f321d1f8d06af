// JsonWriter: appends compact JSON to a std::string, escaping as it goes.
//
// Used for replies, query answers and reports. Strings are escaped per RFC 8259
// (control characters as \u00XX); the caller guarantees valid UTF-8 input,
// which every validated event string is.
#ifndef BATON_COMMON_JSON_WRITER_H_
#define BATON_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace baton {

// Appends `s` as a quoted, escaped JSON string.
void json_append_string(std::string* out, std::string_view s);
// Appends a finite double in the shortest form that reads back the same
// ("null" for NaN or infinity).
void json_append_double(std::string* out, double v);

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& begin_object() { sep(); out_->push_back('{'); first_ = true; return *this; }
  JsonWriter& end_object() { out_->push_back('}'); first_ = false; return *this; }
  JsonWriter& begin_array() { sep(); out_->push_back('['); first_ = true; return *this; }
  JsonWriter& end_array() { out_->push_back(']'); first_ = false; return *this; }
  JsonWriter& key(std::string_view k) {
    sep();
    json_append_string(out_, k);
    out_->push_back(':');
    first_ = true;  // the value that follows takes no comma
    return *this;
  }
  JsonWriter& value(std::string_view s) { sep(); json_append_string(out_, s); return *this; }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(int64_t v) { sep(); out_->append(std::to_string(v)); return *this; }
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(uint64_t v) { sep(); out_->append(std::to_string(v)); return *this; }
  JsonWriter& value(size_t v, int /*tag*/) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& value(double v) { sep(); json_append_double(out_, v); return *this; }
  JsonWriter& value(bool v) { sep(); out_->append(v ? "true" : "false"); return *this; }
  JsonWriter& null() { sep(); out_->append("null"); return *this; }
  // Inserts already-valid JSON text (an object or array from a validated event).
  JsonWriter& raw(std::string_view json) { sep(); out_->append(json); return *this; }

  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) { key(k); return value(v); }
  JsonWriter& field_raw(std::string_view k, std::string_view json) { key(k); return raw(json); }
  JsonWriter& field_null(std::string_view k) { key(k); return null(); }

 private:
  void sep() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace baton

#endif  // BATON_COMMON_JSON_WRITER_H_
