#include "podstat/http/auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <vector>

namespace podstat::http {
namespace {

// Past this many verified triples the cache is cleared: a bound on memory that a legitimate
// set of users (a few, each with one password) never reaches.
constexpr size_t kMaxCachedCredentials = 1024;

// A bcrypt hash (cost 10, as users' hashes usually are) of a password nobody knows, checked for
// unknown users so that a wrong user name costs as long as a wrong password. exporter-toolkit
// uses this one ("fakepassword").
constexpr const char* kDummyHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Standard base64 with padding (RFC 4648 §4, what RFC 7617 asks for). EVP_DecodeBlock decodes
// but neither rejects misplaced '=' nor drops the padding's zero bytes, so both are done here.
bool DecodeBase64(std::string_view text, std::string* out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  if (padding == 1 && text.back() != '=') return false;
  for (size_t i = 0; i < text.size() - padding; ++i)
    if (!IsBase64Char(text[i])) return false;
  std::vector<unsigned char> decoded(text.size() / 4 * 3 + 1);
  const int length =
      EVP_DecodeBlock(decoded.data(), reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (length < 0 || static_cast<size_t>(length) < padding) return false;
  out->assign(reinterpret_cast<const char*>(decoded.data()), static_cast<size_t>(length) - padding);
  return true;
}

std::string CacheKey(std::string_view user, std::string_view password, std::string_view hash) {
  std::string material;
  material.reserve(user.size() + password.size() + hash.size() + 2);
  material.append(user).append(1, '\0').append(password).append(1, '\0').append(hash);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (EVP_Digest(material.data(), material.size(), digest, &digest_length, EVP_sha256(), nullptr) !=
      1)
    digest_length = 0;
  OPENSSL_cleanse(material.data(), material.size());
  return std::string(reinterpret_cast<const char*>(digest), digest_length);
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

bool ParseBasicAuthorization(std::string_view header, std::string* user, std::string* password) {
  while (!header.empty() && IsSpace(header.front())) header.remove_prefix(1);
  while (!header.empty() && IsSpace(header.back())) header.remove_suffix(1);
  constexpr std::string_view kScheme = "basic";
  if (header.size() <= kScheme.size() || !IsSpace(header[kScheme.size()])) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != kScheme[i]) return false;
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && IsSpace(header.front())) header.remove_prefix(1);
  std::string decoded;
  if (!DecodeBase64(header, &decoded)) return false;
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  *user = decoded.substr(0, colon);
  *password = decoded.substr(colon + 1);
  OPENSSL_cleanse(decoded.data(), decoded.size());
  return true;
}

bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != 60) return false;
  if (hash.substr(0, 2) != "$2" || (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') ||
      hash[3] != '$' || hash[6] != '$')
    return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (size_t i = 7; i < hash.size(); ++i) {
    const char c = hash[i];
    if (!(c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

bool BcryptVerify(const std::string& password, const std::string& hash) {
  // crypt_r would take any prefix it knows (DES, MD5, SHA-crypt): only bcrypt gets through.
  if (!IsBcryptHash(hash)) return false;
  // A C string ends at the first NUL: "pass\0anything" must not verify as "pass".
  if (password.find('\0') != std::string::npos) return false;
  // struct crypt_data is ~32 KiB: too big for an HTTP worker's stack. Zeroed, as crypt_r wants.
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* result = ::crypt_r(password.c_str(), hash.c_str(), data.get());
  // On failure libxcrypt returns nullptr or a string starting with '*' ("*0" or "*1").
  bool ok = result != nullptr && result[0] != '*' && std::strlen(result) == hash.size() &&
            CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string> users)
    : users_(std::move(users)) {}

bool BasicAuthenticator::Check(std::string_view authorization_header) {
  std::string user, password;
  if (!ParseBasicAuthorization(authorization_header, &user, &password)) return false;
  const auto found = users_.find(user);
  const bool known_user = found != users_.end();
  const std::string& hash = known_user ? found->second : std::string(kDummyHash);
  const std::string key = CacheKey(user, password, hash);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (known_user && verified_.count(key)) {
      OPENSSL_cleanse(password.data(), password.size());
      return true;
    }
  }
  bool ok;
  {
    std::lock_guard<std::mutex> lock(bcrypt_mutex_);
    bcrypt_checks_.fetch_add(1, std::memory_order_relaxed);
    ok = BcryptVerify(password, hash);
  }
  OPENSSL_cleanse(password.data(), password.size());
  ok = ok && known_user;
  // Only successes are cached: failures would let anyone fill the cache.
  if (ok) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (verified_.size() >= kMaxCachedCredentials) verified_.clear();
    verified_.insert(key);
  }
  return ok;
}

}  // namespace podstat::http
