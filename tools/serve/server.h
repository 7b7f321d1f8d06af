// The WebSocket server of `baton serve`: an io_context run by N threads, an
// acceptor, and the registry of live connections that a graceful stop walks.
#ifndef BATON_TOOLS_SERVE_SERVER_H_
#define BATON_TOOLS_SERVE_SERVER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <baton/baton.h>

#include "serve_config.h"

namespace baton_cli {

class Connection;

// What every connection shares. Thread-safe.
class ServerShared {
 public:
  ServerShared(baton_engine* engine, const ServeConfig& config);

  baton_engine* engine() const { return engine_; }
  const ServeConfig& config() const { return config_; }
  bool stopping() const { return stopping_.load(); }

  void add(const std::shared_ptr<Connection>& connection);
  void remove(const Connection* connection);
  size_t live() const;
  // Marks the server stopping and asks every live connection to finish.
  void stop_all();

  // Server messages on stderr, filtered by --log.
  void log(int level, std::string_view message) const;

 private:
  baton_engine* engine_;
  const ServeConfig& config_;
  int min_log_level_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> live_;
};

class Server {
 public:
  // Binds and listens; throws CliError (kExitRuntime) when the address is taken.
  Server(baton_engine* engine, const ServeConfig& config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  boost::asio::ip::tcp::endpoint local_endpoint() const { return endpoint_; }
  // Starts accepting on `threads` I/O threads.
  void start();
  // Stops accepting, lets every connection finish its message in flight and
  // close, waits at most `timeout`, then stops the threads. Every handler has
  // returned when this returns, so no push is cut in half.
  void stop(std::chrono::milliseconds timeout);

 private:
  void accept();

  // Declared first so it outlives the io_context: destroying the io_context
  // destroys pending handlers, whose connections unregister from it.
  ServerShared shared_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::vector<std::thread> threads_;
};

}  // namespace baton_cli

#endif  // BATON_TOOLS_SERVE_SERVER_H_
