#include "podstat/http/auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

namespace podstat::http {
namespace {

// A bcrypt hash made by apache2-utils' htpasswd (APR's own bcrypt, not libxcrypt): the oracle.
// Returns "" when htpasswd is missing (the caller skips, loudly).
std::string Htpasswd(const std::string& user, const std::string& password, int cost) {
  if (std::system("command -v htpasswd >/dev/null 2>&1") != 0) return "";
  const std::string command =
      "htpasswd -nbBC " + std::to_string(cost) + " '" + user + "' '" + password + "'";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return "";
  char buffer[256] = {};
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, pipe);
  ::pclose(pipe);
  std::string line(buffer, n);
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return "";
  std::string hash = line.substr(colon + 1);
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
  return hash;
}

#define REQUIRE_HTPASSWD(hash)                                                          \
  if ((hash).empty())                                                                   \
  GTEST_SKIP() << "SKIPPED LOUDLY: htpasswd is not installed (Debian: apt-get install " \
                  "apache2-utils; scripts/install-deps.sh installs it)"

// "Basic " + base64(text), by the base64 binary of coreutils: another implementation.
std::string BasicHeader(const std::string& text) {
  std::FILE* pipe = ::popen(("printf '%s' '" + text + "' | base64 -w0").c_str(), "r");
  char buffer[512] = {};
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, pipe);
  ::pclose(pipe);
  return "Basic " + std::string(buffer, n);
}

// The same by OpenSSL's encoder, for the many headers of the cache test (no process each).
std::string BasicHeaderFast(const std::string& text) {
  std::string encoded(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  encoded.resize(static_cast<size_t>(n));
  return "Basic " + encoded;
}

TEST(ParseBasicAuthorization, Decodes) {
  std::string user, password;
  // RFC 7617 §2's example.
  ASSERT_TRUE(ParseBasicAuthorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &user, &password));
  EXPECT_EQ(user, "Aladdin");
  EXPECT_EQ(password, "open sesame");
  // Scheme case-insensitive, extra spaces tolerated; the password keeps its colons.
  ASSERT_TRUE(ParseBasicAuthorization("  bAsIc   " + BasicHeader("u:p:q").substr(6) + " ", &user,
                                      &password));
  EXPECT_EQ(user, "u");
  EXPECT_EQ(password, "p:q");
  // Each padding length.
  for (const std::string text : {"a:", "ab:", "abc:", ":", "user:pass", "üser:päss"}) {
    ASSERT_TRUE(ParseBasicAuthorization(BasicHeader(text), &user, &password)) << text;
    EXPECT_EQ(user + ":" + password, text);
  }
}

TEST(ParseBasicAuthorization, RefusesMalformed) {
  const std::string cases[] = {
      "",
      "Basic",
      "Basic ",
      "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
      "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
      "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",     // padding missing
      "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=",    // padding short
      "Basic QWxhZGRp=jpvcGVuIHNlc2FtZQ==",   // '=' inside
      "Basic QWxhZGRpbjpvcGVu IHNlc2FtZQ==",  // space inside
      "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\n",
      "Basic ====",
      "Basic YWxhZGRpbg==",  // "aladdin": no colon
      "Basic QWxh\x80ZGRpbjpvcGVuIHNlc2FtZQ==",
  };
  for (const std::string& header : cases) {
    std::string user, password;
    EXPECT_FALSE(ParseBasicAuthorization(header, &user, &password)) << header;
  }
}

TEST(BcryptVerify, HashesFromHtpasswd) {
  const std::string hash = Htpasswd("alice", "correct horse", 5);
  REQUIRE_HTPASSWD(hash);
  ASSERT_EQ(hash.rfind("$2y$05$", 0), 0u) << hash;
  EXPECT_TRUE(BcryptVerify("correct horse", hash));
  EXPECT_FALSE(BcryptVerify("correct horse ", hash));
  EXPECT_FALSE(BcryptVerify("Correct horse", hash));
  EXPECT_FALSE(BcryptVerify("", hash));
  // $2a$, $2b$ and $2y$ compute the same for an ASCII password.
  for (const char* prefix : {"$2a$", "$2b$"}) {
    const std::string other = prefix + hash.substr(4);
    EXPECT_TRUE(BcryptVerify("correct horse", other)) << other;
    EXPECT_FALSE(BcryptVerify("wrong", other)) << other;
  }
  // A NUL ends a C string: the password before it must not pass for the whole.
  EXPECT_FALSE(BcryptVerify(std::string("correct horse\0tail", 18), hash));
}

// Openwall crypt_blowfish's published test vectors: no tool needed.
TEST(BcryptVerify, KnownVectors) {
  EXPECT_TRUE(BcryptVerify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_TRUE(BcryptVerify("U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"));
  EXPECT_FALSE(BcryptVerify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"));
}

TEST(BcryptVerify, OnlyBcryptForms) {
  // DES (crypt(3)), MD5-crypt and SHA-512-crypt (openssl passwd -1/-6) hashes of "password":
  // crypt_r would verify each; BcryptVerify must not even try.
  EXPECT_FALSE(BcryptVerify("password", "abJnggxhB/yWI"));
  EXPECT_FALSE(BcryptVerify("password", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"));
  EXPECT_FALSE(BcryptVerify("password",
                            "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8"
                            "wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"));
  EXPECT_FALSE(BcryptVerify("U*U", "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(BcryptVerify("U*U", "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(BcryptVerify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe"));
  EXPECT_FALSE(BcryptVerify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC!E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(BcryptVerify("", ""));
  EXPECT_FALSE(BcryptVerify("*0", "*0"));
}

TEST(BasicAuthenticator, RightWrongAbsentAndCached) {
  const std::string hash = Htpasswd("alice", "s3cret", 4);
  REQUIRE_HTPASSWD(hash);
  BasicAuthenticator auth({{"alice", hash}});
  EXPECT_TRUE(auth.required());
  EXPECT_FALSE(BasicAuthenticator({}).required());

  EXPECT_FALSE(auth.Check(""));
  EXPECT_FALSE(auth.Check("Basic !!!"));
  EXPECT_EQ(auth.bcrypt_checks(), 0u);  // malformed: no bcrypt spent

  EXPECT_TRUE(auth.Check(BasicHeader("alice:s3cret")));
  EXPECT_EQ(auth.bcrypt_checks(), 1u);
  EXPECT_TRUE(auth.Check(BasicHeader("alice:s3cret")));
  EXPECT_EQ(auth.bcrypt_checks(), 1u);  // the second is from the cache

  // Failures are not cached: each costs a bcrypt, so a guess is never cheap.
  EXPECT_FALSE(auth.Check(BasicHeader("alice:s3cre")));
  EXPECT_FALSE(auth.Check(BasicHeader("alice:s3cre")));
  EXPECT_EQ(auth.bcrypt_checks(), 3u);

  // An unknown user costs a bcrypt too (the dummy hash), and is refused even with alice's
  // password or the dummy's.
  EXPECT_FALSE(auth.Check(BasicHeader("mallory:s3cret")));
  EXPECT_FALSE(auth.Check(BasicHeader("mallory:fakepassword")));
  EXPECT_EQ(auth.bcrypt_checks(), 5u);
  EXPECT_FALSE(auth.Check(BasicHeader("Alice:s3cret")));
}

TEST(BasicAuthenticator, CacheIsBounded) {
  const std::string hash = Htpasswd("x", "pw", 4);
  REQUIRE_HTPASSWD(hash);
  std::map<std::string, std::string> users;
  for (int i = 0; i <= 1024; ++i) users["user" + std::to_string(i)] = hash;
  BasicAuthenticator auth(users);
  for (int i = 0; i < 1024; ++i)
    ASSERT_TRUE(auth.Check(BasicHeaderFast("user" + std::to_string(i) + ":pw")));
  EXPECT_EQ(auth.bcrypt_checks(), 1024u);
  EXPECT_TRUE(auth.Check(BasicHeaderFast("user0:pw")));
  EXPECT_EQ(auth.bcrypt_checks(), 1024u);                   // all 1024 cached
  EXPECT_TRUE(auth.Check(BasicHeaderFast("user1024:pw")));  // full: cleared, then this one cached
  EXPECT_EQ(auth.bcrypt_checks(), 1025u);
  EXPECT_TRUE(auth.Check(BasicHeaderFast("user1024:pw")));
  EXPECT_EQ(auth.bcrypt_checks(), 1025u);
  EXPECT_TRUE(auth.Check(BasicHeaderFast("user0:pw")));
  EXPECT_EQ(auth.bcrypt_checks(), 1026u);  // was dropped by the clear
}

}  // namespace
}  // namespace podstat::http
