// AccessController (see include/baton/access.h).
//
// Looking tokens up. A presented token is hashed with SHA-256 at once, and
// only its digest is ever compared or kept. Tokens are found through a hash
// map keyed by the digest rather than by comparing against every configured
// entry: the map's timing depends only on the digest, which is a one-way
// function of the secret, so it tells an observer nothing that helps guess a
// token (learning even a whole configured digest does not yield a token that
// hashes to it). The map costs O(1) per lookup, which matters because every
// pushed message re-resolves its session's digest. The final equality test
// still uses CRYPTO_memcmp, so no comparison inside the lookup exits early on
// the first differing byte either.
//
// Revocation. A Principal holds the hex digest it authenticated with, and
// every authorize() resolves that digest against the configuration current at
// that moment (a shared_ptr replaced under a mutex), so a reload that drops or
// narrows a token takes effect on the next message of every open session.
//
// Messages never include a token or a digest, only field names, roles, run ids
// and client names.
#include "baton/access.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace baton {

namespace {

constexpr size_t kDigestBytes = 32;
// Longest client name a session may claim; longer is a malformed credential.
constexpr size_t kMaxClientBytes = 256;
constexpr std::string_view kAnonymous = "anonymous";

using Digest = std::array<unsigned char, kDigestBytes>;

struct DigestHash {
  // The digest is already uniformly distributed; any 8 of its bytes are a
  // good hash, and an attacker cannot choose digests to collide.
  size_t operator()(const Digest& d) const {
    uint64_t h;
    std::memcpy(&h, d.data(), sizeof h);
    return static_cast<size_t>(h);
  }
};

struct DigestEqual {
  bool operator()(const Digest& a, const Digest& b) const {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
  }
};

struct TokenEntry {
  uint32_t roles = 0;
  std::string runs = "*";
  std::string clients = "*";
};

// Every message decodes its session's digest, so decoding is a table lookup.
constexpr std::array<int8_t, 256> kHexValues = [] {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int c = '0'; c <= '9'; ++c) table[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) table[c] = static_cast<int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) table[c] = static_cast<int8_t>(c - 'A' + 10);
  return table;
}();

int hex_value(char c) { return kHexValues[static_cast<unsigned char>(c)]; }

bool decode_digest(std::string_view hex, Digest* out) {
  if (hex.size() != 2 * kDigestBytes) return false;
  for (size_t i = 0; i < kDigestBytes; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool sha256(std::string_view data, Digest* out) {
  unsigned int length = 0;
  return EVP_Digest(data.data(), data.size(), out->data(), &length, EVP_sha256(), nullptr) == 1 &&
         length == kDigestBytes;
}

std::string to_hex(const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * kDigestBytes, '0');
  for (size_t i = 0; i < kDigestBytes; ++i) {
    hex[2 * i] = kHex[d[i] >> 4];
    hex[2 * i + 1] = kHex[d[i] & 0xf];
  }
  return hex;
}

bool parse_role(std::string_view name, uint32_t* out) {
  if (name == "reporter") *out = kRoleReporter;
  else if (name == "worker") *out = kRoleWorker;
  else if (name == "viewer") *out = kRoleViewer;
  else if (name == "admin") *out = kRoleAdmin;
  else return false;
  return true;
}

// "reporter", "reporter or worker", ...; admin when nothing less will do.
std::string role_names(uint32_t roles) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {kRoleReporter, "reporter"}, {kRoleWorker, "worker"}, {kRoleViewer, "viewer"},
      {kRoleAdmin, "admin"}};
  std::string names;
  for (const auto& [bit, name] : kNames) {
    if ((roles & bit) == 0) continue;
    if (!names.empty()) names += " or ";
    names += name;
  }
  return names.empty() ? "admin" : names;
}

// Roles (besides admin, which may send everything) allowed to send `type`.
uint32_t roles_for(EventType type) {
  switch (type) {
    case EventType::kRunStart:
      // A queue-mode worker may be the first to reach a run and start it.
      return kRoleReporter | kRoleWorker;
    case EventType::kRunEnd:
    case EventType::kSuiteStart:
    case EventType::kSuiteEnd:
    case EventType::kTestStart:
    case EventType::kTestEnd:
    case EventType::kTestLog:
      return kRoleReporter;
    case EventType::kQueueClaim:
    case EventType::kSpecEnd:
    case EventType::kWorkerHeartbeat:
      return kRoleWorker;
    case EventType::kRunCancel:
      break;
  }
  return 0;
}

bool is_blank(std::string_view json) {
  return json.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

Status denied(std::string message, std::string field, std::string rule) {
  return Status::error(Code::kDenied, std::move(message), std::move(field), std::move(rule));
}

Status bad_config(std::string field, std::string message) {
  return Status::error(Code::kInvalidArgument, std::move(message), std::move(field), "option");
}

Status bad_credentials(std::string field, std::string message) {
  return Status::error(Code::kInvalidArgument, std::move(message), std::move(field),
                       "credentials");
}

// Advances over one UTF-8 character so that `?` matches a character, not a
// byte of one. Malformed input still advances by at least one byte.
size_t next_char(std::string_view s, size_t i) {
  ++i;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  return i;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  // Greedy matching that remembers only the most recent `*`: when a later
  // literal fails, that star absorbs one more character and matching resumes
  // after it. Earlier stars never need revisiting (whatever they could absorb
  // the latest star can too), so the cost is O(|pattern| * |text|) at worst
  // and linear for patterns like a*a*a*b, with no recursion.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos;  // index of the last `*` seen
  size_t resume = 0;                     // where text matching restarts after it
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == '?') {
      ++p;
      t = next_char(text, t);
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      resume = next_char(text, resume);
      t = resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string sha256_hex(std::string_view data) {
  Digest digest{};
  if (!sha256(data, &digest)) return {};
  return to_hex(digest);
}

struct AccessController::Config {
  bool open = true;
  std::vector<TokenEntry> tokens;
  std::unordered_map<Digest, size_t, DigestHash, DigestEqual> by_digest;
};

struct AccessController::Impl {
  mutable std::mutex mu;
  std::shared_ptr<const Config> current;
};

namespace {

Status parse_glob(simdjson::dom::element value, const std::string& field, std::string* out) {
  std::string_view glob;
  if (value.get_string().get(glob) != simdjson::SUCCESS || glob.empty()) {
    return bad_config(field, field + " must be a non-empty glob string");
  }
  out->assign(glob);
  return Status::ok();
}

Status parse_token(simdjson::dom::element value, const std::string& field, Digest* digest,
                   TokenEntry* entry) {
  simdjson::dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return bad_config(field, field + " must be an object");
  }
  bool seen_digest = false, seen_roles = false, seen_runs = false, seen_clients = false;
  for (auto member : object) {
    const std::string_view key = member.key;
    const std::string member_field = field + "." + std::string(key);
    bool* seen = nullptr;
    if (key == "sha256") seen = &seen_digest;
    else if (key == "roles") seen = &seen_roles;
    else if (key == "runs") seen = &seen_runs;
    else if (key == "clients") seen = &seen_clients;
    else return bad_config(member_field, field + " has no option \"" + std::string(key) + "\"");
    if (*seen) return bad_config(member_field, member_field + " is given twice");
    *seen = true;

    if (key == "sha256") {
      // The value is never echoed: it may be a digest, or a token pasted by mistake.
      std::string_view hex;
      if (member.value.get_string().get(hex) != simdjson::SUCCESS || !decode_digest(hex, digest)) {
        return bad_config(member_field,
                          member_field + " must be 64 hexadecimal digits (the token's SHA-256)");
      }
    } else if (key == "roles") {
      simdjson::dom::array roles;
      if (member.value.get_array().get(roles) != simdjson::SUCCESS) {
        return bad_config(member_field, member_field + " must be an array of roles");
      }
      size_t i = 0;
      for (auto role_value : roles) {
        const std::string role_field = member_field + "[" + std::to_string(i++) + "]";
        std::string_view name;
        uint32_t role = 0;
        if (role_value.get_string().get(name) != simdjson::SUCCESS) {
          return bad_config(role_field, role_field + " must be a role name");
        }
        if (!parse_role(name, &role)) {
          return bad_config(role_field, role_field + ": unknown role \"" + std::string(name) +
                                            "\" (expected reporter, worker, viewer or admin)");
        }
        entry->roles |= role;
      }
      if (entry->roles == 0) return bad_config(member_field, member_field + " must not be empty");
    } else if (key == "runs") {
      if (Status st = parse_glob(member.value, member_field, &entry->runs); !st) return st;
    } else {
      if (Status st = parse_glob(member.value, member_field, &entry->clients); !st) return st;
    }
  }
  if (!seen_digest) return bad_config(field + ".sha256", field + ".sha256 is required");
  if (!seen_roles) return bad_config(field + ".roles", field + ".roles is required");
  return Status::ok();
}

}  // namespace

AccessController::AccessController() : impl_(std::make_unique<Impl>()) {
  impl_->current = std::make_shared<const Config>();
}

AccessController::~AccessController() = default;

std::shared_ptr<const AccessController::Config> AccessController::config() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->current;
}

bool AccessController::open_mode() const { return config()->open; }

Status AccessController::reload(std::string_view json) {
  auto next = std::make_shared<Config>();
  if (!is_blank(json)) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto error = parser.parse(json.data(), json.size()).get(root); error != simdjson::SUCCESS) {
      return bad_config("access", std::string("access is not valid JSON: ") +
                                      simdjson::error_message(error));
    }
    if (!root.is_null()) {
      simdjson::dom::object object;
      if (root.get_object().get(object) != simdjson::SUCCESS) {
        return bad_config("access", "access must be an object {\"tokens\": [...]}");
      }
      bool seen_tokens = false;
      for (auto member : object) {
        const std::string_view key = member.key;
        if (key != "tokens") {
          return bad_config("access." + std::string(key),
                            "access has no option \"" + std::string(key) + "\"");
        }
        if (seen_tokens) return bad_config("access.tokens", "access.tokens is given twice");
        seen_tokens = true;
        simdjson::dom::array tokens;
        if (member.value.get_array().get(tokens) != simdjson::SUCCESS) {
          return bad_config("access.tokens", "access.tokens must be an array");
        }
        size_t i = 0;
        for (auto token_value : tokens) {
          const std::string field = "access.tokens[" + std::to_string(i) + "]";
          Digest digest{};
          TokenEntry entry;
          if (Status st = parse_token(token_value, field, &digest, &entry); !st) return st;
          const auto [it, inserted] = next->by_digest.emplace(digest, i);
          if (!inserted) {
            return bad_config(field + ".sha256", field + ".sha256 repeats access.tokens[" +
                                                     std::to_string(it->second) + "].sha256");
          }
          next->tokens.push_back(std::move(entry));
          ++i;
        }
      }
      if (!seen_tokens) return bad_config("access.tokens", "access.tokens is required");
      // With access configured, even an empty token list means "deny everyone".
      next->open = false;
    }
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->current = std::move(next);
  return Status::ok();
}

Status AccessController::authenticate(std::string_view credentials_json, Principal* out) const {
  std::string_view client = kAnonymous;
  std::string_view token;
  bool has_token = false;
  simdjson::dom::parser parser;
  if (!is_blank(credentials_json)) {
    simdjson::dom::element root;
    if (auto error = parser.parse(credentials_json.data(), credentials_json.size()).get(root);
        error != simdjson::SUCCESS) {
      return bad_credentials("credentials", std::string("credentials are not valid JSON: ") +
                                                simdjson::error_message(error));
    }
    simdjson::dom::object object;
    if (root.get_object().get(object) != simdjson::SUCCESS) {
      return bad_credentials("credentials", "credentials must be a JSON object");
    }
    bool has_client = false;
    for (auto member : object) {
      const std::string_view key = member.key;
      if (key == "client") {
        if (has_client) return bad_credentials("client", "credentials give client twice");
        has_client = true;
        if (member.value.get_string().get(client) != simdjson::SUCCESS || client.empty() ||
            client.size() > kMaxClientBytes) {
          return bad_credentials("client", "client must be a string of 1 to " +
                                               std::to_string(kMaxClientBytes) + " bytes");
        }
      } else if (key == "token") {
        if (has_token) return bad_credentials("token", "credentials give token twice");
        has_token = true;
        if (member.value.get_string().get(token) != simdjson::SUCCESS) {
          return bad_credentials("token", "token must be a string");
        }
      } else {
        return bad_credentials(std::string(key),
                               "credentials have no field \"" + std::string(key) + "\"");
      }
    }
  }

  const std::shared_ptr<const Config> cfg = config();
  Principal principal;
  principal.client.assign(client);
  principal.open_mode = cfg->open;
  Digest digest{};
  if (has_token && !token.empty()) {
    if (!sha256(token, &digest)) {
      return Status::error(Code::kInternal, "could not hash the token", "token", "sha256");
    }
    // Kept even in open mode: if access is configured later, a session that
    // presented a configured token keeps the rights of that token.
    principal.digest = to_hex(digest);
  }
  if (!cfg->open) {
    if (principal.digest.empty()) {
      return denied("a token is required: access control is configured", "token", "required");
    }
    const auto it = cfg->by_digest.find(digest);
    if (it == cfg->by_digest.end()) return denied("unknown token", "token", "unknown");
    const TokenEntry& entry = cfg->tokens[it->second];
    if (!glob_match(entry.clients, principal.client)) {
      return denied("client \"" + principal.client + "\" is outside this token's client scope \"" +
                        entry.clients + "\"",
                    "client", "scope");
    }
  }
  *out = std::move(principal);
  return Status::ok();
}

namespace {

// The entry `p` authenticated with, as the configuration `cfg` now has it.
Status resolve(const std::unordered_map<Digest, size_t, DigestHash, DigestEqual>& by_digest,
               const std::vector<TokenEntry>& tokens, const Principal& p,
               const TokenEntry** out) {
  if (p.digest.empty()) {
    return denied("this session has no token, and access control is now configured", "token",
                  "required");
  }
  Digest digest{};
  if (!decode_digest(p.digest, &digest)) {
    return denied("this session's credentials are not valid", "token", "unknown");
  }
  const auto it = by_digest.find(digest);
  if (it == by_digest.end()) return denied("token was revoked", "token", "revoked");
  const TokenEntry& entry = tokens[it->second];
  if (!glob_match(entry.clients, p.client)) {
    return denied("client \"" + p.client + "\" is outside this token's client scope \"" +
                      entry.clients + "\"",
                  "client", "scope");
  }
  *out = &entry;
  return Status::ok();
}

Status check_run(const TokenEntry& entry, std::string_view run) {
  if (glob_match(entry.runs, run)) return Status::ok();
  return denied("run \"" + std::string(run) + "\" is outside this token's scope \"" + entry.runs +
                    "\"",
                "run", "scope");
}

}  // namespace

Status AccessController::authorize(const Principal& p, EventType type,
                                   std::string_view run) const {
  const std::shared_ptr<const Config> cfg = config();
  if (cfg->open) return Status::ok();
  const TokenEntry* entry = nullptr;
  if (Status st = resolve(cfg->by_digest, cfg->tokens, p, &entry); !st) return st;
  const uint32_t allowed = roles_for(type) | kRoleAdmin;
  if ((entry->roles & allowed) == 0) {
    return denied("token lacks role " + role_names(roles_for(type)) + " for " +
                      event_type_name(type),
                  "type", "role");
  }
  // worker.heartbeat concerns the session's leases, not one run.
  if (type == EventType::kWorkerHeartbeat && run.empty()) return Status::ok();
  return check_run(*entry, run);
}

Status AccessController::authorize_role(const Principal& p, uint32_t role,
                                        std::string_view run) const {
  const std::shared_ptr<const Config> cfg = config();
  if (cfg->open) return Status::ok();
  const TokenEntry* entry = nullptr;
  if (Status st = resolve(cfg->by_digest, cfg->tokens, p, &entry); !st) return st;
  if (role != 0 && (entry->roles & (role | kRoleAdmin)) == 0) {
    return denied("token lacks role " + role_names(role) + " for this operation", "role", "role");
  }
  // An empty run names no particular run: nothing to scope.
  if (run.empty()) return Status::ok();
  return check_run(*entry, run);
}

}  // namespace baton
