#include "podstat/remote_write/http_post.h"

#include <curl/curl.h>

#include <memory>

namespace podstat::remote_write {
namespace {

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

size_t DiscardBody(char*, size_t size, size_t count, void*) { return size * count; }

// Keeps the Retry-After value; header lines arrive one per call, with their CRLF.
size_t CaptureHeader(char* data, size_t size, size_t count, void* user) {
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i)
      match = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i]))) == kName[i];
    if (match) {
      line.remove_prefix(kName.size());
      while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      static_cast<PostResult*>(user)->retry_after = std::string(line);
    }
  }
  return bytes;
}

int AbortCheck(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort != nullptr && abort->load() ? 1 : 0;
}

}  // namespace

CurlGlobal::CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}
CurlGlobal::~CurlGlobal() {
  if (ok_) curl_global_cleanup();
}

HttpPoster::HttpPoster() : curl_(curl_easy_init()) {}
HttpPoster::~HttpPoster() {
  if (curl_ != nullptr) curl_easy_cleanup(curl_);
}

PostResult HttpPoster::Post(const std::string& url, const std::vector<std::string>& headers,
                            std::string_view body, std::chrono::milliseconds timeout,
                            const std::atomic<bool>* abort, const TlsClientOptions& tls) {
  PostResult result;
  if (curl_ == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  Slist list;
  auto append = [&list](const char* header) {
    curl_slist* head = curl_slist_append(list.get(), header);  // NULL leaves the list intact
    if (head == nullptr) return false;
    (void)list.release();
    list.reset(head);
    return true;
  };
  for (const std::string& header : headers) {
    if (!append(header.c_str())) {
      result.error = "out of memory";
      return result;
    }
  }
  // Without this curl sends "Expect: 100-continue" for large bodies and waits for an answer.
  if (!append("Expect:")) {
    result.error = "out of memory";
    return result;
  }

  CURL* c = curl_;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM-based timeouts in a threaded program
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, CaptureHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &result);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, AbortCheck);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(abort));
  if (!tls.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, tls.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!tls.key_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLKEY, tls.key_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }

  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    result.aborted = code == CURLE_ABORTED_BY_CALLBACK;
    result.error = curl_easy_strerror(code);
    return result;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  return result;
}

}  // namespace podstat::remote_write
