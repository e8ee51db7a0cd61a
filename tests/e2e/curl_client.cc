#include "curl_client.h"

#include <curl/curl.h>

#include <memory>
#include <stdexcept>

namespace podstat::testing {
namespace {

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// curl_global_init is not thread-safe; the first request runs it, once, before any other.
void InitCurlOnce() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!ok) throw std::runtime_error("curl_global_init failed");
}

}  // namespace

HttpResponse CurlRequest(const std::string& url, const ClientCredentials& credentials,
                         const std::string& method, const std::string& body,
                         const std::string& content_type) {
  InitCurlOnce();
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  CURL* c = curl.get();
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  if (!credentials.ca_file.empty())
    curl_easy_setopt(c, CURLOPT_CAINFO, credentials.ca_file.c_str());
  if (!credentials.cert_file.empty())
    curl_easy_setopt(c, CURLOPT_SSLCERT, credentials.cert_file.c_str());
  if (!credentials.key_file.empty())
    curl_easy_setopt(c, CURLOPT_SSLKEY, credentials.key_file.c_str());
  if (!credentials.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(c, CURLOPT_USERNAME, credentials.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, credentials.password.c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (!content_type.empty()) {
      headers.reset(curl_slist_append(nullptr, ("Content-Type: " + content_type).c_str()));
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    }
  } else if (method != "GET") {
    throw std::invalid_argument("CurlRequest: unsupported method " + method);
  }
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    throw std::runtime_error(method + " " + url + ": " +
                             (error[0] != '\0' ? error : curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace podstat::testing
