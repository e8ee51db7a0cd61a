#include "podstat/http/web_config.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>
#include <utility>

#include "podstat/http/auth.h"

namespace podstat::http {
namespace {

// Keys and values below follow exporter-toolkit v0.8.2, the version that Debian 12's
// prometheus 2.42 (and its `promtool check web-config`) is built with, and the format
// node_exporter files are written in.
//
// Keys of later exporter-toolkit versions are refused with "not supported by podstat" rather
// than ignored: each one asks for something podstat would otherwise silently not do.
//   tls_server_config.client_allowed_sans (v0.10): a client-certificate SAN allow-list;
//     ignoring it would let in every client the CA signed.
//   tls_server_config.cert / key / client_ca (v0.11): inline PEM; use the *_file keys.
//   rate_limit (v0.13): podstat's listener limits connections instead.
// Keys of v0.8.2 that podstat cannot honour exactly are parsed and validated:
//   http_server_config.http2: podstat serves HTTP/1.1 only, which either value permits.
//   cipher_suites, curve_preferences, prefer_server_cipher_suites: mapped to OpenSSL's names.

struct Unsupported {
  std::string_view key;
  std::string_view why;
};

constexpr std::array kUnsupportedTopLevel = {
    Unsupported{"rate_limit", "podstat limits connections at the listener instead"},
};
constexpr std::array kUnsupportedTls = {
    Unsupported{"client_allowed_sans", "restrict clients with client_ca_file instead"},
    Unsupported{"cert", "write the certificate to a file and use cert_file"},
    Unsupported{"key", "write the key to a file and use key_file"},
    Unsupported{"client_ca", "write the CA certificates to a file and use client_ca_file"},
};

// Go's tls.CipherSuites() (Go 1.19, the one exporter-toolkit accepts) with OpenSSL's names;
// an empty OpenSSL name is a TLS 1.3 suite, which Go accepts in the list and then ignores.
constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kCipherSuites = {{
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_AES_128_GCM_SHA256", ""},
    {"TLS_AES_256_GCM_SHA384", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", ""},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCurves = {{
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    {"X25519", "X25519"},
}};

constexpr std::array<std::pair<std::string_view, TlsVersion>, 4> kTlsVersions = {{
    {"TLS10", TlsVersion::kTls10},
    {"TLS11", TlsVersion::kTls11},
    {"TLS12", TlsVersion::kTls12},
    {"TLS13", TlsVersion::kTls13},
}};

// "RequireClientCert" is exporter-toolkit's backwards-compatible alias of RequireAnyClientCert.
constexpr std::array<std::pair<std::string_view, ClientAuth>, 6> kClientAuthTypes = {{
    {"NoClientCert", ClientAuth::kNone},
    {"RequestClientCert", ClientAuth::kRequestAny},
    {"RequireAnyClientCert", ClientAuth::kRequireAny},
    {"RequireClientCert", ClientAuth::kRequireAny},
    {"VerifyClientCertIfGiven", ClientAuth::kVerifyIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerify},
}};

// exporter-toolkit's extraHTTPHeaders: the only headers a web config may set, and for two of
// them the only values (compared exactly, as Go does).
struct AllowedHeader {
  std::string_view name;
  std::vector<std::string_view> values;  // empty = any value
};
const std::vector<AllowedHeader>& AllowedHeaders() {
  static const std::vector<AllowedHeader> headers = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return headers;
}

constexpr size_t kMaxConfigBytes = 1 << 20;

template <typename Table>
std::string NamesOf(const Table& table) {
  std::string names;
  for (const auto& entry : table) {
    if (!names.empty()) names += ", ";
    names += entry.first;
  }
  return names;
}

template <typename Table>
const typename Table::value_type* Find(const Table& table, std::string_view name) {
  for (const auto& entry : table)
    if (entry.first == name) return &entry;
  return nullptr;
}

// Walks the YAML tree; the first error wins and names the key it is about.
class Parser {
 public:
  explicit Parser(std::string* error) : error_(error) {}

  bool Fail(const std::string& where, const std::string& message) {
    if (error_) *error_ = where + ": " + message;
    return false;
  }

  // A mapping (or null, which is the empty mapping) whose keys are all scalars, known and
  // unique. Keys of `unsupported` are refused with their reason.
  template <size_t N>
  bool CheckMapping(const YAML::Node& node, const std::string& where,
                    std::initializer_list<std::string_view> known,
                    const std::array<Unsupported, N>& unsupported) {
    // An absent key comes back from a const operator[] as an invalid node, on which IsNull
    // would throw.
    if (!node || node.IsNull()) return true;
    if (!node.IsMap()) return Fail(where, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) return Fail(where, "a key is not a string");
      const std::string key = entry.first.Scalar();
      const std::string path = Join(where, key);
      if (!seen.insert(key).second) return Fail(path, "duplicate key");
      bool is_known = false;
      for (std::string_view name : known) is_known = is_known || name == key;
      if (is_known) continue;
      for (const Unsupported& entry_unsupported : unsupported)
        if (entry_unsupported.key == key)
          return Fail(path,
                      "not supported by podstat (" + std::string(entry_unsupported.why) + ")");
      return Fail(path, "unknown key");
    }
    return true;
  }

  // A string-valued key: absent or null is "", a scalar is its text (as Go's yaml.v2 reads a
  // number into a string field), anything else is an error.
  bool String(const YAML::Node& parent, const std::string& where, const char* key,
              std::string* out) {
    out->clear();
    if (!parent || !parent.IsMap()) return true;
    const YAML::Node node = parent[key];
    if (!node || node.IsNull()) return true;
    if (!node.IsScalar()) return Fail(Join(where, key), "expected a string");
    *out = node.Scalar();
    return true;
  }

  bool Bool(const YAML::Node& parent, const std::string& where, const char* key, bool* out) {
    if (!parent || !parent.IsMap()) return true;
    const YAML::Node node = parent[key];
    if (!node || node.IsNull()) return true;
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
      return Fail(Join(where, key), "expected true or false");
    *out = value;
    return true;
  }

  bool StringList(const YAML::Node& parent, const std::string& where, const char* key,
                  std::vector<std::string>* out) {
    out->clear();
    if (!parent || !parent.IsMap()) return true;
    const YAML::Node node = parent[key];
    if (!node || node.IsNull()) return true;
    if (!node.IsSequence()) return Fail(Join(where, key), "expected a list of strings");
    for (const auto& item : node) {
      if (!item.IsScalar()) return Fail(Join(where, key), "expected a list of strings");
      out->push_back(item.Scalar());
    }
    return true;
  }

  static std::string Join(const std::string& where, std::string_view key) {
    return where.empty() ? std::string(key) : where + "." + std::string(key);
  }

 private:
  std::string* error_;
};

// exporter-toolkit's config_util.JoinDir: relative paths are taken from the config's folder.
std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty() || base_dir.empty() || path.front() == '/') return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

bool ParseTls(Parser& parser, const YAML::Node& node, const std::string& base_dir,
              std::optional<TlsServerConfig>* out) {
  const std::string where = "tls_server_config";
  if (!parser.CheckMapping(
          node, where,
          {"cert_file", "key_file", "client_auth_type", "client_ca_file", "cipher_suites",
           "curve_preferences", "min_version", "max_version", "prefer_server_cipher_suites"},
          kUnsupportedTls))
    return false;
  TlsServerConfig tls;
  std::string client_auth_type, min_version, max_version;
  if (!parser.String(node, where, "cert_file", &tls.cert_file) ||
      !parser.String(node, where, "key_file", &tls.key_file) ||
      !parser.String(node, where, "client_ca_file", &tls.client_ca_file) ||
      !parser.String(node, where, "client_auth_type", &client_auth_type) ||
      !parser.String(node, where, "min_version", &min_version) ||
      !parser.String(node, where, "max_version", &max_version) ||
      !parser.StringList(node, where, "cipher_suites", &tls.cipher_suites) ||
      !parser.StringList(node, where, "curve_preferences", &tls.curve_preferences) ||
      !parser.Bool(node, where, "prefer_server_cipher_suites", &tls.prefer_server_cipher_suites))
    return false;

  // Version, cipher and curve names are checked even when TLS ends up off, as Go's YAML
  // decoding checks them before anything else.
  if (!min_version.empty()) {
    const auto* version = Find(kTlsVersions, min_version);
    if (!version)
      return parser.Fail(where + ".min_version", "unknown TLS version \"" + min_version +
                                                     "\" (expected one of " +
                                                     NamesOf(kTlsVersions) + ")");
    tls.min_version = version->second;
  }
  if (!max_version.empty()) {
    const auto* version = Find(kTlsVersions, max_version);
    if (!version)
      return parser.Fail(where + ".max_version", "unknown TLS version \"" + max_version +
                                                     "\" (expected one of " +
                                                     NamesOf(kTlsVersions) + ")");
    tls.max_version = version->second;
  }
  for (const std::string& name : tls.cipher_suites) {
    const auto* suite = Find(kCipherSuites, name);
    if (!suite)
      return parser.Fail(
          where + ".cipher_suites",
          "unknown cipher \"" + name + "\" (expected one of " + NamesOf(kCipherSuites) + ")");
    if (suite->second.empty()) continue;
    if (!tls.openssl_cipher_list.empty()) tls.openssl_cipher_list += ':';
    tls.openssl_cipher_list += suite->second;
  }
  for (const std::string& name : tls.curve_preferences) {
    const auto* curve = Find(kCurves, name);
    if (!curve)
      return parser.Fail(
          where + ".curve_preferences",
          "unknown curve \"" + name + "\" (expected one of " + NamesOf(kCurves) + ")");
    if (!tls.openssl_groups_list.empty()) tls.openssl_groups_list += ':';
    tls.openssl_groups_list += curve->second;
  }

  // As exporter-toolkit: TLS is on when any of these four is set.
  if (tls.cert_file.empty() && tls.key_file.empty() && client_auth_type.empty() &&
      tls.client_ca_file.empty()) {
    out->reset();
    return true;
  }
  if (tls.cert_file.empty()) return parser.Fail(where, "missing cert_file");
  if (tls.key_file.empty()) return parser.Fail(where, "missing key_file");
  if (!client_auth_type.empty()) {
    const auto* type = Find(kClientAuthTypes, client_auth_type);
    if (!type)
      return parser.Fail(where + ".client_auth_type",
                         "invalid client auth type \"" + client_auth_type + "\" (expected one of " +
                             NamesOf(kClientAuthTypes) + ")");
    tls.client_auth = type->second;
  }
  if (!tls.client_ca_file.empty() && tls.client_auth == ClientAuth::kNone)
    return parser.Fail(where + ".client_ca_file",
                       "set without a client_auth_type that asks for a client certificate");
  // Stricter than exporter-toolkit, which would verify against the system's CAs: an agent
  // that admits any client with a publicly signed certificate is not what anyone means.
  if (tls.client_ca_file.empty() && (tls.client_auth == ClientAuth::kVerifyIfGiven ||
                                     tls.client_auth == ClientAuth::kRequireAndVerify))
    return parser.Fail(where + ".client_auth_type",
                       client_auth_type + " needs client_ca_file to verify against");
  // Stricter too: Go would accept the file and then fail every handshake.
  if (tls.max_version && *tls.max_version < tls.min_version)
    return parser.Fail(where + ".max_version", "below min_version");

  tls.cert_file = ResolvePath(base_dir, tls.cert_file);
  tls.key_file = ResolvePath(base_dir, tls.key_file);
  tls.client_ca_file = ResolvePath(base_dir, tls.client_ca_file);
  *out = std::move(tls);
  return true;
}

bool ParseHttpServer(Parser& parser, const YAML::Node& node, WebConfig* config) {
  const std::string where = "http_server_config";
  if (!parser.CheckMapping(node, where, {"http2", "headers"}, std::array<Unsupported, 0>{}))
    return false;
  if (!parser.Bool(node, where, "http2", &config->http2)) return false;
  if (!node || !node.IsMap()) return true;
  const YAML::Node headers = node["headers"];
  if (!headers || headers.IsNull()) return true;
  const std::string headers_where = where + ".headers";
  if (!headers.IsMap()) return parser.Fail(headers_where, "expected a mapping");
  std::set<std::string> seen;
  for (const auto& entry : headers) {
    if (!entry.first.IsScalar()) return parser.Fail(headers_where, "a key is not a string");
    const std::string name = entry.first.Scalar();
    const std::string path = Parser::Join(headers_where, name);
    if (!seen.insert(name).second) return parser.Fail(path, "duplicate key");
    const AllowedHeader* allowed = nullptr;
    for (const AllowedHeader& header : AllowedHeaders())
      if (header.name == name) allowed = &header;
    if (!allowed) return parser.Fail(path, "this HTTP header can not be configured");
    std::string value;
    if (!entry.second.IsNull()) {
      if (!entry.second.IsScalar()) return parser.Fail(path, "expected a string");
      value = entry.second.Scalar();
    }
    if (!allowed->values.empty()) {
      bool ok = false;
      std::string expected;
      for (std::string_view allowed_value : allowed->values) {
        ok = ok || allowed_value == value;
        expected += (expected.empty() ? "" : ", ") + std::string(allowed_value);
      }
      if (!ok)
        return parser.Fail(path, "invalid value \"" + value + "\" (expected " + expected + ")");
    }
    // exporter-toolkit documents a blank value as "unset".
    if (!value.empty()) config->headers.emplace_back(name, value);
  }
  return true;
}

bool ParseUsers(Parser& parser, const YAML::Node& node, WebConfig* config) {
  const std::string where = "basic_auth_users";
  if (!node || node.IsNull()) return true;
  if (!node.IsMap()) return parser.Fail(where, "expected a mapping of user to bcrypt hash");
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) return parser.Fail(where, "a user name is not a string");
    const std::string user = entry.first.Scalar();
    const std::string path = Parser::Join(where, user);
    if (config->basic_auth_users.count(user)) return parser.Fail(path, "duplicate user");
    std::string hash;
    if (!entry.second.IsNull()) {
      if (!entry.second.IsScalar()) return parser.Fail(path, "expected a bcrypt hash");
      hash = entry.second.Scalar();
    }
    // The hash itself is a secret of sorts: say what is wrong, not what it is.
    if (!IsBcryptHash(hash))
      return parser.Fail(path,
                         "not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04..31, 60 characters; "
                         "htpasswd -nBC 10 USER makes one)");
    config->basic_auth_users.emplace(user, std::move(hash));
  }
  return true;
}

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no PEM data";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr OpenPem(const std::string& path, const char* key, std::string* error) {
  ERR_clear_error();
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio && error)
    *error = std::string("tls_server_config.") + key + ": cannot read " + path + ": " +
             std::strerror(errno);
  ERR_clear_error();
  return bio;
}

// What tells one version of the file from the next (an editor's rename changes the inode).
std::string StampFrom(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// Reads the file through one fd: its stat identity and its text belong to the same version.
bool ReadConfigFile(const std::string& path, std::string* text, std::string* stamp,
                    std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    if (error) *error = "cannot stat " + path + ": " + std::strerror(errno);
    return false;
  }
  *stamp = StampFrom(st);
  text->clear();
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (error) *error = "cannot read " + path + ": " + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    text->append(buffer, static_cast<size_t>(n));
    if (text->size() > kMaxConfigBytes) {
      if (error) *error = path + ": larger than 1 MiB";
      return false;
    }
  }
  return true;
}

std::string StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "stat error " + std::to_string(errno);
  return StampFrom(st);
}

std::string FolderOf(const std::string& path) {
  std::error_code ignored;
  std::filesystem::path absolute = std::filesystem::absolute(path, ignored);
  if (absolute.empty()) absolute = path;
  return absolute.parent_path().string();
}

std::optional<WebConfig> LoadFile(const std::string& path, std::string* stamp, std::string* error) {
  std::string text;
  if (!ReadConfigFile(path, &text, stamp, error)) return std::nullopt;
  std::string reason;
  std::optional<WebConfig> config = ParseWebConfig(text, FolderOf(path), &reason);
  if (config && config->tls && !CheckTlsFiles(*config->tls, &reason)) config.reset();
  if (!config && error) *error = path + ": " + reason;
  return config;
}

}  // namespace

std::optional<WebConfig> ParseWebConfig(const std::string& yaml_text, const std::string& base_dir,
                                        std::string* error) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    if (error) *error = std::string("invalid YAML: ") + e.what();
    return std::nullopt;
  }
  const YAML::Node& document = root;  // const: operator[] must not insert keys
  Parser parser(error);
  WebConfig config;
  if (!root || root.IsNull()) return config;
  if (!root.IsMap()) {
    parser.Fail("web config", "the top level must be a mapping");
    return std::nullopt;
  }
  // yaml-cpp hands out nodes lazily and may throw on a malformed conversion deep down; any
  // exception is a bad file, never a crash.
  try {
    if (!parser.CheckMapping(root, "",
                             {"tls_server_config", "http_server_config", "basic_auth_users"},
                             kUnsupportedTopLevel) ||
        !ParseTls(parser, document["tls_server_config"], base_dir, &config.tls) ||
        !ParseHttpServer(parser, document["http_server_config"], &config) ||
        !ParseUsers(parser, document["basic_auth_users"], &config))
      return std::nullopt;
  } catch (const YAML::Exception& e) {
    if (error) *error = std::string("invalid YAML: ") + e.what();
    return std::nullopt;
  }
  return config;
}

bool CheckTlsFiles(const TlsServerConfig& tls, std::string* error) {
  BioPtr cert_bio = OpenPem(tls.cert_file, "cert_file", error);
  if (!cert_bio) return false;
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    if (error)
      *error =
          "tls_server_config.cert_file: no certificate in " + tls.cert_file + ": " + OpenSslError();
    return false;
  }
  BioPtr key_bio = OpenPem(tls.key_file, "key_file", error);
  if (!key_bio) return false;
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    if (error)
      *error =
          "tls_server_config.key_file: no private key in " + tls.key_file + ": " + OpenSslError();
    return false;
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    if (error)
      *error =
          "tls_server_config.key_file: " + tls.key_file + " is not the key of " + tls.cert_file;
    return false;
  }
  if (!tls.client_ca_file.empty()) {
    BioPtr ca_bio = OpenPem(tls.client_ca_file, "client_ca_file", error);
    if (!ca_bio) return false;
    // Stricter than Go, which accepts a CA file without any certificate and then refuses every
    // client: say so at load time instead.
    std::unique_ptr<X509, X509Free> ca(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
    if (!ca) {
      if (error)
        *error = "tls_server_config.client_ca_file: no certificate in " + tls.client_ca_file +
                 ": " + OpenSslError();
      return false;
    }
  }
  ERR_clear_error();
  return true;
}

std::unique_ptr<WebConfigWatcher> WebConfigWatcher::Open(const std::string& path, Logger& logger,
                                                         std::string* error) {
  std::unique_ptr<WebConfigWatcher> watcher(new WebConfigWatcher(path, logger));
  std::string stamp;
  std::optional<WebConfig> config = LoadFile(path, &stamp, error);
  if (!config) return nullptr;
  watcher->current_ = std::make_shared<const WebConfig>(std::move(*config));
  watcher->last_seen_ = std::move(stamp);
  return watcher;
}

bool WebConfigWatcher::Reload() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (StampOf(path_) == last_seen_) return false;
  std::string stamp, error;
  std::optional<WebConfig> config = LoadFile(path_, &stamp, &error);
  // A file that cannot even be opened has no stamp of its own: remember the stat error, so
  // that it is logged once, not on every Reload.
  if (stamp.empty()) stamp = StampOf(path_);
  last_seen_ = std::move(stamp);
  if (!config) {
    logger_.Warn("http", "web config ", path_, " not taken, keeping the last good one: ", error);
    last_reload_ok_ = false;
    return false;
  }
  last_reload_ok_ = true;
  current_ = std::make_shared<const WebConfig>(std::move(*config));
  logger_.Info("http", "web config ", path_, " reloaded");
  return true;
}

bool WebConfigWatcher::LastReloadOk() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_reload_ok_;
}

std::shared_ptr<const WebConfig> WebConfigWatcher::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

}  // namespace podstat::http
