// A blocking WebSocket client with deadlines, for `baton worker`: one request
// in flight at a time, each answered by exactly one reply. It knows one or
// more servers (`baton serve` processes sharing one PostgreSQL database) and
// connects to one of them at a time; the caller moves it to the next.
#ifndef BATON_TOOLS_WORKER_WS_CLIENT_H_
#define BATON_TOOLS_WORKER_WS_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace baton_cli {

struct WsUrl {
  std::string host;
  std::string port;
  std::string target;  // path and query, at least "/"
};

// Parses ws://HOST[:PORT][/PATH]; throws CliError (usage) otherwise.
WsUrl parse_ws_url(const std::string& url);
// Parses a comma-separated list of such URLs (at least one).
std::vector<WsUrl> parse_ws_urls(const std::string& list);

// The connection failed or timed out; the caller may reconnect and resend.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The server answered the upgrade with an HTTP error (401 bad token, 403
// origin): retrying with the same credentials cannot help.
class HandshakeRefused : public TransportError {
 public:
  HandshakeRefused(int status, const std::string& what) : TransportError(what), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

class WsClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Starts with the first of `urls` (at least one).
  WsClient(std::vector<WsUrl> urls, Headers headers, size_t max_reply_bytes);
  ~WsClient();

  // Resolves, connects to the current server and performs the handshake;
  // throws TransportError.
  void connect(std::chrono::milliseconds timeout);
  // Drops the connection, if any, and makes the next server (in the order
  // given, wrapping around) the current one.
  void next_server();
  size_t servers() const { return urls_.size(); }
  // HOST:PORT of the current server, for messages.
  std::string server_name() const;
  bool connected() const { return ws_.has_value(); }
  // Sends one text message and returns the next text message received.
  // Throws TransportError (and drops the connection) on failure or timeout.
  std::string request(std::string_view text, std::chrono::milliseconds timeout);
  // Sends a close frame (best effort) and drops the connection.
  void close();

 private:
  using WebSocket = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  // Runs the io_context until `done` or the deadline; on the deadline, cancels
  // the socket and returns false.
  bool run_until(const bool& done, std::chrono::steady_clock::time_point deadline);
  [[noreturn]] void fail(const std::string& what);

  std::vector<WsUrl> urls_;
  size_t current_ = 0;
  Headers headers_;
  size_t max_reply_bytes_;
  boost::asio::io_context ioc_;
  std::optional<WebSocket> ws_;
};

}  // namespace baton_cli

#endif  // BATON_TOOLS_WORKER_WS_CLIENT_H_
