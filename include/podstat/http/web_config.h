// --web.config.file / --receiver.web-config.file: exporter-toolkit's YAML format
// (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md), so a
// file written for node_exporter works here unchanged. Parsing is pure (text in, struct or error
// out); WebConfigWatcher adds the file I/O and keeps the last good config across bad edits.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "podstat/util/log.h"

namespace podstat::http {

enum class ClientAuth {
  kNone,              // NoClientCert (the default)
  kRequestAny,        // RequestClientCert: asked for, not verified
  kRequireAny,        // RequireAnyClientCert: required, not verified
  kVerifyIfGiven,     // VerifyClientCertIfGiven
  kRequireAndVerify,  // RequireAndVerifyClientCert
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

struct TlsServerConfig {
  std::string cert_file;       // absolute (resolved against the config file's folder)
  std::string key_file;        // absolute
  std::string client_ca_file;  // absolute, or empty
  ClientAuth client_auth = ClientAuth::kNone;
  TlsVersion min_version = TlsVersion::kTls12;
  std::optional<TlsVersion> max_version;
  std::vector<std::string> cipher_suites;  // Go names as written (TLS 1.2 only); empty = default
  // cipher_suites in OpenSSL's names, ':'-joined for SSL_CTX_set_cipher_list; empty = default.
  // Go's TLS 1.3 names are accepted and left out here, as Go ignores them too (TLS 1.3 suites
  // are not configurable there).
  std::string openssl_cipher_list;
  std::vector<std::string> curve_preferences;  // Go names as written; empty = default
  std::string openssl_groups_list;  // the same in OpenSSL's names, for SSL_CTX_set1_groups_list
  bool prefer_server_cipher_suites = true;  // SSL_OP_CIPHER_SERVER_PREFERENCE
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;                        // tls_server_config, if set
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // http_server_config.headers
  // http_server_config.http2: parsed so that node_exporter's files load, not honoured: podstat
  // serves HTTP/1.1 only, which http2: true permits and http2: false asks for.
  bool http2 = true;
};

// Parses the YAML text. base_dir resolves relative file paths (exporter-toolkit resolves them
// against the config file's folder). Unknown keys, wrong types, bad enum values, a
// client_ca_file with NoClientCert, a verifying client_auth_type without client_ca_file, a hash
// that is not bcrypt, and a header outside exporter-toolkit's allow-list are errors: nullopt,
// with the reason (naming the key) in *error. An empty document is the empty config.
std::optional<WebConfig> ParseWebConfig(const std::string& yaml_text, const std::string& base_dir,
                                        std::string* error);

// The I/O half of the check node_exporter (and `promtool check web-config`) makes: cert_file
// and key_file hold a PEM certificate and its private key, and client_ca_file holds at least
// one PEM certificate. false with the reason in *error.
bool CheckTlsFiles(const TlsServerConfig& tls, std::string* error);

// Holds the file's current config. Reload() re-reads the file when its mtime, size or inode
// changed; a file that fails to read, parse or pass CheckTlsFiles keeps the last good config and
// logs why (once per change of the file). Thread-safe: Current() may be called from any thread.
class WebConfigWatcher {
 public:
  // Reads the file once; nullptr with the reason in *error if it cannot be read or parsed (the
  // agent refuses to start on a bad file, as node_exporter does).
  static std::unique_ptr<WebConfigWatcher> Open(const std::string& path, Logger& logger,
                                                std::string* error);
  // true if a new config was taken.
  bool Reload();
  std::shared_ptr<const WebConfig> Current() const;
  const std::string& path() const { return path_; }
  // false while the file's current content was refused (Current() is then an older one).
  bool LastReloadOk() const;

 private:
  WebConfigWatcher(std::string path, Logger& logger) : path_(std::move(path)), logger_(logger) {}
  std::string path_;
  Logger& logger_;
  mutable std::mutex mutex_;
  std::shared_ptr<const WebConfig> current_;
  std::string last_seen_;  // mtime/size/inode of the last file read, good or bad
  bool last_reload_ok_ = true;
};

}  // namespace podstat::http
