// One TCP connection of `baton serve`: plain HTTP (health, run summaries)
// until it asks for a WebSocket upgrade, then one baton session that every
// text message is pushed through. All of a connection's handlers run on its
// own strand, so its session is never used by two threads at once.
#ifndef BATON_TOOLS_SERVE_CONNECTION_H_
#define BATON_TOOLS_SERVE_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <baton/baton.h>
#include <simdjson.h>

#include "server.h"

namespace baton_cli {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::ip::tcp::socket&& socket, ServerShared& shared);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Graceful stop, from any thread: the message in flight is answered, then
  // the WebSocket closes with 1001 (going away).
  void shutdown();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using WebSocket = boost::beast::websocket::stream<boost::beast::tcp_stream>;

  enum class Phase { kHttpRead, kHttpWrite, kHandshake, kWsRead, kWsBusy, kClosing };

  void read_request();
  void on_request(boost::beast::error_code ec);
  void handle_http(const Request& req);
  void write_http(Response response);
  void upgrade(Request req);
  void on_accept(boost::beast::error_code ec);
  void read_message();
  void on_read(boost::beast::error_code ec, size_t bytes);
  std::string handle_message(std::string_view text, bool is_text);
  std::string handle_hello(simdjson::dom::element hello);
  std::string handle_query(simdjson::dom::element query);
  void write_reply(std::string reply);
  void on_write(boost::beast::error_code ec);
  void close_websocket(boost::beast::websocket::close_code code);

  // Opens the session; on failure returns the refusal reply and leaves it closed.
  std::optional<std::string> open_session(const std::string& client, const std::string& token);

  ServerShared& shared_;
  boost::asio::any_io_executor executor_;
  std::string peer_;
  boost::beast::tcp_stream stream_;
  std::optional<WebSocket> ws_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<Response> response_;
  Request upgrade_request_;
  std::string reply_;
  simdjson::dom::parser json_;

  baton_session* session_ = nullptr;
  std::string header_client_;  // from X-Baton-Client or ?client=, used when no hello comes
  Phase phase_ = Phase::kHttpRead;
  bool stopping_ = false;
  bool close_after_reply_ = false;
  bool closing_ = false;
};

}  // namespace baton_cli

#endif  // BATON_TOOLS_SERVE_CONNECTION_H_
