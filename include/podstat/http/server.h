// The agent's single HTTP listener (civetweb), hosting every endpoint: GET handlers now, POST
// (the remote_write receiver) later. Handlers are plain functions from Request to Response, so
// they can be tested without a socket.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "podstat/util/log.h"

class CivetServer;
class CivetHandler;

namespace podstat::http {

struct Request {
  std::string method;
  std::string path;
  std::string query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;

struct Route {
  std::string path;    // exact path
  std::string method;  // "GET" or "POST"
  Handler handler;
};

// ":9560" -> all IPv4 addresses, "127.0.0.1:9560", "[::1]:9560". Returns nullopt on nonsense.
struct ListenAddress {
  std::string host;  // empty = any
  int port = 0;
};
std::optional<ListenAddress> ParseListenAddress(const std::string& text);

// Parses the address and binds it once, so a start-up can refuse a bad or taken address before
// it loads anything. nullopt with the reason ("cannot listen on …: Address already in use") in
// *error. Server::Start checks again: the address can be taken in between.
std::optional<ListenAddress> CheckListenAddress(const std::string& listen_address,
                                                std::string* error);

class Server {
 public:
  // Binds and starts serving. On failure (address taken, bad address) returns nullptr with a
  // message naming the address and the reason in *error.
  static std::unique_ptr<Server> Start(const std::string& listen_address, std::vector<Route> routes,
                                       Logger& logger, std::string* error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }

 private:
  Server() = default;
  std::vector<std::unique_ptr<CivetHandler>> handlers_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
};

}  // namespace podstat::http
