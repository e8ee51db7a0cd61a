#include "podstat/http/server.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <exception>

#include "podstat/util/fd.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::http {

std::optional<ListenAddress> ParseListenAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  const auto port = ParseUint64(std::string_view(text).substr(colon + 1));
  if (!port || *port > 65535) return std::nullopt;
  address.port = static_cast<int>(*port);
  return address;
}

namespace {

// Binds the address ourselves first: civetweb reports a failed bind only as "null context", and
// an operator deserves "127.0.0.1:9560: Address already in use".
bool CheckBindable(const ListenAddress& address, std::string* error) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  if (address.host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(address.port));
    if (::inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr) != 1) {
      *error = "invalid IPv6 address '" + address.host + "'";
      return false;
    }
    length = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(address.port));
    const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
    if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1) {
      *error = "invalid IPv4 address '" + address.host + "' (use an IP address, not a name)";
      return false;
    }
    length = sizeof(sockaddr_in);
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    *error = ErrnoMessage(errno);
    return false;
  }
  return true;
}

// Upper bound on any request body held in memory; endpoints may enforce smaller limits.
constexpr size_t kMaxBodyBytes = 64u << 20;

class RouteHandler : public CivetHandler {
 public:
  RouteHandler(std::vector<Route> routes, Logger& logger)
      : routes_(std::move(routes)), logger_(logger) {}

  bool handleGet(CivetServer*, mg_connection* conn) override { return Dispatch(conn, "GET"); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return Dispatch(conn, "POST"); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return Dispatch(conn, "HEAD"); }

 private:
  bool Dispatch(mg_connection* conn, const std::string& method) {
    const mg_request_info* info = mg_get_request_info(conn);
    Request request;
    request.method = method;
    request.path = info->local_uri ? info->local_uri : "";
    request.query = info->query_string ? info->query_string : "";
    for (int i = 0; i < info->num_headers; ++i) {
      std::string name = info->http_headers[i].name;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[name] = info->http_headers[i].value;
    }
    bool too_large = false;
    if (method == "POST") {
      char buffer[16384];
      int n;
      while ((n = mg_read(conn, buffer, sizeof(buffer))) > 0) {
        if (request.body.size() + static_cast<size_t>(n) > kMaxBodyBytes) {
          too_large = true;  // keep draining nothing more into memory
          break;
        }
        request.body.append(buffer, static_cast<size_t>(n));
      }
    }

    Response response;
    const Route* route = nullptr;
    bool path_known = false;
    const std::string lookup_method = method == "HEAD" ? "GET" : method;
    for (const Route& candidate : routes_) {
      if (candidate.path != request.path) continue;
      path_known = true;
      if (candidate.method == lookup_method) route = &candidate;
    }
    if (too_large) {
      response = {413, "text/plain; charset=utf-8", "request body too large\n", {}};
    } else if (route) {
      // A handler that throws answers 500 for this request only: an exception escaping into
      // civetweb's worker thread would end the whole agent in std::terminate.
      try {
        response = route->handler(request);
      } catch (const std::exception& e) {
        logger_.Error("http", method, " ", request.path, " failed: ", e.what());
        response = {500, "text/plain; charset=utf-8", "internal error\n", {}};
      } catch (...) {
        logger_.Error("http", method, " ", request.path, " failed: unknown exception");
        response = {500, "text/plain; charset=utf-8", "internal error\n", {}};
      }
    } else if (path_known) {
      response = {405, "text/plain; charset=utf-8", "method not allowed\n", {}};
    } else {
      response = {404, "text/plain; charset=utf-8", "not found\n", {}};
    }

    mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
              response.status, mg_get_response_code_text(conn, response.status),
              response.content_type.c_str(), response.body.size());
    for (const auto& [name, value] : response.headers) {
      mg_printf(conn, "%s: %s\r\n", name.c_str(), value.c_str());
    }
    mg_printf(conn, "Connection: close\r\n\r\n");
    if (method != "HEAD") mg_write(conn, response.body.data(), response.body.size());
    if (response.status >= 500) {
      logger_.Warn("http", method, " ", request.path, " -> ", response.status);
    } else {
      logger_.Debug("http", method, " ", request.path, " -> ", response.status);
    }
    return true;
  }

  std::vector<Route> routes_;
  Logger& logger_;
};

}  // namespace

std::optional<ListenAddress> CheckListenAddress(const std::string& listen_address,
                                                std::string* error) {
  const auto address = ParseListenAddress(listen_address);
  if (!address) {
    *error = "invalid --web.listen-address '" + listen_address + "' (want [host]:port)";
    return std::nullopt;
  }
  std::string bind_error;
  if (!CheckBindable(*address, &bind_error)) {
    *error = "cannot listen on " + listen_address + ": " + bind_error;
    return std::nullopt;
  }
  return address;
}

std::unique_ptr<Server> Server::Start(const std::string& listen_address, std::vector<Route> routes,
                                      Logger& logger, std::string* error) {
  const auto address = CheckListenAddress(listen_address, error);
  if (!address) return nullptr;
  std::string ports;
  if (address->host.empty()) {
    ports = std::to_string(address->port);
  } else if (address->host.find(':') != std::string::npos) {
    ports = "[" + address->host + "]:" + std::to_string(address->port);
  } else {
    ports = address->host + ":" + std::to_string(address->port);
  }
  // A handful of worker threads: scrapes are cheap serialisations of a ready snapshot.
  std::vector<std::string> options = {"listening_ports",    ports,   "num_threads",       "4",
                                      "request_timeout_ms", "30000", "enable_keep_alive", "no"};
  std::unique_ptr<Server> server(new Server());
  try {
    server->server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    *error = "cannot listen on " + listen_address + ": " + e.what();
    return nullptr;
  }
  // One handler object serves every path, so unknown paths get a proper 404 from us.
  auto handler = std::make_unique<RouteHandler>(std::move(routes), logger);
  server->server_->addHandler("/", handler.get());
  server->handlers_.push_back(std::move(handler));
  const std::vector<int> bound = server->server_->getListeningPorts();
  server->port_ = bound.empty() ? address->port : bound.front();
  return server;
}

Server::~Server() {
  if (server_) server_->close();  // stop the workers before the handlers they call are freed
}

}  // namespace podstat::http
