#include "podstat/http/server.h"

// Boost 1.74's asio uses std::exchange without including <utility>, which GCC 12 in C++20 mode
// no longer pulls in transitively (chriskohlhoff/asio#944): include it before any Boost header.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
// clang-format on
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "podstat/http/auth.h"
#include "podstat/http/gzip.h"
#include "podstat/http/web_config.h"
#include "podstat/util/fd.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

std::optional<ListenAddress> ParseListenAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  } else if (address.host.find(':') != std::string::npos) {
    return std::nullopt;  // an IPv6 address needs its brackets: "[::1]:9560"
  }
  const auto port = ParseUint64(std::string_view(text).substr(colon + 1));
  if (!port || *port > 65535) return std::nullopt;
  address.port = static_cast<int>(*port);
  return address;
}

namespace {

// A bound (not yet listening) socket for the address. An empty host or "::" is one dual-stack
// IPv6 socket (IPV6_V6ONLY off), as Go's net.Listen does for node_exporter; on a kernel booted
// with ipv6.disable=1 an empty host falls back to 0.0.0.0. *family says which it became.
UniqueFd BindAddress(const ListenAddress& address, int* family, std::string* error) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const bool any = address.host.empty();
  const bool v6 = any || address.host.find(':') != std::string::npos;
  UniqueFd fd;
  if (v6) {
    fd = UniqueFd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd && any && errno == EAFNOSUPPORT)
      return BindAddress({"0.0.0.0", address.port}, family, error);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(address.port));
    const std::string host = any ? "::" : address.host;
    if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) {
      *error = "invalid IPv6 address '" + address.host + "'";
      return UniqueFd();
    }
    length = sizeof(sockaddr_in6);
    *family = AF_INET6;
  } else {
    fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(address.port));
    if (::inet_pton(AF_INET, address.host.c_str(), &in4->sin_addr) != 1) {
      *error = "invalid IPv4 address '" + address.host + "' (use an IP address, not a name)";
      return UniqueFd();
    }
    length = sizeof(sockaddr_in);
    *family = AF_INET;
  }
  if (!fd) {
    *error = ErrnoMessage(errno);
    return UniqueFd();
  }
  const int one = 1;
  const int zero = 0;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (*family == AF_INET6 && (any || address.host == "::")) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    *error = ErrnoMessage(errno);
    return UniqueFd();
  }
  return fd;
}

Response PlainResponse(int status, std::string body) {
  return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}

std::string ToLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Bodies below this are sent as they are: gzip's header and the CPU would cost more than the
// bytes saved.
constexpr size_t kMinGzipBytes = 1024;
// After an early refusal (413, 405, 401 ... with the body unread) the socket is half-closed and
// what the client still sends is read and dropped for this long, so that it reads our answer
// instead of a reset.
constexpr std::chrono::seconds kDrainTime{2};
constexpr size_t kMaxHeaderBytes = 16 * 1024;
// A failing accept (EMFILE: out of descriptors) is retried after this, not in a busy loop.
constexpr std::chrono::milliseconds kAcceptRetry{200};

// The parts of the web config a connection uses, built once per config change and swapped in
// whole: a connection keeps the one it started with.
struct ActiveConfig {
  std::shared_ptr<asio::ssl::context> tls;   // null = plain HTTP
  std::shared_ptr<BasicAuthenticator> auth;  // null = no authentication
  std::vector<std::pair<std::string, std::string>> headers;
  std::string files_signature;  // stat of the certificate files, to notice their rotation
  std::string description;
};

std::string StatSignature(const std::vector<std::string>& paths) {
  std::string signature;
  for (const std::string& path : paths) {
    struct stat st {};
    if (path.empty()) continue;
    if (::stat(path.c_str(), &st) != 0) {
      signature += path + ":missing;";
      continue;
    }
    signature += path + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                 std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return signature;
}

std::vector<std::string> CertificateFiles(const WebConfig& config) {
  if (!config.tls) return {};
  return {config.tls->cert_file, config.tls->key_file, config.tls->client_ca_file};
}

const char* ClientAuthName(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::kNone:
      return "NoClientCert";
    case ClientAuth::kRequestAny:
      return "RequestClientCert";
    case ClientAuth::kRequireAny:
      return "RequireAnyClientCert";
    case ClientAuth::kVerifyIfGiven:
      return "VerifyClientCertIfGiven";
    case ClientAuth::kRequireAndVerify:
      return "RequireAndVerifyClientCert";
  }
  return "?";
}

int OpensslVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10:
      return TLS1_VERSION;
    case TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// An OpenSSL context as the tls_server_config asks. Throws std::runtime_error naming the file.
std::shared_ptr<asio::ssl::context> BuildTlsContext(const TlsServerConfig& tls) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, OpensslVersion(tls.min_version));
  if (tls.max_version) SSL_CTX_set_max_proto_version(native, OpensslVersion(*tls.max_version));
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
  auto load = [](const char* what, const std::string& path, auto&& action) {
    boost::system::error_code ec;
    action(ec);
    if (ec) {
      throw std::runtime_error(std::string("cannot load ") + what + " " + path + ": " +
                               ec.message());
    }
  };
  load("cert_file", tls.cert_file, [&](boost::system::error_code& ec) {
    context->use_certificate_chain_file(tls.cert_file, ec);
  });
  load("key_file", tls.key_file, [&](boost::system::error_code& ec) {
    context->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
  });
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error("key_file " + tls.key_file + " does not match cert_file " +
                             tls.cert_file);
  }
  if (!tls.client_ca_file.empty()) {
    load("client_ca_file", tls.client_ca_file,
         [&](boost::system::error_code& ec) { context->load_verify_file(tls.client_ca_file, ec); });
    // The CA names sent in the CertificateRequest, so a client picks the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
  }
  // Go's RequestClientCert and RequireAnyClientCert accept any certificate unverified; OpenSSL
  // expresses "ask, but do not verify" as verify_peer with a callback that says yes.
  switch (tls.client_auth) {
    case ClientAuth::kNone:
      context->set_verify_mode(asio::ssl::verify_none);
      break;
    case ClientAuth::kRequestAny:
      context->set_verify_mode(asio::ssl::verify_peer);
      context->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
      break;
    case ClientAuth::kRequireAny:
      context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      context->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
      break;
    case ClientAuth::kVerifyIfGiven:
      context->set_verify_mode(asio::ssl::verify_peer);
      break;
    case ClientAuth::kRequireAndVerify:
      context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      break;
  }
  // cipher_suites and curve_preferences arrive translated from Go's names by the web config.
  if (!tls.openssl_cipher_list.empty() &&
      SSL_CTX_set_cipher_list(native, tls.openssl_cipher_list.c_str()) != 1) {
    throw std::runtime_error("OpenSSL refused cipher_suites (" + tls.openssl_cipher_list + ")");
  }
  if (!tls.openssl_groups_list.empty() &&
      SSL_CTX_set1_groups_list(native, tls.openssl_groups_list.c_str()) != 1) {
    throw std::runtime_error("OpenSSL refused curve_preferences (" + tls.openssl_groups_list + ")");
  }
  if (tls.prefer_server_cipher_suites) SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  return context;
}

std::shared_ptr<const ActiveConfig> BuildActiveConfig(const WebConfig& config) {
  auto active = std::make_shared<ActiveConfig>();
  if (config.tls) {
    active->tls = BuildTlsContext(*config.tls);
    active->description =
        std::string("https (client certificates: ") + ClientAuthName(config.tls->client_auth) + ")";
  } else {
    active->description = "http";
  }
  if (!config.basic_auth_users.empty()) {
    active->auth = std::make_shared<BasicAuthenticator>(config.basic_auth_users);
    active->description +=
        ", basic auth (" + std::to_string(config.basic_auth_users.size()) + " users)";
  } else {
    active->description += ", no authentication";
  }
  active->headers = config.headers;
  active->files_signature = StatSignature(CertificateFiles(config));
  return active;
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& server_options, std::vector<Route> server_routes, Logger& log)
      : options(server_options),
        routes(std::move(server_routes)),
        logger(log),
        handlers(std::max<size_t>(1, server_options.handler_threads)) {
    stats.name = options.name;
  }

  // Declared before io: the io_context's destructor destroys pending sessions, whose own
  // destructors give back their connection counts here.
  ServerOptions options;
  std::vector<Route> routes;
  Logger& logger;
  mutable std::mutex stats_mutex;
  ServerStats stats;
  std::map<std::string, size_t> connections_per_client;  // I/O thread only
  size_t connections_open = 0;                           // I/O thread only
  uint64_t body_bytes_in_flight = 0;                     // I/O thread only
  std::unique_ptr<WebConfigWatcher> watcher;
  mutable std::mutex config_mutex;
  std::shared_ptr<const ActiveConfig> config;
  std::chrono::steady_clock::time_point last_refusal_log{};
  std::atomic<bool> stopping{false};
  int port = 0;

  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  asio::steady_timer reload_timer{io};
  // Handlers (a scrape may wait seconds for a fresh snapshot) and gzip run here, never on the
  // I/O thread.
  asio::thread_pool handlers;
  // bcrypt checks (~50 ms each) on their own thread: a client guessing passwords delays other
  // guesses, not the scrapes of a client whose credentials are cached.
  asio::thread_pool auth_pool{1};
  std::thread io_thread;

  std::shared_ptr<const ActiveConfig> Config() const {
    std::lock_guard lock(config_mutex);
    return config;
  }

  template <typename F>
  void Count(F&& update) {
    std::lock_guard lock(stats_mutex);
    update(stats);
  }

  // Connection refusals are counted always and logged at most once a minute.
  void LogRefusal(const std::string& message) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log < std::chrono::minutes(1)) return;
    last_refusal_log = now;
    logger.Warn("http", options.name, ": ", message, " (counted in podstat_http_refused_total; ",
                "logged at most once a minute)");
  }

  void Accept();
  void OnAccept(const boost::system::error_code& ec, tcp::socket socket);
  void ScheduleReload();
  void CheckReload();
  const Route* FindRoute(const std::string& path, const std::string& method,
                         bool* path_known) const;
};

namespace {

std::string ClientKey(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

// One connection: TLS handshake (if configured), then requests one after another (keep-alive),
// each: header under a deadline -> authentication -> route and checks -> 100 Continue -> body
// under a deadline and the route's cap -> handler on the pool -> response under a deadline.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(Server::Impl& server, Stream stream, std::string client,
          std::shared_ptr<const ActiveConfig> config)
      : server_(server),
        stream_(std::move(stream)),
        client_(std::move(client)),
        config_(std::move(config)) {}

  ~Session() {
    ReleaseBody();
    if (--server_.connections_per_client[client_] == 0) {
      server_.connections_per_client.erase(client_);
    }
    --server_.connections_open;
    server_.Count([](ServerStats& s) { --s.connections_open; });
  }

  void Start() {
    header_deadline_ = std::chrono::steady_clock::now() + server_.options.header_timeout;
    Lowest().expires_at(header_deadline_);
    if constexpr (kTls) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::system::error_code ec) {
                                self->OnHandshake(ec);
                              });
    } else {
      ReadHeader();
    }
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(const boost::system::error_code& ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        server_.Count([](ServerStats& s) { ++s.timeouts_header; });
      } else {
        server_.Count([](ServerStats& s) { ++s.tls_handshake_failures; });
      }
      server_.logger.Debug("http", server_.options.name, ": TLS handshake with ", client_,
                           " failed: ", ec.message());
      return;  // the last reference goes: the socket closes
    }
    ReadHeader();
  }

  // The header deadline runs from accept for the first request (the TLS handshake included) and
  // from the first byte of each later one: a keep-alive connection may sit silent for the idle
  // timeout, but not trickle a header for that long.
  void ReadHeader() {
    has_body_ = false;
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // Beast 1.74 refuses every non-empty body while body_limit is boost::none
    // (boostorg/beast#2070); the route's cap is set once the header is in.
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    Lowest().expires_at(header_deadline_);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](boost::system::error_code ec,
                                                               size_t) { self->OnHeader(ec); });
  }

  void WaitForNextRequest() {
    if (buffer_.size() > 0) {  // pipelined: the next request is already here
      header_deadline_ = std::chrono::steady_clock::now() + server_.options.header_timeout;
      ReadHeader();
      return;
    }
    Lowest().expires_after(server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](
                                                       boost::system::error_code ec, size_t bytes) {
      if (ec) return;  // idle timeout or the client closed: the connection ends quietly
      self->buffer_.commit(bytes);
      self->header_deadline_ =
          std::chrono::steady_clock::now() + self->server_.options.header_timeout;
      self->ReadHeader();
    });
  }

  void OnHeader(const boost::system::error_code& ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        server_.Count([](ServerStats& s) { ++s.timeouts_header; });
        return;
      }
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated) {
        return;
      }
      if (ec == bhttp::error::header_limit) {
        Finish(PlainResponse(431,
                             "request header over " + std::to_string(kMaxHeaderBytes) + " bytes\n"),
               true);
        return;
      }
      Finish(PlainResponse(400, "malformed request: " + ec.message() + "\n"), true);
      return;
    }
    const auto& head = parser_->get();
    request_ = Request{};
    route_ = nullptr;
    request_.method = std::string(head.method_string());
    const std::string target(head.target());
    const size_t question = target.find('?');
    request_.path = target.substr(0, question);
    if (question != std::string::npos) request_.query = target.substr(question + 1);
    for (const auto& field : head) {
      std::string name = ToLower(std::string(field.name_string()));
      std::string value(field.value());
      auto [it, inserted] = request_.headers.emplace(std::move(name), value);
      if (!inserted) it->second += ", " + value;  // RFC 9110 §5.3: repeated fields combine
    }
    if (const auto length = parser_->content_length()) request_.content_length = *length;
    has_body_ = parser_->chunked() || request_.content_length.value_or(0) > 0;
    keep_alive_ = head.keep_alive();

    if (config_->auth) {
      const auto it = request_.headers.find("authorization");
      std::string authorization = it == request_.headers.end() ? "" : it->second;
      asio::post(server_.auth_pool,
                 [self = this->shared_from_this(), authorization = std::move(authorization)] {
                   const bool ok = self->config_->auth->Check(authorization);
                   asio::post(self->stream_.get_executor(), [self, ok] { self->AfterAuth(ok); });
                 });
      return;
    }
    AfterAuth(true);
  }

  void AfterAuth(bool authenticated) {
    if (!authenticated) {
      server_.Count([](ServerStats& s) { ++s.auth_failures; });
      Response response = PlainResponse(401, "Unauthorized\n");
      response.headers.emplace_back("WWW-Authenticate", "Basic");
      Finish(std::move(response), false);
      return;
    }
    bool path_known = false;
    const Route* route = server_.FindRoute(request_.path, request_.method, &path_known);
    if (!route) {
      Finish(path_known ? PlainResponse(405, "method not allowed\n")
                        : PlainResponse(404, "not found\n"),
             false);
      return;
    }
    route_ = route;
    if (!has_body_) {
      Dispatch();
      return;
    }
    const BodyPolicy& policy = route->body;
    if (policy.max_bytes == 0) {
      Finish(PlainResponse(413, request_.path + " takes no request body\n"), false);
      return;
    }
    if (policy.precheck) {
      if (auto refused = policy.precheck(request_)) {
        Finish(std::move(*refused), false);
        return;
      }
    }
    if (request_.content_length.value_or(0) > policy.max_bytes) {
      Finish(TooLarge(), false);
      return;
    }
    const uint64_t reserve = request_.content_length.value_or(policy.max_bytes);
    if (server_.body_bytes_in_flight + reserve > server_.options.max_body_bytes_in_flight) {
      server_.Count([](ServerStats& s) { ++s.refused_body_budget; });
      server_.LogRefusal("request bodies in flight would exceed " +
                         std::to_string(server_.options.max_body_bytes_in_flight) +
                         " bytes; answered 503");
      Response response = PlainResponse(503, "too many request bodies in flight; retry\n");
      response.headers.emplace_back("Retry-After", "1");
      Finish(std::move(response), false);
      return;
    }
    server_.body_bytes_in_flight += reserve;
    reserved_ = reserve;
    server_.Count([in_flight = server_.body_bytes_in_flight](ServerStats& s) {
      s.body_bytes_in_flight = in_flight;
    });
    parser_->body_limit(policy.max_bytes);
    const auto expect = request_.headers.find("expect");
    if (expect != request_.headers.end() && beast::iequals(expect->second, "100-continue")) {
      auto interim = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                          parser_->get().version());
      Lowest().expires_after(server_.options.write_timeout);
      bhttp::async_write(
          stream_, *interim,
          [self = this->shared_from_this(), interim](boost::system::error_code ec, size_t) {
            if (ec) return;
            self->ReadBody();
          });
      return;
    }
    ReadBody();
  }

  Response TooLarge() const {
    if (route_ && route_->body.too_large) return route_->body.too_large();
    return PlainResponse(413, "request body over " +
                                  std::to_string(route_ ? route_->body.max_bytes : 0) + " bytes\n");
  }

  void ReadBody() {
    Lowest().expires_after(server_.options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                        self->OnBody(ec);
                      });
  }

  void OnBody(const boost::system::error_code& ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        server_.Count([](ServerStats& s) { ++s.timeouts_body; });
        server_.logger.Debug("http", server_.options.name, ": ", request_.method, " ",
                             request_.path, " from ", client_, ": body not complete within ",
                             server_.options.body_timeout.count(), " ms; connection closed");
        return;
      }
      if (ec == bhttp::error::body_limit) {
        Finish(TooLarge(), false);
        return;
      }
      if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
          ec == asio::error::eof || ec == asio::error::connection_reset) {
        return;
      }
      Finish(PlainResponse(400, "malformed request body: " + ec.message() + "\n"), true);
      return;
    }
    body_read_ = true;
    request_.body = parser_->release().body();
    Dispatch();
  }

  void Dispatch() {
    body_read_ = body_read_ || !has_body_;
    asio::post(server_.handlers, [self = this->shared_from_this()] {
      Response response = self->RunHandler();
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response));
      });
    });
  }

  // On a pool thread.
  Response RunHandler() {
    Response response;
    try {
      response = route_->handler(request_);
    } catch (const std::exception& e) {
      server_.logger.Error("http", request_.method, " ", request_.path, " failed: ", e.what());
      response = PlainResponse(500, "internal error\n");
    } catch (...) {
      server_.logger.Error("http", request_.method, " ", request_.path,
                           " failed: unknown exception");
      response = PlainResponse(500, "internal error\n");
    }
    MaybeGzip(response);
    return response;
  }

  void MaybeGzip(Response& response) const {
    if (response.body_prefix || response.body.size() < kMinGzipBytes) return;
    const auto accept = request_.headers.find("accept-encoding");
    if (accept == request_.headers.end() || !AcceptsGzip(accept->second)) return;
    for (const auto& [name, value] : response.headers) {
      if (beast::iequals(name, "content-encoding")) return;
    }
    try {
      response.body = GzipCompress(response.body, 1);
      response.headers.emplace_back("Content-Encoding", "gzip");
      response.headers.emplace_back("Vary", "Accept-Encoding");
    } catch (const std::exception& e) {
      server_.logger.Warn("http", "gzip failed (", e.what(), "); sending the body as it is");
    }
  }

  // An answer given from the header alone: the body, if any, is unread, so the connection
  // closes after it.
  void Finish(Response response, bool malformed) {
    body_read_ = !has_body_ && !malformed;
    Write(std::move(response));
  }

  void Write(Response response) {
    ReleaseBodyBuffer();
    const bool close = !keep_alive_ || !body_read_ || server_.stopping;
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>();
    message->version(parser_ && parser_->is_header_done() ? parser_->get().version() : 11);
    message->result(static_cast<unsigned>(response.status));
    message->set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : config_->headers) message->set(name, value);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    if (response.status == 405 && route_ == nullptr) {
      std::string allow;
      for (const Route& route : server_.routes) {
        if (route.path != request_.path) continue;
        if (!allow.empty()) allow += ", ";
        allow += route.method == "GET" ? "GET, HEAD" : route.method;
      }
      if (!allow.empty()) message->set(bhttp::field::allow, allow);
    }
    const size_t prefix_length = response.body_prefix ? response.body_prefix->size() : 0;
    const size_t length = prefix_length + response.body.size();
    std::shared_ptr<const std::string> prefix = std::move(response.body_prefix);
    std::shared_ptr<const std::string> tail;  // written after the header, behind the prefix
    if (prefix) {
      tail = std::make_shared<const std::string>(std::move(response.body));
    } else if (request_.method != "HEAD") {
      message->body() = std::move(response.body);
    }
    message->content_length(length);
    message->keep_alive(!close);
    const int status = response.status;
    server_.Count([status](ServerStats& s) { ++s.responses[status]; });
    server_.logger.Debug("http", server_.options.name, ": ", request_.method, " ", request_.path,
                         " from ", client_, " -> ", status);
    Lowest().expires_after(server_.options.write_timeout);
    // The serializer would refuse a HEAD answer whose body is shorter than its Content-Length.
    auto serializer = std::make_shared<bhttp::response_serializer<bhttp::string_body>>(*message);
    if (request_.method == "HEAD" || prefix) serializer->split(true);
    auto done = [self = this->shared_from_this(), message, serializer, close](
                    boost::system::error_code ec, size_t) { self->OnWrite(ec, close); };
    if (request_.method == "HEAD") {
      bhttp::async_write_header(stream_, *serializer, std::move(done));
    } else if (prefix) {
      // The header, then the prefix and the tail as one gathered write, under the same deadline.
      bhttp::async_write_header(
          stream_, *serializer,
          [self = this->shared_from_this(), message, serializer, prefix, tail, close](
              boost::system::error_code ec, size_t) {
            if (ec) {
              self->OnWrite(ec, close);
              return;
            }
            const std::array<asio::const_buffer, 2> buffers{asio::buffer(*prefix),
                                                            asio::buffer(*tail)};
            asio::async_write(
                self->stream_, buffers,
                [self, prefix, tail, close](boost::system::error_code write_ec, size_t) {
                  self->OnWrite(write_ec, close);
                });
          });
    } else {
      bhttp::async_write(stream_, *serializer, std::move(done));
    }
  }

  void OnWrite(const boost::system::error_code& ec, bool close) {
    ReleaseBody();
    if (ec) {
      if (ec == beast::error::timeout) server_.Count([](ServerStats& s) { ++s.timeouts_write; });
      return;
    }
    if (!close) {
      route_ = nullptr;
      body_read_ = false;
      WaitForNextRequest();
      return;
    }
    if (!body_read_ && has_body_) {
      Drain();
      return;
    }
    Shutdown();
  }

  // Reads and drops what the client still sends after an early answer, for kDrainTime at most,
  // into a fixed buffer: the client reads our 413 instead of a connection reset, and no body
  // byte is kept.
  void Drain() {
    if constexpr (!kTls) {
      boost::system::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    if (!drain_buffer_) {
      drain_buffer_ = std::make_unique<std::array<char, 16384>>();
      Lowest().expires_after(kDrainTime);
    }
    stream_.async_read_some(
        asio::buffer(*drain_buffer_),
        [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
          if (!ec) self->Drain();
        });
  }

  void Shutdown() {
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](boost::system::error_code) {});
    } else {
      boost::system::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void ReleaseBodyBuffer() {
    request_.body.clear();
    request_.body.shrink_to_fit();
  }

  void ReleaseBody() {
    if (reserved_ == 0) return;
    server_.body_bytes_in_flight -= reserved_;
    reserved_ = 0;
    server_.Count([in_flight = server_.body_bytes_in_flight](ServerStats& s) {
      s.body_bytes_in_flight = in_flight;
    });
  }

  Server::Impl& server_;
  Stream stream_;
  const std::string client_;
  const std::shared_ptr<const ActiveConfig> config_;
  beast::flat_buffer buffer_{8192};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request request_;
  const Route* route_ = nullptr;
  bool has_body_ = false;
  bool body_read_ = false;
  bool keep_alive_ = false;
  uint64_t reserved_ = 0;
  std::chrono::steady_clock::time_point header_deadline_;
  std::unique_ptr<std::array<char, 16384>> drain_buffer_;
};

}  // namespace

const Route* Server::Impl::FindRoute(const std::string& path, const std::string& method,
                                     bool* path_known) const {
  const std::string lookup = method == "HEAD" ? "GET" : method;
  for (const Route& route : routes) {
    if (route.path != path) continue;
    *path_known = true;
    if (route.method == lookup) return &route;
  }
  return nullptr;
}

void Server::Impl::Accept() {
  acceptor.async_accept(io, [this](const boost::system::error_code& ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::Impl::OnAccept(const boost::system::error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || stopping) return;
  if (ec) {
    logger.Warn("http", options.name, ": accept failed: ", ec.message(), "; retrying in ",
                kAcceptRetry.count(), " ms");
    accept_retry.expires_after(kAcceptRetry);
    accept_retry.async_wait([this](const boost::system::error_code& wait_error) {
      if (!wait_error) Accept();
    });
    return;
  }
  const std::string client = ClientKey(socket);
  Count([](ServerStats& s) { ++s.connections_accepted; });
  if (connections_open >= options.max_connections) {
    Count([](ServerStats& s) { ++s.refused_max_connections; });
    LogRefusal("connection from " + client + " refused: " + std::to_string(connections_open) +
               " connections open, the --web.max-connections limit");
  } else if (connections_per_client[client] >= options.max_connections_per_client) {
    Count([](ServerStats& s) { ++s.refused_max_connections_per_client; });
    LogRefusal("connection from " + client + " refused: it has " +
               std::to_string(connections_per_client[client]) +
               " open, the --web.max-connections-per-client limit");
  } else {
    ++connections_open;
    ++connections_per_client[client];
    Count([](ServerStats& s) { ++s.connections_open; });
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto active = Config();
    if (active->tls) {
      auto tls = active->tls;
      auto session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          *this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls),
          client, std::move(active));
      session->Start();
    } else {
      auto session = std::make_shared<Session<beast::tcp_stream>>(
          *this, beast::tcp_stream(std::move(socket)), client, std::move(active));
      session->Start();
    }
  }
  if (connections_per_client[client] == 0) connections_per_client.erase(client);
  Accept();
}

void Server::Impl::ScheduleReload() {
  if (!watcher) return;
  reload_timer.expires_after(options.web_config_check_interval);
  reload_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    CheckReload();
    ScheduleReload();
  });
}

// On the I/O thread: a changed file (or a rotated certificate) builds a new ActiveConfig for the
// connections accepted from now on; a bad one keeps the old and says why.
void Server::Impl::CheckReload() {
  const bool file_changed = watcher->Reload();
  const auto parsed = watcher->Current();
  const auto current = Config();
  if (!file_changed && !watcher->LastReloadOk()) {
    // The file's new content was refused (the watcher logged why); the running config stays.
    Count([](ServerStats& s) {
      if (s.web_config_last_reload_ok) ++s.web_config_reload_failures;
      s.web_config_last_reload_ok = false;
    });
    return;
  }
  if (!file_changed && StatSignature(CertificateFiles(*parsed)) == current->files_signature) {
    return;
  }
  try {
    auto rebuilt = BuildActiveConfig(*parsed);
    logger.Info("http", options.name, ": ", file_changed ? "web config " : "certificate files of ",
                watcher->path(), file_changed ? " changed" : " changed", "; now ",
                rebuilt->description);
    std::lock_guard lock(config_mutex);
    config = std::move(rebuilt);
    Count([](ServerStats& s) { s.web_config_last_reload_ok = true; });
  } catch (const std::exception& e) {
    logger.Error("http", options.name, ": web config ", watcher->path(),
                 " not applied, keeping the last good one: ", e.what());
    // The signature is taken as seen so that the same failure is not logged every check.
    auto kept = std::make_shared<ActiveConfig>(*current);
    kept->files_signature = StatSignature(CertificateFiles(*parsed));
    {
      std::lock_guard lock(config_mutex);
      config = std::move(kept);
    }
    Count([](ServerStats& s) {
      ++s.web_config_reload_failures;
      s.web_config_last_reload_ok = false;
    });
  }
}

std::optional<ListenAddress> CheckListenAddress(const std::string& listen_address,
                                                std::string* error, const std::string& flag) {
  const auto address = ParseListenAddress(listen_address);
  if (!address) {
    *error = "invalid " + flag + " '" + listen_address +
             "' (want [host]:port, e.g. :9560, 127.0.0.1:9560 or [::1]:9560)";
    return std::nullopt;
  }
  std::string bind_error;
  int family = 0;
  if (!BindAddress(*address, &family, &bind_error)) {
    *error = "cannot listen on " + listen_address + ": " + bind_error;
    return std::nullopt;
  }
  return address;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Server> Server::Start(const ServerOptions& options, std::vector<Route> routes,
                                      Logger& logger, std::string* error) {
  const auto address = ParseListenAddress(options.listen_address);
  if (!address) {
    CheckListenAddress(options.listen_address, error, options.flag);
    return nullptr;
  }
  auto impl = std::make_unique<Impl>(options, std::move(routes), logger);
  try {
    if (!options.web_config_file.empty()) {
      impl->watcher = WebConfigWatcher::Open(options.web_config_file, logger, error);
      if (!impl->watcher) return nullptr;
      impl->config = BuildActiveConfig(*impl->watcher->Current());
    } else {
      impl->config = BuildActiveConfig(WebConfig{});
    }
  } catch (const std::exception& e) {
    *error = "web config " + options.web_config_file + ": " + e.what();
    return nullptr;
  }
  std::string bind_error;
  int family = 0;
  UniqueFd fd = BindAddress(*address, &family, &bind_error);
  if (!fd) {
    *error = "cannot listen on " + options.listen_address + ": " + bind_error;
    return nullptr;
  }
  boost::system::error_code ec;
  impl->acceptor.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), fd.get(), ec);
  if (!ec) {
    (void)fd.Release();  // the acceptor owns it now
    impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    *error = "cannot listen on " + options.listen_address + ": " + ec.message();
    return nullptr;
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  impl->ScheduleReload();
  Impl* raw = impl.get();
  impl->io_thread = std::thread([raw] {
    for (;;) {
      try {
        raw->io.run();
        return;
      } catch (const std::exception& e) {
        // Nothing on the I/O thread is meant to throw; if something does, one connection is
        // lost (its handler unwound), not the listener.
        raw->logger.Error("http", raw->options.name, ": I/O thread caught ", e.what(),
                          "; continuing");
      }
    }
  });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::~Server() {
  impl_->stopping = true;
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    impl->reload_timer.cancel();
    impl->accept_retry.cancel();
  });
  impl_->io.stop();
  if (impl_->io_thread.joinable()) impl_->io_thread.join();
  // Running handlers finish (a scrape waits at most a few seconds); what they post back to the
  // stopped io_context is destroyed with it, closing those connections.
  impl_->handlers.join();
  impl_->auth_pool.join();
}

int Server::port() const { return impl_->port; }

std::string Server::Describe() const { return impl_->Config()->description; }

ServerStats Server::Stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats;
}

}  // namespace podstat::http
