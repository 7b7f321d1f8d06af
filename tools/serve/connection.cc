#include "connection.h"

#include <chrono>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "../json_util.h"
#include "http_util.h"

namespace baton_cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

constexpr auto kHttpTimeout = std::chrono::seconds(30);
constexpr size_t kHttpBodyLimit = 64 * 1024;

std::string refusal(std::string_view code, std::string_view error) {
  return fmt::format(R"({{"ok":false,"code":{},"error":{}}})", json_quote(code), json_quote(error));
}

http::status http_status_for(int rc) {
  switch (rc) {
    case BATON_OK: return http::status::ok;
    case BATON_ENOT_FOUND: return http::status::not_found;
    case BATON_EDENIED: return http::status::forbidden;
    case BATON_EINVALID_ARGUMENT:
    case BATON_EINVALID:
    case BATON_EPARSE: return http::status::bad_request;
    case BATON_ERATE_LIMITED: return http::status::too_many_requests;
    case BATON_ECLOSED: return http::status::service_unavailable;
    default: return http::status::internal_server_error;
  }
}

bool contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

}  // namespace

Connection::Connection(net::ip::tcp::socket&& socket, ServerShared& shared)
    : shared_(shared), executor_(socket.get_executor()), stream_(std::move(socket)) {
  beast::error_code ec;
  auto remote = stream_.socket().remote_endpoint(ec);
  peer_ = ec ? std::string("?") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
}

Connection::~Connection() {
  if (session_) baton_session_close(session_);
  shared_.remove(this);
  shared_.log(BATON_LOG_DEBUG, fmt::format("{}: connection closed", peer_));
}

void Connection::start() {
  net::dispatch(executor_, [self = shared_from_this()] { self->read_request(); });
}

void Connection::shutdown() {
  net::post(executor_, [self = shared_from_this()] {
    self->stopping_ = true;
    beast::error_code ignored;
    switch (self->phase_) {
      case Phase::kHttpRead:
        self->stream_.socket().close(ignored);
        break;
      case Phase::kWsRead:
        self->close_websocket(websocket::close_code::going_away);
        break;
      default:
        // Busy: the write or handshake completion sees stopping_ and closes.
        break;
    }
  });
}

// ---- HTTP ------------------------------------------------------------------

void Connection::read_request() {
  phase_ = Phase::kHttpRead;
  parser_.emplace();
  parser_->body_limit(kHttpBodyLimit);
  stream_.expires_after(kHttpTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     self->on_request(ec);
                   });
}

void Connection::on_request(beast::error_code ec) {
  if (ec) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    return;
  }
  if (stopping_) return;
  if (websocket::is_upgrade(parser_->get())) {
    upgrade(parser_->release());
  } else {
    handle_http(parser_->get());
  }
}

void Connection::handle_http(const Request& req) {
  const bool keep_alive = req.keep_alive();
  auto respond = [&](http::status status, std::string body) {
    Response res{status, req.version()};
    res.set(http::field::server, "baton");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();  // the length of a GET, no body
    write_http(std::move(res));
  };
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return respond(http::status::method_not_allowed,
                   refusal("invalid_argument", "only GET is served over plain HTTP"));
  }
  if (path == "/healthz") return respond(http::status::ok, R"({"ok":true})");

  constexpr std::string_view kRuns = "/runs/";
  if (path.starts_with(kRuns) && path.size() > kRuns.size()) {
    std::string run = percent_decode(path.substr(kRuns.size()));
    std::string token = bearer_token(req);
    std::string client = client_name(req);
    std::string credentials = credentials_json(client.empty() ? "http" : client, token);
    baton_session* session = nullptr;
    int rc = baton_session_open(shared_.engine(), credentials.c_str(), &session);
    if (rc != BATON_OK) {
      return respond(http::status::unauthorized, refusal(baton_status_name(rc), baton_last_error()));
    }
    std::string request = fmt::format(R"({{"op":"run","run":{}}})", json_quote(run));
    char* out = nullptr;
    size_t out_len = 0;
    rc = baton_session_query(session, request.c_str(), &out, &out_len);
    std::string body = rc == BATON_OK ? std::string(out, out_len)
                                      : refusal(baton_status_name(rc), baton_last_error());
    baton_free(out);
    baton_session_close(session);
    return respond(http_status_for(rc), std::move(body));
  }
  respond(http::status::not_found,
          refusal("not_found", "no such endpoint: use GET /healthz, GET /runs/ID, or a WebSocket "
                               "upgrade"));
}

void Connection::write_http(Response response) {
  phase_ = Phase::kHttpWrite;
  response_ = std::make_shared<Response>(std::move(response));
  http::async_write(stream_, *response_, [self = shared_from_this()](beast::error_code ec, size_t) {
    bool keep_alive = self->response_->keep_alive();
    self->response_.reset();
    if (ec) return;
    if (!keep_alive || self->stopping_) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
      return;
    }
    self->read_request();
  });
}

// ---- Upgrade ---------------------------------------------------------------

void Connection::upgrade(Request req) {
  const auto& config = shared_.config();
  auto refuse = [&](http::status status, std::string body) {
    Response res{status, req.version()};
    res.set(http::field::server, "baton");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = std::move(body);
    res.prepare_payload();
    write_http(std::move(res));
  };

  if (!origin_allowed(req, config.origins)) {
    shared_.log(BATON_LOG_INFO, fmt::format("{}: refused origin {}", peer_,
                                            std::string(req[http::field::origin])));
    return refuse(http::status::forbidden,
                  refusal("denied", "this Origin may not connect; the server lists allowed "
                                    "browser origins with --origin"));
  }
  header_client_ = client_name(req);
  std::string token = bearer_token(req);
  if (!token.empty()) {
    if (auto refused = open_session(header_client_, token)) {
      shared_.log(BATON_LOG_INFO, fmt::format("{}: refused credentials of client '{}'", peer_,
                                              header_client_));
      return refuse(http::status::unauthorized, *refused);
    }
  }

  upgrade_request_ = std::move(req);
  ws_.emplace(std::move(stream_));
  ws_->next_layer().expires_never();
  websocket::stream_base::timeout timeout =
      websocket::stream_base::timeout::suggested(beast::role_type::server);
  if (config.idle_timeout_ms > 0) {
    timeout.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
    timeout.keep_alive_pings = true;
  } else {
    timeout.idle_timeout = websocket::stream_base::none();
  }
  ws_->set_option(timeout);
  websocket::permessage_deflate pmd;
  pmd.server_enable = false;
  pmd.client_enable = false;
  ws_->set_option(pmd);
  ws_->read_message_max(config.max_message_bytes);
  ws_->set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "baton"); }));
  phase_ = Phase::kHandshake;
  ws_->async_accept(upgrade_request_, [self = shared_from_this()](beast::error_code ec) {
    self->on_accept(ec);
  });
}

void Connection::on_accept(beast::error_code ec) {
  if (ec) {
    shared_.log(BATON_LOG_DEBUG, fmt::format("{}: handshake failed: {}", peer_, ec.message()));
    return;
  }
  shared_.log(BATON_LOG_DEBUG, fmt::format("{}: websocket open (client '{}')", peer_,
                                           header_client_));
  if (stopping_) return close_websocket(websocket::close_code::going_away);
  read_message();
}

// ---- WebSocket messages ------------------------------------------------------

void Connection::read_message() {
  phase_ = Phase::kWsRead;
  ws_->async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t bytes) {
    self->on_read(ec, bytes);
  });
}

void Connection::on_read(beast::error_code ec, size_t bytes) {
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      // Beast has already sent close code 1009 (message too big).
      shared_.log(BATON_LOG_INFO,
                  fmt::format("{}: message over {} bytes, closed with 1009", peer_,
                              shared_.config().max_message_bytes));
    } else if (ec != websocket::error::closed) {
      shared_.log(BATON_LOG_DEBUG, fmt::format("{}: read ended: {}", peer_, ec.message()));
    }
    return;
  }
  phase_ = Phase::kWsBusy;
  auto data = buffer_.cdata();
  std::string_view text(static_cast<const char*>(data.data()), bytes);
  std::string reply = handle_message(text, ws_->got_text());
  buffer_.consume(bytes);
  write_reply(std::move(reply));
}

std::optional<std::string> Connection::open_session(const std::string& client,
                                                    const std::string& token) {
  std::string credentials = credentials_json(client, token);
  int rc = baton_session_open(shared_.engine(), credentials.empty() ? nullptr : credentials.c_str(),
                              &session_);
  if (rc == BATON_OK) return std::nullopt;
  session_ = nullptr;
  return refusal(baton_status_name(rc), baton_last_error());
}

std::string Connection::handle_message(std::string_view text, bool is_text) {
  if (!is_text) {
    return refusal("parse", "binary messages are not accepted: send each JSON message as a text "
                            "frame");
  }
  if (!session_) {
    // The first message on a connection without an Authorization header may be a hello.
    if (contains(text, "\"hello\"")) {
      auto doc = json_.parse(text.data(), text.size(), true);
      if (!doc.error() && get_string(doc.value_unsafe(), "type") == "hello") {
        return handle_hello(doc.value_unsafe());
      }
    }
    if (auto refused = open_session(header_client_, "")) {
      close_after_reply_ = true;
      return *refused;
    }
  }
  // Only messages that may be a query or a late hello are parsed here; the
  // engine parses every message anyway, so the common case is parsed once.
  if (contains(text, "\"query\"") || contains(text, "\"hello\"")) {
    auto doc = json_.parse(text.data(), text.size(), true);
    if (!doc.error()) {
      auto type = get_string(doc.value_unsafe(), "type");
      if (type == "query") return handle_query(doc.value_unsafe());
      if (type == "hello") {
        return refusal("conflict", "this connection is already authenticated: hello must be the "
                                   "first message and only without an Authorization header");
      }
    }
  }
  char* reply = nullptr;
  size_t reply_len = 0;
  int rc = baton_push(session_, text.data(), text.size(), &reply, &reply_len);
  std::string out = reply ? std::string(reply, reply_len)
                          : refusal(baton_status_name(rc), baton_last_error());
  baton_free(reply);
  return out;
}

std::string Connection::handle_hello(simdjson::dom::element hello) {
  std::string client(get_string(hello, "client").value_or(header_client_));
  std::string token(get_string(hello, "token").value_or(""));
  if (auto refused = open_session(client, token)) {
    shared_.log(BATON_LOG_INFO, fmt::format("{}: hello of client '{}' refused", peer_, client));
    close_after_reply_ = true;
    return *refused;
  }
  header_client_ = client;
  return R"({"ok":true,"hello":true})";
}

std::string Connection::handle_query(simdjson::dom::element query) {
  // The query is the message without the envelope fields.
  std::string request = "{";
  for (auto field : as_object(query)) {
    if (field.key == "type" || field.key == "client" || field.key == "seq") continue;
    if (request.size() > 1) request += ',';
    json_append_quoted(&request, field.key);
    request += ':';
    request += simdjson::minify(field.value);
  }
  request += '}';
  char* out = nullptr;
  size_t out_len = 0;
  int rc = baton_session_query(session_, request.c_str(), &out, &out_len);
  std::string reply = rc == BATON_OK
                          ? fmt::format(R"({{"ok":true,"result":{}}})", std::string_view(out, out_len))
                          : refusal(baton_status_name(rc), baton_last_error());
  baton_free(out);
  return reply;
}

void Connection::write_reply(std::string reply) {
  reply_ = std::move(reply);
  ws_->text(true);
  ws_->async_write(net::buffer(reply_), [self = shared_from_this()](beast::error_code ec, size_t) {
    self->on_write(ec);
  });
}

void Connection::on_write(beast::error_code ec) {
  if (ec) return;
  if (close_after_reply_) return close_websocket(websocket::close_code::policy_error);
  if (stopping_) return close_websocket(websocket::close_code::going_away);
  read_message();
}

void Connection::close_websocket(websocket::close_code code) {
  if (closing_) return;
  closing_ = true;
  phase_ = Phase::kClosing;
  ws_->async_close(code, [self = shared_from_this()](beast::error_code) {});
}

}  // namespace baton_cli
