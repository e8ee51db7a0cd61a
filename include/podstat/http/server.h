// The agent's HTTP listeners: /metrics, /healthz, the status page and the remote_write receiver.
// Event-driven (Boost.Beast on one Asio I/O thread; see docs/http-server-choice.md for why
// Beast over libmicrohttpd and cpp-httplib), so idle or slow clients hold a socket, never a
// worker: every phase of a request runs under a fixed deadline, connections are capped globally
// and per client address, and a request is routed and checked (405, 413, 415, 401) from its
// header alone, before a byte of its body is read. Handlers are plain functions from Request to
// Response, run on a small thread pool, so they can be tested without a socket. Boost stays out
// of this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "podstat/util/log.h"

namespace podstat::http {

struct Request {
  std::string method;
  std::string path;
  std::string query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::optional<uint64_t> content_length;  // as declared; nullopt for chunked or none
};

struct Response {
  // A constructor rather than an aggregate: every brace-initialisation in the code base names
  // the first four members only, which -Wmissing-field-initializers would flag member by member.
  Response(int status_ = 200, std::string content_type_ = "text/plain; charset=utf-8",
           std::string body_ = {}, std::vector<std::pair<std::string, std::string>> headers_ = {},
           std::shared_ptr<const std::string> body_prefix_ = nullptr)
      : status(status_),
        content_type(std::move(content_type_)),
        body(std::move(body_)),
        headers(std::move(headers_)),
        body_prefix(std::move(body_prefix_)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent before `body`, from where it is, without a copy: a page a cache holds (2 MB of gzip, or
  // 17 MB of text, at 1000 containers) is then not copied into each response. Kept alive until
  // written. A response with a prefix is sent as it is (never gzip'd here).
  std::shared_ptr<const std::string> body_prefix;
};

using Handler = std::function<Response(const Request&)>;

// How a route takes a request body. A route without one (max_bytes 0) refuses any body with 413
// unread.
struct BodyPolicy {
  uint64_t max_bytes = 0;
  // Called with the request's method, path and headers (body empty) before the body is read; a
  // Response refuses the request there (415, 413 on the declared length, ...).
  std::function<std::optional<Response>(const Request& head)> precheck;
  // Builds the 413 for a body that outgrows max_bytes while it is read (chunked, or a
  // Content-Length over it that precheck let through); default: a plain 413.
  std::function<Response()> too_large;
};

struct Route {
  std::string path;    // exact path
  std::string method;  // "GET" (also answers HEAD) or "POST"
  Handler handler;
  BodyPolicy body;
};

// ":9560" -> every address (IPv6 and IPv4 on one dual-stack socket; IPv4 only where the kernel
// has no IPv6), "0.0.0.0:9560" -> every IPv4 address, "[::]:9560" -> every address,
// "127.0.0.1:9560", "[::1]:9560". Returns nullopt on nonsense.
struct ListenAddress {
  std::string host;  // empty = any
  int port = 0;
};
std::optional<ListenAddress> ParseListenAddress(const std::string& text);

// Parses the address and binds it once, so a start-up can refuse a bad or taken address before
// it loads anything. nullopt with the reason ("cannot listen on …: Address already in use") in
// *error. Server::Start binds again: the address can be taken in between. flag names the flag
// in the error ("--web.listen-address").
std::optional<ListenAddress> CheckListenAddress(const std::string& listen_address,
                                                std::string* error,
                                                const std::string& flag = "--web.listen-address");

struct ServerOptions {
  std::string name = "web";  // the listener label in podstat_http_* and in logs
  std::string listen_address = ":9560";
  std::string flag = "--web.listen-address";  // for errors
  // exporter-toolkit web config (TLS, basic auth, headers); empty = plain HTTP, no auth. Re-read
  // when it (or a certificate it names) changes; a bad edit keeps the last good config.
  std::string web_config_file;
  std::chrono::milliseconds web_config_check_interval{std::chrono::seconds(2)};
  // Fixed deadlines, not silence timeouts: a client trickling a byte a second is cut off too.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};  // TLS handshake + header
  std::chrono::milliseconds body_timeout{std::chrono::seconds(60)};    // the whole body
  std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};   // the whole response
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};     // keep-alive, next header
  size_t max_connections = 1024;
  size_t max_connections_per_client = 256;  // keyed by peer IP address
  // Bytes of request bodies held at once, across connections: a request whose declared (or, if
  // chunked, maximum) size does not fit gets 503 and Retry-After, unread.
  uint64_t max_body_bytes_in_flight = uint64_t{256} << 20;
  size_t handler_threads = 4;
};

// Counters for podstat_http_*; read with Server::Stats().
struct ServerStats {
  std::string name;
  uint64_t connections_open = 0;
  uint64_t connections_accepted = 0;
  uint64_t refused_max_connections = 0;
  uint64_t refused_max_connections_per_client = 0;
  uint64_t refused_body_budget = 0;
  uint64_t body_bytes_in_flight = 0;  // reserved by requests whose bodies are being read
  uint64_t timeouts_header = 0;
  uint64_t timeouts_body = 0;
  uint64_t timeouts_write = 0;
  uint64_t tls_handshake_failures = 0;
  uint64_t auth_failures = 0;
  uint64_t web_config_reload_failures = 0;
  bool web_config_last_reload_ok = true;
  std::map<int, uint64_t> responses;  // status code -> count
};

class Server {
 public:
  // Binds, reads the web config and starts serving. On failure (address taken, bad address, bad
  // web config, unreadable certificate) returns nullptr with a message naming the address or
  // file and the reason in *error.
  static std::unique_ptr<Server> Start(const ServerOptions& options, std::vector<Route> routes,
                                       Logger& logger, std::string* error);
  ~Server();  // stops accepting, closes every connection, waits for running handlers
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  // "http" or "https", and whether basic auth is required, as the current web config says.
  std::string Describe() const;
  ServerStats Stats() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace podstat::http
