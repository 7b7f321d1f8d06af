// AccessController: credentials -> principal, and the check of every message.
//
// Tokens are configured only as SHA-256 digests (hex); a presented token is
// hashed with libcrypto and compared in constant time. A principal remembers
// the digest it authenticated with, not the token, and every authorization
// looks the digest up in the current configuration, so reload() revokes or
// narrows open sessions' rights at once.
//
// Thread safety: all methods may be called concurrently; reload() swaps the
// configuration atomically.
#ifndef BATON_ACCESS_H_
#define BATON_ACCESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "baton/event.h"
#include "baton/status.h"

namespace baton {

enum Role : uint32_t {
  kRoleReporter = 1u << 0,  // reporting messages (run/suite/test.*)
  kRoleWorker = 1u << 1,    // queue messages (queue.claim, spec.end, worker.heartbeat)
  kRoleViewer = 1u << 2,    // queries, export, replay
  kRoleAdmin = 1u << 3,     // everything, including run.cancel and cleanup
};

// What an authenticated session is. Holds no secret.
struct Principal {
  std::string client;
  std::string digest;      // hex SHA-256 of the token; empty in open mode
  bool open_mode = false;  // no access configured: everything allowed
};

// Glob with `*` (any run of characters) and `?` (one character).
bool glob_match(std::string_view pattern, std::string_view text);

class AccessController {
 public:
  AccessController();  // open mode
  ~AccessController();
  AccessController(const AccessController&) = delete;
  AccessController& operator=(const AccessController&) = delete;

  // Replaces the configuration with the `access` option object (CAPI.md);
  // empty json means open mode. On error the old configuration stays.
  Status reload(std::string_view json);
  bool open_mode() const;

  // Credentials JSON {"client": "...", "token": "..."} -> principal.
  // kDenied for an unknown token or a client outside the token's `clients`
  // glob; kInvalidArgument for malformed credentials.
  Status authenticate(std::string_view credentials_json, Principal* out) const;

  // May `p` send a message of `type` about `run`? kDenied naming the role or
  // scope that is missing (and for a revoked token).
  Status authorize(const Principal& p, EventType type, std::string_view run) const;
  // May `p` do a non-message operation needing `role` (viewer for queries,
  // admin for cleanup) on `run` (empty: any run)?
  Status authorize_role(const Principal& p, uint32_t role, std::string_view run) const;

 private:
  struct Config;
  std::shared_ptr<const Config> config() const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Lowercase hex SHA-256 of `data` (libcrypto).
std::string sha256_hex(std::string_view data);

}  // namespace baton

#endif  // BATON_ACCESS_H_
