// HTTP basic authentication against bcrypt hashes (basic_auth_users in the web config).
// bcrypt is deliberately slow (~50-75 ms per cost-10 check here), so a verified
// (user, password, hash) triple is cached, keyed by a SHA-256 of the three: a scrape every 15 s
// costs one check per restart, not one per scrape. Unknown users are checked against a dummy
// hash so that timing does not reveal which users exist.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace podstat::http {

// Decodes an "Authorization: Basic <base64>" header value into user and password. false if it
// is not Basic or the base64 or the user:password form is malformed.
bool ParseBasicAuthorization(std::string_view header, std::string* user, std::string* password);

// true if hash has the bcrypt form BcryptVerify accepts: $2a$, $2b$ or $2y$, a two-digit cost
// 04..31, then 53 characters of bcrypt's base64 (salt and hash). The web config refuses others.
bool IsBcryptHash(std::string_view hash);

// true if password matches the bcrypt hash ($2a$, $2b$ or $2y$ only; any other form is false,
// never DES or MD5). Uses libxcrypt's crypt_r; compares in constant time.
bool BcryptVerify(const std::string& password, const std::string& hash);

class BasicAuthenticator {
 public:
  // users: user -> bcrypt hash. Empty = no authentication required.
  explicit BasicAuthenticator(std::map<std::string, std::string> users);
  bool required() const { return !users_.empty(); }
  // true if the Authorization header value names a user with the right password.
  bool Check(std::string_view authorization_header);
  // bcrypt verifications run so far (cache misses): what the cache saves, for tests and metrics.
  uint64_t bcrypt_checks() const { return bcrypt_checks_.load(std::memory_order_relaxed); }

 private:
  const std::map<std::string, std::string> users_;
  std::mutex mutex_;
  std::unordered_set<std::string> verified_;  // SHA-256(user \0 password \0 hash), bounded
  // One bcrypt at a time, as exporter-toolkit: a burst of wrong passwords costs one core, not all.
  std::mutex bcrypt_mutex_;
  std::atomic<uint64_t> bcrypt_checks_{0};
};

}  // namespace podstat::http
