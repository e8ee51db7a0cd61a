// An HTTP(S) client for the end-to-end tests over libcurl, for the servers that need TLS, client
// certificates or basic auth (podstat's and Prometheus's --web.config.file), and plain HTTP alike.
#pragma once

#include <string>

#include "support/workload.h"  // HttpResponse

namespace podstat::testing {

// What the client presents. Empty fields: libcurl's defaults (system CAs, no client
// certificate, no Authorization header). Peer and host name verification are always on.
struct ClientCredentials {
  std::string ca_file;    // PEM CA bundle that verifies the server's certificate
  std::string cert_file;  // PEM client certificate and its key
  std::string key_file;
  std::string username;  // basic auth when set
  std::string password;
};

// One request on a fresh connection (10 s timeouts). `method` is "GET" or "POST" (with `body` and
// `content_type`). Throws std::runtime_error with libcurl's reason when no HTTP answer came back
// (refused, TLS handshake failed, timed out); any HTTP status is returned.
HttpResponse CurlRequest(const std::string& url, const ClientCredentials& credentials = {},
                         const std::string& method = "GET", const std::string& body = {},
                         const std::string& content_type = {});

}  // namespace podstat::testing
