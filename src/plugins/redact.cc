// The redact filter: masks secrets before an event is stored, exported or
// seen by any later plugin. It must be registered first (the `plugins`
// option's order is registration order).
//
// Two rules, applied to every string of the message except `type`, `run`
// and `client` (which the engine forbids rewriting; a `run` holding a secret
// refuses the event instead):
//   - key names: inside nested objects (meta, error, attachments, config, at
//     any depth) a key whose name contains a configured name (compared
//     without case, '-', '_', '.' or spaces) has its whole value replaced;
//   - patterns: Bearer/Basic credentials, AWS access key ids, GitHub tokens,
//     Slack tokens, JWTs, PEM private key blocks, passwords in URLs, and
//     `name=value` / `name: value` pairs whose name is a configured key name,
//     plus any literal `values` configured.
// The message is parsed with simdjson and written back with JsonWriter, so
// the rewrite is always well-formed JSON; when nothing matched, the event is
// left as it came.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "plugins/builtins.h"

namespace baton::plugins {

namespace {

using Range = std::pair<size_t, size_t>;  // [begin, end)

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_upper_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_b64url(char c) { return is_alnum(c) || c == '-' || c == '_'; }
bool is_token68(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool starts_with_nocase(std::string_view text, size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (lower(text[at + i]) != word[i]) return false;
  }
  return true;
}

size_t span_of(std::string_view text, size_t at, bool (*pred)(char)) {
  size_t end = at;
  while (end < text.size() && pred(text[end])) ++end;
  return end - at;
}

std::string normalize_key(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '-' || c == '_' || c == '.' || c == ' ') continue;
    out.push_back(lower(c));
  }
  return out;
}

class Redactor {
 public:
  std::vector<std::string> keys;    // normalized
  std::vector<std::string> values;  // literal secrets
  std::string mask = "[REDACTED]";

  bool key_matches(std::string_view key) const {
    std::string n = normalize_key(key);
    if (n.empty()) return false;
    for (const std::string& k : keys) {
      if (n.find(k) != std::string::npos) return true;
    }
    return false;
  }

  // Returns true and fills *out when `text` holds something to mask.
  bool redact_text(std::string_view text, std::string* out) const {
    std::vector<Range> ranges;
    find_auth_schemes(text, &ranges);
    find_prefixed_tokens(text, &ranges);
    find_jwts(text, &ranges);
    find_private_keys(text, &ranges);
    find_url_passwords(text, &ranges);
    find_key_values(text, &ranges);
    for (const std::string& v : values) {
      for (size_t at = text.find(v); at != std::string_view::npos; at = text.find(v, at + v.size())) {
        ranges.emplace_back(at, at + v.size());
      }
    }
    if (ranges.empty()) return false;
    std::sort(ranges.begin(), ranges.end());
    out->clear();
    size_t pos = 0;
    for (size_t i = 0; i < ranges.size();) {
      size_t b = ranges[i].first, e = ranges[i].second;
      for (++i; i < ranges.size() && ranges[i].first <= e; ++i) e = std::max(e, ranges[i].second);
      if (b < pos) b = pos;
      out->append(text.substr(pos, b - pos));
      out->append(mask);
      pos = e;
    }
    out->append(text.substr(pos));
    return true;
  }

 private:
  // "Bearer <token>", "Basic <credentials>"
  static void find_auth_schemes(std::string_view t, std::vector<Range>* r) {
    for (size_t i = 0; i < t.size(); ++i) {
      if (i > 0 && is_word(t[i - 1])) continue;
      size_t word = starts_with_nocase(t, i, "bearer") ? 6 : starts_with_nocase(t, i, "basic") ? 5 : 0;
      if (word == 0) continue;
      size_t j = i + word;
      size_t spaces = span_of(t, j, [](char c) { return c == ' ' || c == '\t'; });
      if (spaces == 0) continue;
      j += spaces;
      size_t n = span_of(t, j, is_token68);
      if (n >= 8) r->emplace_back(j, j + n);
    }
  }

  // AWS access key ids, GitHub and Slack tokens: a known prefix and a body.
  static void find_prefixed_tokens(std::string_view t, std::vector<Range>* r) {
    static const char* kAws[] = {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA"};
    static const char* kGithub[] = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"};
    for (size_t i = 0; i < t.size(); ++i) {
      if (i > 0 && is_alnum(t[i - 1])) continue;
      std::string_view rest = t.substr(i);
      for (const char* p : kAws) {
        if (rest.substr(0, 4) == p && span_of(t, i + 4, is_upper_alnum) == 16) {
          r->emplace_back(i, i + 20);
        }
      }
      for (const char* p : kGithub) {
        if (rest.substr(0, 4) == p) {
          size_t n = span_of(t, i + 4, is_alnum);
          if (n >= 30) r->emplace_back(i, i + 4 + n);
        }
      }
      if (rest.substr(0, 11) == "github_pat_") {
        size_t n = span_of(t, i + 11, is_word);
        if (n >= 20) r->emplace_back(i, i + 11 + n);
      }
      if (rest.size() > 5 && rest.substr(0, 3) == "xox" &&
          std::string_view("abprse").find(rest[3]) != std::string_view::npos && rest[4] == '-') {
        size_t n = span_of(t, i + 5, [](char c) { return is_alnum(c) || c == '-'; });
        if (n >= 10) r->emplace_back(i, i + 5 + n);
      }
      if (rest.substr(0, 5) == "xapp-") {
        size_t n = span_of(t, i + 5, [](char c) { return is_alnum(c) || c == '-'; });
        if (n >= 10) r->emplace_back(i, i + 5 + n);
      }
    }
  }

  // header.payload.signature, base64url, the header starting "eyJ" ('{"').
  static void find_jwts(std::string_view t, std::vector<Range>* r) {
    for (size_t at = t.find("eyJ"); at != std::string_view::npos; at = t.find("eyJ", at + 1)) {
      if (at > 0 && is_b64url(t[at - 1])) continue;
      size_t a = span_of(t, at, is_b64url);
      if (a < 10 || at + a >= t.size() || t[at + a] != '.') continue;
      size_t p = at + a + 1;
      size_t b = span_of(t, p, is_b64url);
      if (b < 4 || p + b >= t.size() || t[p + b] != '.') continue;
      size_t s = p + b + 1;
      size_t c = span_of(t, s, is_b64url);
      r->emplace_back(at, s + c);
      at = s + c;
      if (at >= t.size()) break;
    }
  }

  // -----BEGIN ... PRIVATE KEY----- through its END line (or the end).
  static void find_private_keys(std::string_view t, std::vector<Range>* r) {
    for (size_t at = t.find("-----BEGIN"); at != std::string_view::npos;
         at = t.find("-----BEGIN", at + 1)) {
      size_t header_end = t.find("-----", at + 10);
      if (header_end == std::string_view::npos) break;
      std::string_view header = t.substr(at, header_end - at);
      if (header.find("PRIVATE") == std::string_view::npos) {
        continue;
      }
      size_t end = t.size();
      size_t end_line = t.find("-----END", header_end + 5);
      if (end_line != std::string_view::npos) {
        size_t close = t.find("-----", end_line + 8);
        end = close == std::string_view::npos ? t.size() : close + 5;
      }
      r->emplace_back(at, end);
      at = end - 1;
    }
  }

  // scheme://user:password@host
  static void find_url_passwords(std::string_view t, std::vector<Range>* r) {
    for (size_t at = t.find("://"); at != std::string_view::npos; at = t.find("://", at + 3)) {
      size_t start = at + 3;
      size_t colon = std::string_view::npos;
      for (size_t i = start; i < t.size(); ++i) {
        char c = t[i];
        if (c == '/' || c == '?' || c == '#' || is_space(c) || c == '"' || c == '\'' || c == '<' ||
            c == '>') {
          break;
        }
        if (c == ':' && colon == std::string_view::npos) colon = i;
        if (c == '@') {
          if (colon != std::string_view::npos && i > colon + 1) r->emplace_back(colon + 1, i);
          break;
        }
      }
    }
  }

  // name=value, name: value, "name": "value", where name is a key name.
  void find_key_values(std::string_view t, std::vector<Range>* r) const {
    size_t i = 0;
    while (i < t.size()) {
      if (!(is_word(t[i]) || t[i] == '-')) {
        ++i;
        continue;
      }
      size_t start = i;
      while (i < t.size() && (is_word(t[i]) || t[i] == '-' || t[i] == '.')) ++i;
      std::string_view name = t.substr(start, i - start);
      if (!key_matches(name)) continue;
      size_t j = i;
      if (j < t.size() && (t[j] == '"' || t[j] == '\'')) ++j;
      while (j < t.size() && (t[j] == ' ' || t[j] == '\t')) ++j;
      if (j >= t.size() || (t[j] != '=' && t[j] != ':')) continue;
      ++j;
      while (j < t.size() && (t[j] == ' ' || t[j] == '\t')) ++j;
      if (j >= t.size()) continue;
      size_t vb = j, ve;
      if (t[j] == '"' || t[j] == '\'') {
        char q = t[j];
        vb = j + 1;
        ve = t.find(q, vb);
        if (ve == std::string_view::npos) ve = t.size();
      } else {
        ve = vb;
        while (ve < t.size() && !is_space(t[ve]) &&
               std::string_view("&,;\"'<>)}]").find(t[ve]) == std::string_view::npos) {
          ++ve;
        }
      }
      if (ve > vb) r->emplace_back(vb, ve);
      i = std::max(i, ve);
    }
  }
};

class RedactPlugin final : public Plugin {
 public:
  Redactor redactor;

  bool has_filter() const override { return true; }
  bool has_observer() const override { return false; }

  Status filter(PluginEvent& ev) override {
    std::string scratch;
    if (redactor.redact_text(ev.event().run, &scratch)) {
      return Status::error(Code::kRejected,
                           "field \"run\" holds a secret, and a run id cannot be rewritten");
    }
    std::string_view json = ev.json();
    simdjson::dom::element root;
    if (parser_.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
      return Status::error(Code::kInternal, "the event could not be parsed for redaction");
    }
    out_.clear();
    JsonWriter w(&out_);
    changed_ = false;
    unsupported_ = false;
    write(root, w, 0, false);
    if (unsupported_) {
      return Status::error(Code::kInternal, "the event holds a value redaction cannot write back");
    }
    if (!changed_) return Status::ok();
    return ev.replace(out_);
  }

 private:
  void write_string(std::string_view s, JsonWriter& w) {
    if (redactor.redact_text(s, &scratch_)) {
      changed_ = true;
      w.value(scratch_);
    } else {
      w.value(s);
    }
  }

  // depth 0: the message; its own fields are schema fields, so key names are
  // matched only below it.
  void write(simdjson::dom::element e, JsonWriter& w, int depth, bool verbatim) {
    switch (e.type()) {
      case simdjson::dom::element_type::OBJECT: {
        w.begin_object();
        for (auto field : simdjson::dom::object(e)) {
          w.key(field.key);
          if (depth > 0 && redactor.key_matches(field.key)) {
            changed_ = true;
            w.value(redactor.mask);
            continue;
          }
          bool keep = depth == 0 && (field.key == "type" || field.key == "run" || field.key == "client");
          write(field.value, w, depth + 1, keep);
        }
        w.end_object();
        break;
      }
      case simdjson::dom::element_type::ARRAY:
        w.begin_array();
        for (auto item : simdjson::dom::array(e)) write(item, w, depth + 1, false);
        w.end_array();
        break;
      case simdjson::dom::element_type::STRING: {
        std::string_view s(e);
        if (verbatim) {
          w.value(s);
        } else {
          write_string(s, w);
        }
        break;
      }
      case simdjson::dom::element_type::INT64: w.value(int64_t(e)); break;
      case simdjson::dom::element_type::UINT64: w.value(uint64_t(e)); break;
      case simdjson::dom::element_type::DOUBLE: w.value(double(e)); break;
      case simdjson::dom::element_type::BOOL: w.value(bool(e)); break;
      case simdjson::dom::element_type::NULL_VALUE: w.null(); break;
      default:
        // Refused rather than written back changed (fail closed).
        unsupported_ = true;
        w.null();
        break;
    }
  }

  simdjson::dom::parser parser_;
  std::string out_;
  std::string scratch_;
  bool changed_ = false;
  bool unsupported_ = false;
};

const char* const kDefaultKeys[] = {
    "password", "passwd",     "passphrase", "secret",     "token",      "authorization",
    "apikey",   "accesskey",  "privatekey", "credential", "cookie",     "sessionid",
    "clientsecret", "signature"};

}  // namespace

Status make_redact(Settings& settings, std::unique_ptr<Plugin>* out) {
  auto p = std::make_unique<RedactPlugin>();
  std::vector<std::string> keys(std::begin(kDefaultKeys), std::end(kDefaultKeys));
  std::vector<std::string> extra;
  Status s = settings.strings("keys", &keys);
  if (!s) return s;
  if (!(s = settings.strings("extra_keys", &extra))) return s;
  keys.insert(keys.end(), extra.begin(), extra.end());
  for (const std::string& k : keys) {
    std::string n = normalize_key(k);
    if (n.empty()) return settings.error("keys", "holds an empty key name");
    p->redactor.keys.push_back(std::move(n));
  }
  if (!(s = settings.strings("values", &p->redactor.values))) return s;
  for (const std::string& v : p->redactor.values) {
    if (v.size() < 4) return settings.error("values", "holds a value shorter than 4 characters");
  }
  if (!(s = settings.string("mask", &p->redactor.mask))) return s;
  if (!(s = settings.finish())) return s;
  *out = std::move(p);
  return Status::ok();
}

}  // namespace baton::plugins
