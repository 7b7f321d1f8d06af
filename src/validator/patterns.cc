#include "validator/patterns.h"

#include <array>
#include <cstddef>
#include <initializer_list>

namespace baton::validator_internal {

namespace {

constexpr size_t kNpos = std::string_view::npos;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_quote(char c) { return c == '\'' || c == '"' || c == '`'; }

// Case-insensitive: does `word` (lowercase) start at text[i]?
bool match_at(std::string_view text, size_t i, std::string_view word) {
  if (i > text.size() || text.size() - i < word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k) {
    if (lower(text[i + k]) != word[k]) return false;
  }
  return true;
}

// Like match_at, and the word ends there (no word character follows).
bool match_word(std::string_view text, size_t i, std::string_view word) {
  if (!match_at(text, i, word)) return false;
  const size_t end = i + word.size();
  return end == text.size() || !is_word(text[end]);
}

// Every look-ahead is bounded so that the scan stays linear in the text:
// a 64 KiB message full of triggers must not cost quadratic time.
constexpr size_t kLookahead = 64;

// Skips whitespace and short /* ... */ comments, which SQL reads as whitespace.
size_t skip_space(std::string_view text, size_t i) {
  while (i < text.size()) {
    if (is_space(text[i])) {
      ++i;
    } else if (text[i] == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      const size_t close = text.substr(i + 2, kLookahead).find("*/");
      if (close == kNpos) break;
      i += 2 + close + 2;
    } else {
      break;
    }
  }
  return i;
}

// Skips at least one separator; kNpos when there is none.
size_t skip_separator(std::string_view text, size_t i) {
  const size_t next = skip_space(text, i);
  return next == i ? kNpos : next;
}

bool is_script_tag(std::string_view text, size_t lt) {
  size_t i = lt + 1;
  if (i < text.size() && text[i] == '/') ++i;
  if (match_word(text, i, "script")) return true;
  // Embedding tags are harmless as words ("renders <iframe> embeds") and
  // only dangerous with attributes.
  for (std::string_view tag : {"iframe", "object", "embed"}) {
    if (match_at(text, i, tag) && i + tag.size() < text.size() &&
        (is_space(text[i + tag.size()]) || text[i + tag.size()] == '/')) {
      return true;
    }
  }
  return false;
}

// "javascript:" (browsers drop tabs and newlines inside the scheme), and
// "data:text/html".
bool is_script_url(std::string_view text, size_t colon) {
  size_t last = colon;
  while (last > 0 && (text[last - 1] == '\t' || text[last - 1] == '\n' || text[last - 1] == '\r')) {
    --last;
  }
  // Every scheme below ends in 't', and "data" in 'a': most colons stop here.
  const char before = last > 0 ? lower(text[last - 1]) : '\0';
  if (before != 't' && before != 'a') return false;
  for (std::string_view scheme : {"javascript", "vbscript", "livescript"}) {
    size_t i = colon;
    size_t k = scheme.size();
    while (k > 0 && i > 0) {
      const char c = text[i - 1];
      if (c == '\t' || c == '\n' || c == '\r') {
        --i;
        continue;
      }
      if (lower(c) != scheme[k - 1]) break;
      --i;
      --k;
    }
    if (k == 0) return true;
  }
  return colon >= 4 && match_at(text, colon - 4, "data") && match_at(text, colon + 1, "text/html");
}

// on<event>= in an open tag (<img src=x onerror=...>) or right after a quote
// or slash that closes an attribute (" onmouseover=..., <svg/onload=...).
// in_tag: a '<' came before with no '>' after it.
bool is_event_handler(std::string_view text, size_t eq, bool in_tag) {
  size_t end = eq;
  while (end > 0 && is_space(text[end - 1])) --end;
  size_t begin = end;
  while (begin > 0 && is_letter(text[begin - 1])) --begin;
  if (end - begin < 5 || !match_at(text, begin, "on")) return false;
  if (begin > 0 && is_word(text[begin - 1])) return false;
  size_t before = begin;
  while (before > 0 && is_space(text[before - 1])) --before;
  if (before > 0 && (is_quote(text[before - 1]) || text[before - 1] == '/')) return true;
  return in_tag;
}

// An SQL operand: a quoted string (the closing quote may be missing, the
// application adds it) or a bare word. Returns the position after it.
size_t read_operand(std::string_view text, size_t i, std::string_view* value) {
  if (i < text.size() && is_quote(text[i])) {
    const std::string_view rest = text.substr(i + 1, kLookahead);
    const size_t close = rest.find(text[i]);
    if (close == kNpos) {
      // Unclosed: the application's own closing quote follows.
      if (rest.size() == kLookahead) return kNpos;
      *value = rest;
      return text.size();
    }
    *value = rest.substr(0, close);
    return i + 1 + close + 1;
  }
  size_t end = i;
  while (end < text.size() && end - i < kLookahead && is_word(text[end])) ++end;
  if (end == i || end - i == kLookahead) return kNpos;
  *value = text.substr(i, end - i);
  return end;
}

bool equal_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (lower(a[k]) != lower(b[k])) return false;
  }
  return true;
}

// An SQL comment that ends the statement: "--" then a space or the end.
bool is_sql_comment(std::string_view text, size_t i) {
  if (!match_at(text, i, "--")) return false;
  return i + 2 == text.size() || is_space(text[i + 2]);
}

// After a quote: OR/AND and a tautology (' OR '1'='1, " or 1=1, ' or ''=').
bool is_tautology(std::string_view text, size_t i) {
  size_t k = kNpos;
  if (match_word(text, i, "or") || match_at(text, i, "||")) {
    k = i + 2;
  } else if (match_word(text, i, "and") || match_at(text, i, "&&")) {
    k = i + (text[i] == '&' ? 2 : 3);
  } else {
    return false;
  }
  k = skip_space(text, k);
  std::string_view left;
  k = read_operand(text, k, &left);
  if (k == kNpos) return false;
  k = skip_space(text, k);
  if (k == text.size() || is_sql_comment(text, k) || text[k] == '#') {
    return equal_ci(left, "1") || equal_ci(left, "true");  // ' OR 1--
  }
  if (text[k] != '=') return false;
  k = skip_space(text, k + 1);
  std::string_view right;
  if (read_operand(text, k, &right) == kNpos) return false;
  return equal_ci(left, right);
}

// After a semicolon: a second statement that changes or reads data.
bool is_stacked_statement(std::string_view text, size_t i) {
  auto word_then = [&](std::string_view first, std::initializer_list<std::string_view> seconds) {
    if (!match_word(text, i, first)) return false;
    const size_t k = skip_separator(text, i + first.size());
    if (k == kNpos) return false;
    for (std::string_view second : seconds) {
      if (match_word(text, k, second)) return true;
    }
    return false;
  };
  if (word_then("drop", {"table", "database", "schema", "user", "view"})) return true;
  if (word_then("delete", {"from"}) || word_then("insert", {"into"})) return true;
  if (word_then("truncate", {"table"}) || word_then("alter", {"table", "user"})) return true;
  if (word_then("create", {"table", "user"})) return true;
  if (match_word(text, i, "shutdown")) return true;
  if (match_word(text, i, "exec") || match_word(text, i, "execute")) return true;
  if (match_word(text, i, "update")) {
    size_t k = skip_separator(text, i + 6);
    if (k == kNpos) return false;
    while (k < text.size() && (is_word(text[k]) || text[k] == '.')) ++k;
    k = skip_separator(text, k);
    return k != kNpos && match_word(text, k, "set");
  }
  if (match_word(text, i, "select")) {
    if (match_at(text, skip_space(text, i + 6), "*")) return true;
    const size_t limit = text.size() < i + 80 ? text.size() : i + 80;
    for (size_t k = i + 7; k < limit; ++k) {
      if (is_space(text[k - 1]) && match_word(text, k, "from")) return true;
    }
    return false;
  }
  return false;
}

bool is_union_select(std::string_view text, size_t u) {
  if (u > 0 && is_word(text[u - 1])) return false;
  if (!match_word(text, u, "union")) return false;
  size_t k = skip_separator(text, u + 5);
  if (k == kNpos) return false;
  if (match_word(text, k, "all") || match_word(text, k, "distinct")) {
    k = skip_separator(text, k + (lower(text[k]) == 'a' ? 3 : 8));
    if (k == kNpos) return false;
  }
  return match_word(text, k, "select");
}

bool after_quote(std::string_view text, size_t quote) {
  const size_t k = skip_space(text, quote + 1);
  if (k >= text.size()) return false;
  if (is_sql_comment(text, k)) return true;
  if (text[k] == ';') return is_stacked_statement(text, skip_space(text, k + 1));
  return is_tautology(text, k);
}

constexpr std::array<bool, 256> make_triggers() {
  std::array<bool, 256> t{};
  for (unsigned char c : {'<', '>', ':', '=', '\'', '"', '`', ';', 'u', 'U'}) t[c] = true;
  return t;
}
constexpr std::array<bool, 256> kTriggers = make_triggers();

}  // namespace

bool looks_like_injection(std::string_view text) {
  const size_t n = text.size();
  bool in_tag = false;
  for (size_t i = 0; i < n; ++i) {
    while (i < n && !kTriggers[static_cast<unsigned char>(text[i])]) ++i;
    if (i == n) break;
    const char c = text[i];
    switch (c) {
      case '<':
        if (is_script_tag(text, i)) return true;
        in_tag = true;
        break;
      case '>':
        in_tag = false;
        break;
      case ':':
        if (is_script_url(text, i)) return true;
        break;
      case '=':
        if (is_event_handler(text, i, in_tag)) return true;
        break;
      case ';':
        if (is_stacked_statement(text, skip_space(text, i + 1))) return true;
        break;
      case 'u':
      case 'U':
        if (i + 1 < n && lower(text[i + 1]) == 'n' && is_union_select(text, i)) return true;
        break;
      default:  // a quote
        if (after_quote(text, i)) return true;
        break;
    }
  }
  return false;
}

}  // namespace baton::validator_internal
