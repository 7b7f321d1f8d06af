#include "server.h"

#include <cstdio>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>

#include "connection.h"

namespace baton_cli {

namespace net = boost::asio;
using tcp = net::ip::tcp;

ServerShared::ServerShared(baton_engine* engine, const ServeConfig& config)
    : engine_(engine), config_(config), min_log_level_(parse_log_level(config.log)) {}

void ServerShared::add(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  live_.emplace(connection.get(), connection);
}

void ServerShared::remove(const Connection* connection) {
  std::lock_guard lock(mu_);
  live_.erase(connection);
}

size_t ServerShared::live() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

void ServerShared::stop_all() {
  stopping_.store(true);
  std::vector<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard lock(mu_);
    for (auto& [ptr, weak] : live_) {
      if (auto c = weak.lock()) connections.push_back(std::move(c));
    }
  }
  // Outside the lock: dropping the last reference runs ~Connection, which removes itself.
  for (auto& c : connections) c->shutdown();
}

void ServerShared::log(int level, std::string_view message) const {
  if (min_log_level_ < 0 || level < min_log_level_) return;
  static const char* const names[] = {"debug", "info", "warn", "error"};
  std::fprintf(stderr, "baton serve[%s]: %.*s\n", names[level], static_cast<int>(message.size()),
               message.data());
}

Server::Server(baton_engine* engine, const ServeConfig& config)
    : shared_(engine, config), ioc_(config.threads), acceptor_(net::make_strand(ioc_)) {
  boost::system::error_code ec;
  auto address = net::ip::make_address(config.bind, ec);
  if (ec) {
    throw CliError(kExitUsage, fmt::format("--bind '{}' is not an IP address", config.bind),
                   "use 127.0.0.1 (this host only), 0.0.0.0 (every interface) or ::");
  }
  tcp::endpoint wanted(address, config.port);
  auto fail = [&](std::string_view what) {
    return CliError(kExitRuntime,
                    fmt::format("cannot {} {}:{}: {}", what, config.bind, config.port, ec.message()),
                    "pick another --port (0 picks a free one) or stop the process using it");
  };
  acceptor_.open(wanted.protocol(), ec);
  if (ec) throw fail("open a socket for");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  acceptor_.bind(wanted, ec);
  if (ec) throw fail("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw fail("listen on");
  endpoint_ = acceptor_.local_endpoint();
}

Server::~Server() {
  if (!threads_.empty()) stop(std::chrono::milliseconds(0));
}

void Server::start() {
  accept();
  for (int i = 0; i < shared_.config().threads; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
}

void Server::accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec,
                                                        tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec && !shared_.stopping()) {
      auto connection = std::make_shared<Connection>(std::move(socket), shared_);
      shared_.add(connection);
      connection->start();
    } else if (ec) {
      shared_.log(BATON_LOG_WARN, fmt::format("accept failed: {}", ec.message()));
    }
    accept();
  });
}

void Server::stop(std::chrono::milliseconds timeout) {
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  shared_.stop_all();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (shared_.live() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (size_t left = shared_.live(); left > 0) {
    shared_.log(BATON_LOG_WARN,
                fmt::format("{} connection(s) still open after the shutdown timeout; closing them",
                            left));
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace baton_cli
