#include "messenger.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

namespace baton_cli {

namespace {

constexpr std::chrono::milliseconds kMaxBackoff{5000};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// seq starts at the wall clock in ms: a worker restarted under the same
// --client name keeps counting above what its previous life sent (unless it
// sent more than one message per millisecond of its life), so its new
// messages are not mistaken for duplicates.
Messenger::Messenger(WsClient& ws, std::string client, MessengerSettings settings)
    : ws_(ws), client_(std::move(client)), settings_(settings), next_seq_(now_ms()) {}

// Tries every server once per round, the current one first; backs off only
// after a whole round failed.
void Messenger::ensure_connected(std::chrono::steady_clock::time_point give_up_at) {
  while (!ws_.connected()) {
    std::string last_error;
    for (size_t tried = 0; tried < ws_.servers(); ++tried) {
      try {
        ws_.connect(settings_.request_timeout);
        backoff_ = std::chrono::milliseconds(100);
        return;
      } catch (const HandshakeRefused& e) {
        if (e.status() == 401 || e.status() == 403) {
          throw CliError(kExitRefused, e.what(),
                         "check --token and --client: the server's access configuration "
                         "refused them");
        }
        last_error = e.what();
      } catch (const TransportError& e) {
        last_error = e.what();
      }
      if (ws_.servers() > 1) {
        if (settings_.verbose) {
          std::fprintf(stderr, "baton worker: %s; trying the next server\n", last_error.c_str());
        }
        ws_.next_server();
      }
    }
    if (std::chrono::steady_clock::now() >= give_up_at) {
      throw CliError(kExitRuntime, fmt::format("the server is unreachable: {}", last_error),
                     "check --server and that 'baton serve' is running there");
    }
    if (settings_.verbose) {
      std::fprintf(stderr, "baton worker: %s; retrying in %lld ms\n", last_error.c_str(),
                   static_cast<long long>(backoff_.count()));
    }
    std::this_thread::sleep_for(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  }
}

Document Messenger::call(std::string_view type, std::string_view fields) {
  std::string text = "{\"type\":";
  json_append_quoted(&text, type);
  text += ",\"client\":";
  json_append_quoted(&text, client_);
  text += fmt::format(",\"seq\":{}", next_seq_++);
  if (!fields.empty()) {
    text += ',';
    text += fields;
  }
  text += '}';

  auto give_up_at = std::chrono::steady_clock::now() + settings_.reconnect_timeout;
  while (true) {
    ensure_connected(give_up_at);
    std::string reply;
    try {
      reply = ws_.request(text, settings_.request_timeout);
    } catch (const TransportError& e) {
      if (std::chrono::steady_clock::now() >= give_up_at) {
        throw CliError(kExitRuntime, fmt::format("lost the server: {}", e.what()),
                       "check that 'baton serve' is running and reachable");
      }
      if (settings_.verbose) {
        std::fprintf(stderr, "baton worker: connection to %s lost (%s); reconnecting%s to resend %.*s\n",
                     ws_.server_name().c_str(), e.what(),
                     ws_.servers() > 1 ? " to the next server" : "",
                     static_cast<int>(type.size()), type.data());
      }
      // A server that dropped the connection may be gone: the next one takes
      // over. Every server shares the same database, so the resent message
      // (same text, same seq) is answered "dup" if any of them applied it.
      ws_.next_server();
      continue;
    }
    auto doc = Document::parse(reply);
    if (!doc) throw CliError(kExitRuntime, "the server replied with invalid JSON");
    if (get_string(doc->root(), "code") == "rate_limited") {
      auto wait = get_int(doc->root(), "retry_after_ms").value_or(100);
      std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp<int64_t>(wait, 1, 60000)));
      give_up_at = std::chrono::steady_clock::now() + settings_.reconnect_timeout;
      continue;
    }
    return std::move(*doc);
  }
}

}  // namespace baton_cli
