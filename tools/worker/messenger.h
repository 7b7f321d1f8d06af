// Exactly-once delivery for `baton worker`: every message carries the
// worker's client name and a new seq; when the connection drops, the worker
// reconnects (to the next server, when it knows several sharing one
// database) with backoff and resends the same message with the same seq, so
// an event the engine already applied is acknowledged as a duplicate instead
// of being applied twice.
#ifndef BATON_TOOLS_WORKER_MESSENGER_H_
#define BATON_TOOLS_WORKER_MESSENGER_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "../cli.h"
#include "../json_util.h"
#include "ws_client.h"

namespace baton_cli {

struct MessengerSettings {
  std::chrono::milliseconds request_timeout{30000};
  // How long to keep reconnecting before giving up (exit 3).
  std::chrono::milliseconds reconnect_timeout{120000};
  bool verbose = true;
};

class Messenger {
 public:
  Messenger(WsClient& ws, std::string client, MessengerSettings settings);

  // Sends {"type":TYPE,"client":...,"seq":...,FIELDS} and returns the reply.
  // `fields` is a JSON object body without braces, e.g. "\"run\":\"r1\"".
  // Rate-limited messages are resent after the delay the engine asks for.
  // Throws CliError: kExitRuntime when the server stays unreachable,
  // kExitRefused when it refuses the credentials at the handshake.
  Document call(std::string_view type, std::string_view fields);

  void close() { ws_.close(); }

 private:
  void ensure_connected(std::chrono::steady_clock::time_point give_up_at);

  WsClient& ws_;
  std::string client_;
  MessengerSettings settings_;
  int64_t next_seq_;
  std::chrono::milliseconds backoff_{100};
};

}  // namespace baton_cli

#endif  // BATON_TOOLS_WORKER_MESSENGER_H_
