// Embedding baton in an existing Boost.Beast WebSocket server.
//
//   baton_example_beast_server [--port N] [--db PATH]
//
// One baton session per connection; every text message goes through
// baton_push and baton's JSON reply goes back unchanged. The client names
// itself with ws://HOST:PORT/?client=NAME. Only the C ABI (baton.h) is used,
// so the server does not care which baton version it is linked against.
#include <baton/baton.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Connections still open, so that shutdown can wait for them before closing
// the engine their sessions belong to.
std::mutex live_mutex;
std::condition_variable live_changed;
int live_connections = 0;

// "/?client=ci-3&x=1" -> "ci-3". Only name characters are kept: the name is
// pasted into the credentials JSON, which must stay well-formed.
std::string client_from_target(std::string_view target) {
  auto at = target.find("client=");
  if (at == std::string_view::npos) return "anonymous";
  std::string name;
  for (char c : target.substr(at + 7)) {
    if (c == '&') break;
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.';
    if (keep) name += c;
  }
  return name.empty() ? "anonymous" : name;
}

void serve_connection(tcp::socket socket, baton_engine* engine) {
  beast::error_code ec;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::read(socket, buffer, request, ec);
  if (ec || !websocket::is_upgrade(request)) return;

  websocket::stream<tcp::socket> ws(std::move(socket));
  ws.read_message_max(1 << 20);  // baton refuses larger messages anyway
  ws.accept(request, ec);
  if (ec) return;

  std::string credentials =
      "{\"client\":\"" + client_from_target({request.target().data(), request.target().size()}) +
      "\"}";
  baton_session* session = nullptr;
  if (baton_session_open(engine, credentials.c_str(), &session) != BATON_OK) {
    std::fprintf(stderr, "session refused: %s\n", baton_last_error());
    ws.close(websocket::close_code::policy_error, ec);
    return;
  }
  for (;;) {
    buffer.clear();
    ws.read(buffer, ec);
    if (ec) break;  // the client closed, or the connection dropped
    std::string message = beast::buffers_to_string(buffer.data());
    char* reply = nullptr;
    size_t reply_len = 0;
    // Binary frames go through too: baton answers "parse" if they are not JSON.
    baton_push(session, message.data(), message.size(), &reply, &reply_len);
    ws.text(true);
    ws.write(net::buffer(reply, reply_len), ec);
    baton_free(reply);
    if (ec) break;
  }
  baton_session_close(session);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;  // 0: the kernel picks a free port
  std::string db = "beast-example.db";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--port") port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    if (flag == "--db") db = argv[i + 1];
  }

  baton_engine* engine = nullptr;
  std::string options = "{\"path\":\"" + db + "\",\"durability\":\"normal\"}";
  if (baton_open(options.c_str(), &engine) != BATON_OK) {
    std::fprintf(stderr, "baton_open: %s\n", baton_last_error());
    return 1;
  }

  net::io_context io;
  tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), port});
  net::signal_set stop_signals(io, SIGINT, SIGTERM);
  stop_signals.async_wait([&](beast::error_code, int) { acceptor.close(); });

  // Accepting is asynchronous so a signal can stop it; each connection then
  // runs synchronously on a thread of its own, which keeps the code short.
  std::function<void()> accept_next = [&] {
    acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // the acceptor was closed by a signal
      {
        std::lock_guard lock(live_mutex);
        ++live_connections;
      }
      std::thread([s = std::move(socket), engine]() mutable {
        serve_connection(std::move(s), engine);
        std::lock_guard lock(live_mutex);
        --live_connections;
        live_changed.notify_all();
      }).detach();
      accept_next();
    });
  };
  accept_next();
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  io.run();

  // With durability "normal" every acknowledged event is already committed;
  // the flush covers the rest. The engine is closed only once no session of a
  // still-connected client can use it; clients that stay longer are cut off
  // by exiting at once, without running destructors under their threads.
  baton_flush(engine);
  std::unique_lock lock(live_mutex);
  bool idle = live_changed.wait_for(lock, std::chrono::seconds(5), [] { return live_connections == 0; });
  std::printf("stopped\n");
  std::fflush(stdout);
  if (!idle) std::_Exit(0);
  lock.unlock();
  return baton_close(engine) == BATON_OK ? 0 : 1;
}
