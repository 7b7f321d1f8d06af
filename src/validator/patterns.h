// Detection of text that looks like script or SQL injection, for the
// validator's pattern policy (Limits::patterns).
#ifndef BATON_VALIDATOR_PATTERNS_H_
#define BATON_VALIDATOR_PATTERNS_H_

#include <string_view>

namespace baton::validator_internal {

// True when text holds a shape that only attacks produce: a script tag, a
// javascript:/vbscript: URL, an HTML event handler attribute in a tag or
// after a quote, a quoted tautology (' OR '1'='1), a quote closed by an SQL
// comment (admin'--), a statement stacked after a semicolon (; DROP TABLE),
// or UNION SELECT. Ordinary prose about tags, tables and dashes ("handles
// <div> rendering", "drops table when empty", "it's a test -- with dashes")
// does not match. ASCII case-insensitive; SQL comments count as spaces.
bool looks_like_injection(std::string_view text);

}  // namespace baton::validator_internal

#endif  // BATON_VALIDATOR_PATTERNS_H_
