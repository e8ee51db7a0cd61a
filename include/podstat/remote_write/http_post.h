// A minimal HTTP POST client over libcurl for the remote_write sender: RAII owners for the global
// init and for one easy handle (kept per worker thread so connections are reused), a hard timeout
// and an abort flag polled by curl's progress callback, so Stop() never waits on a slow server.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

typedef void CURL;  // as curl/curl.h declares it; keeps curl out of this header

namespace podstat::remote_write {

// curl_global_init/cleanup, reference-counted by libcurl. Construct one before starting threads
// that use HttpPoster (the global init is not thread-safe on every libcurl build).
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

// Client-side TLS for https:// URLs. Empty fields keep libcurl's defaults: the system trust
// store, no client certificate. Peer and host verification stay on either way.
struct TlsClientOptions {
  std::string ca_file;    // PEM bundle trusted instead of the system store
  std::string cert_file;  // PEM client certificate, presented when the server asks
  std::string key_file;   // its PEM private key
};

struct PostResult {
  int status = 0;           // HTTP status; 0 = no answer (see error)
  std::string error;        // curl's reason when status is 0
  std::string retry_after;  // the Retry-After header, if any
  bool aborted = false;     // the abort flag stopped it
};

class HttpPoster {
 public:
  HttpPoster();
  ~HttpPoster();
  HttpPoster(const HttpPoster&) = delete;
  HttpPoster& operator=(const HttpPoster&) = delete;

  // POSTs body with the given "Name: value" headers. abort (may be null) is polled about once a
  // second at least, more often while data moves; when it turns true the transfer is abandoned.
  PostResult Post(const std::string& url, const std::vector<std::string>& headers,
                  std::string_view body, std::chrono::milliseconds timeout,
                  const std::atomic<bool>* abort, const TlsClientOptions& tls = {});

 private:
  CURL* curl_ = nullptr;
};

}  // namespace podstat::remote_write
