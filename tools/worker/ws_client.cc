#include "ws_client.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include "../cli.h"

namespace baton_cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

WsUrl parse_ws_url(const std::string& url) {
  constexpr std::string_view kScheme = "ws://";
  if (url.starts_with("wss://")) {
    throw CliError(kExitUsage, "wss:// is not supported by baton worker",
                   "reach the server over ws:// inside the CI network, or through a local "
                   "TLS-terminating tunnel");
  }
  if (!url.starts_with(kScheme)) {
    throw CliError(kExitUsage, fmt::format("--server must look like ws://HOST:PORT, got '{}'", url));
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  WsUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.starts_with('[')) {  // [::1]:8787
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      throw CliError(kExitUsage, fmt::format("bad IPv6 address in --server '{}'", url));
    }
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    out.port = authority.starts_with(':') ? std::string(authority.substr(1)) : "80";
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    out.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty()) {
    throw CliError(kExitUsage, fmt::format("--server must look like ws://HOST:PORT, got '{}'", url));
  }
  return out;
}

std::vector<WsUrl> parse_ws_urls(const std::string& list) {
  std::vector<WsUrl> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    out.push_back(parse_ws_url(list.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

WsClient::WsClient(std::vector<WsUrl> urls, Headers headers, size_t max_reply_bytes)
    : urls_(std::move(urls)), headers_(std::move(headers)), max_reply_bytes_(max_reply_bytes) {}

void WsClient::next_server() {
  ws_.reset();
  current_ = (current_ + 1) % urls_.size();
}

std::string WsClient::server_name() const {
  const WsUrl& url = urls_[current_];
  return fmt::format("{}:{}", url.host, url.port);
}

WsClient::~WsClient() { close(); }

bool WsClient::run_until(const bool& done, std::chrono::steady_clock::time_point deadline) {
  ioc_.restart();
  while (!done) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    ioc_.run_one_for(deadline - now);
  }
  if (done) return true;
  // Cancel what is pending and let its handler run with operation_aborted.
  if (ws_) {
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
  }
  ioc_.restart();
  while (!done && ioc_.run_one() > 0) {
  }
  return false;
}

void WsClient::fail(const std::string& what) {
  ws_.reset();
  throw TransportError(what);
}

void WsClient::connect(std::chrono::milliseconds timeout) {
  ws_.reset();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const WsUrl& url = urls_[current_];
  const std::string where = server_name();

  tcp::resolver resolver(ioc_);
  bool done = false;
  beast::error_code ec;
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(url.host, url.port,
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                           done = true;
                         });
  if (!run_until(done, deadline)) {
    resolver.cancel();
    fail(fmt::format("resolving {} timed out", url.host));
  }
  if (ec) fail(fmt::format("cannot resolve {}: {}", url.host, ec.message()));

  ws_.emplace(ioc_);
  done = false;
  beast::get_lowest_layer(*ws_).async_connect(endpoints,
                                              [&](beast::error_code e, const tcp::endpoint&) {
                                                ec = e;
                                                done = true;
                                              });
  if (!run_until(done, deadline)) fail(fmt::format("connecting to {} timed out", where));
  if (ec) fail(fmt::format("cannot connect to {}: {}", where, ec.message()));
  beast::error_code ignored;
  beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true), ignored);

  websocket::permessage_deflate pmd;
  pmd.client_enable = false;
  ws_->set_option(pmd);
  ws_->read_message_max(max_reply_bytes_);
  ws_->set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
    req.set(beast::http::field::user_agent, "baton-worker");
    for (const auto& [name, value] : headers_) req.set(name, value);
  }));
  websocket::response_type response;
  done = false;
  ws_->async_handshake(response, where, url.target,
                       [&](beast::error_code e) {
                         ec = e;
                         done = true;
                       });
  if (!run_until(done, deadline)) fail(fmt::format("the handshake with {} timed out", where));
  if (ec) {
    if (ec == websocket::error::upgrade_declined) {
      ws_.reset();
      throw HandshakeRefused(static_cast<int>(response.result_int()),
                             fmt::format("{} refused the WebSocket upgrade with HTTP {}: {}",
                                         where, response.result_int(), response.body()));
    }
    fail(fmt::format("handshake with {} failed: {}", where, ec.message()));
  }
}

std::string WsClient::request(std::string_view text, std::chrono::milliseconds timeout) {
  if (!ws_) throw TransportError("not connected");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool done = false;
  beast::error_code ec;
  ws_->text(true);
  ws_->async_write(net::buffer(text.data(), text.size()), [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(done, deadline)) fail("sending timed out");
  if (ec) fail(fmt::format("sending failed: {}", ec.message()));

  beast::flat_buffer buffer;
  done = false;
  ws_->async_read(buffer, [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(done, deadline)) fail("no reply before the timeout");
  if (ec) {
    if (ec == websocket::error::closed) {
      auto reason = ws_->reason();
      fail(fmt::format("the server closed the connection (code {}{}{})",
                       static_cast<int>(reason.code), reason.reason.empty() ? "" : ": ",
                       std::string(reason.reason.data(), reason.reason.size())));
    }
    fail(fmt::format("reading the reply failed: {}", ec.message()));
  }
  return beast::buffers_to_string(buffer.data());
}

void WsClient::close() {
  if (!ws_) return;
  bool done = false;
  ws_->async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
  run_until(done, std::chrono::steady_clock::now() + std::chrono::seconds(2));
  ws_.reset();
}

}  // namespace baton_cli
