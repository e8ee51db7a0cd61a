#include "podstat/http/web_config.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace podstat::http {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(PODSTAT_FIXTURES_DIR) / "web_config";

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// Exit status and output of a shell command.
std::pair<int, std::string> RunShell(const std::string& command) {
  std::FILE* pipe = ::popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// A temp folder with every fixture and the files they name: server.crt/server.key (a real
// self-signed P-256 pair), ca.crt (that certificate as a client CA) and other.key (a key of
// another pair).
class WebConfigFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/podstat-webcfg-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    for (const auto& entry : fs::directory_iterator(kFixtures))
      fs::copy_file(entry.path(), dir_ / entry.path().filename());
    const auto [status, output] = RunShell(
        "cd " + dir_.string() +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
        " -days 2 -keyout server.key -out server.crt && cp server.crt ca.crt"
        " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out other.key");
    ASSERT_EQ(status, 0) << "openssl (Debian: openssl) could not make the test certificates: "
                         << output;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<fs::path> Fixtures() const {
    std::vector<fs::path> fixtures;
    for (const auto& entry : fs::directory_iterator(dir_))
      if (entry.path().extension() == ".yml") fixtures.push_back(entry.path());
    std::sort(fixtures.begin(), fixtures.end());
    return fixtures;
  }

  // Whether podstat takes the file, as at startup: parse, then the cert and key files.
  static bool PodstatAccepts(const fs::path& path, std::string* error) {
    Logger logger(LogLevel::kError);
    return WebConfigWatcher::Open(path.string(), logger, error) != nullptr;
  }

  fs::path dir_;
};

// The oracle: `promtool check web-config` of prometheus 2.42 runs exporter-toolkit's own
// validation. good_* and bad_* fixtures get the same verdict from both; stricter_* are the
// cases podstat refuses on purpose though exporter-toolkit takes them (each says why).
TEST_F(WebConfigFixtures, VerdictAgreesWithPromtool) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIPPED LOUDLY: promtool is not installed (Debian: apt-get install "
                    "prometheus; scripts/install-deps.sh installs it), so the web config "
                    "fixtures are not checked against exporter-toolkit";
  int checked = 0;
  for (const fs::path& fixture : Fixtures()) {
    const std::string name = fixture.filename().string();
    const auto [status, output] =
        RunShell("cd " + dir_.string() + " && promtool check web-config " + name);
    const bool promtool_accepts = status == 0;
    std::string error;
    const bool podstat_accepts = PodstatAccepts(fixture, &error);
    if (name.rfind("stricter_", 0) == 0) {
      EXPECT_TRUE(promtool_accepts) << name << ": promtool now refuses it too: " << output;
      EXPECT_FALSE(podstat_accepts) << name;
    } else {
      EXPECT_EQ(podstat_accepts, promtool_accepts)
          << name << ": podstat says " << (podstat_accepts ? "ok" : error) << "; promtool says "
          << output;
    }
    ++checked;
  }
  EXPECT_GE(checked, 50);
}

// Without promtool, the fixtures' names still tell the verdict, and every refusal names the
// file it is about.
TEST_F(WebConfigFixtures, VerdictMatchesFixtureName) {
  for (const fs::path& fixture : Fixtures()) {
    const std::string name = fixture.filename().string();
    std::string error;
    const bool accepted = PodstatAccepts(fixture, &error);
    if (name.rfind("good_", 0) == 0) {
      EXPECT_TRUE(accepted) << name << ": " << error;
    } else {
      EXPECT_FALSE(accepted) << name;
      EXPECT_NE(error.find(name), std::string::npos) << name << ": " << error;
    }
  }
}

TEST_F(WebConfigFixtures, AllKeysParsed) {
  std::string error;
  Logger logger(LogLevel::kError);
  auto watcher = WebConfigWatcher::Open((dir_ / "good_tls_all_keys.yml").string(), logger, &error);
  ASSERT_NE(watcher, nullptr) << error;
  const auto config = watcher->Current();
  ASSERT_TRUE(config->tls);
  const TlsServerConfig& tls = *config->tls;
  EXPECT_EQ(tls.cert_file, (dir_ / "server.crt").string());
  EXPECT_EQ(tls.key_file, (dir_ / "server.key").string());
  EXPECT_EQ(tls.client_ca_file, (dir_ / "ca.crt").string());
  EXPECT_EQ(tls.client_auth, ClientAuth::kRequireAndVerify);
  EXPECT_EQ(tls.min_version, TlsVersion::kTls12);
  EXPECT_EQ(tls.max_version, TlsVersion::kTls13);
  EXPECT_EQ(tls.cipher_suites.size(), 3u);
  // The TLS 1.3 suite is left out, as Go leaves it out.
  EXPECT_EQ(tls.openssl_cipher_list, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305");
  EXPECT_EQ(tls.openssl_groups_list, "X25519:P-256");
  EXPECT_FALSE(tls.prefer_server_cipher_suites);
  EXPECT_FALSE(config->http2);
  ASSERT_EQ(config->headers.size(), 1u);
  EXPECT_EQ(config->headers[0],
            std::make_pair(std::string("X-Frame-Options"), std::string("deny")));
  EXPECT_EQ(config->basic_auth_users.size(), 1u);

  // Every name OpenSSL is handed is one it knows: the list it builds is not empty.
  const auto [status, output] = RunShell("openssl ciphers '" + tls.openssl_cipher_list + "'");
  EXPECT_EQ(status, 0) << output;
}

std::optional<WebConfig> Parse(const std::string& text, std::string* error) {
  return ParseWebConfig(text, "/etc/podstat", error);
}

TEST(ParseWebConfig, DefaultsAndEmpty) {
  std::string error;
  auto config = Parse("", &error);
  ASSERT_TRUE(config) << error;
  EXPECT_FALSE(config->tls);
  EXPECT_TRUE(config->basic_auth_users.empty());
  EXPECT_TRUE(config->headers.empty());
  EXPECT_TRUE(config->http2);

  config = Parse("tls_server_config:\n  cert_file: a.crt\n  key_file: /abs/a.key\n", &error);
  ASSERT_TRUE(config && config->tls) << error;
  EXPECT_EQ(config->tls->cert_file, "/etc/podstat/a.crt");  // relative: from the file's folder
  EXPECT_EQ(config->tls->key_file, "/abs/a.key");
  EXPECT_EQ(config->tls->client_auth, ClientAuth::kNone);
  EXPECT_EQ(config->tls->min_version, TlsVersion::kTls12);
  EXPECT_FALSE(config->tls->max_version);
  EXPECT_TRUE(config->tls->prefer_server_cipher_suites);
  EXPECT_TRUE(config->tls->openssl_cipher_list.empty());
}

TEST(ParseWebConfig, EnumsByName) {
  const std::pair<const char*, ClientAuth> auth_types[] = {
      {"NoClientCert", ClientAuth::kNone},
      {"RequestClientCert", ClientAuth::kRequestAny},
      {"RequireAnyClientCert", ClientAuth::kRequireAny},
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerify},
  };
  for (const auto& [name, expected] : auth_types) {
    std::string error;
    const bool verifies =
        expected == ClientAuth::kVerifyIfGiven || expected == ClientAuth::kRequireAndVerify;
    const std::string text = std::string("tls_server_config:\n  cert_file: c\n  key_file: k\n") +
                             "  client_auth_type: " + name + "\n" +
                             (verifies ? "  client_ca_file: ../ca/ca.crt\n" : "");
    auto config = Parse(text, &error);
    ASSERT_TRUE(config && config->tls) << name << ": " << error;
    EXPECT_EQ(config->tls->client_auth, expected) << name;
    if (verifies) {
      EXPECT_EQ(config->tls->client_ca_file, "/etc/ca/ca.crt");
    }
  }
  const std::pair<const char*, TlsVersion> versions[] = {{"TLS10", TlsVersion::kTls10},
                                                         {"TLS11", TlsVersion::kTls11},
                                                         {"TLS12", TlsVersion::kTls12},
                                                         {"TLS13", TlsVersion::kTls13}};
  for (const auto& [name, expected] : versions) {
    std::string error;
    auto config = Parse(std::string("tls_server_config:\n  cert_file: c\n  key_file: k\n") +
                            "  min_version: " + name + "\n  max_version: TLS13\n",
                        &error);
    ASSERT_TRUE(config && config->tls) << name << ": " << error;
    EXPECT_EQ(config->tls->min_version, expected);
  }
}

TEST(ParseWebConfig, ErrorsNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"tls_config: {}\n", "tls_config: unknown key"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  bogus: 1\n",
       "tls_server_config.bogus: unknown key"},
      {"rate_limit:\n  burst: 1\n", "rate_limit: not supported by podstat"},
      {"tls_server_config:\n  client_allowed_sans: [a]\n",
       "tls_server_config.client_allowed_sans: not supported by podstat"},
      {"tls_server_config:\n  cert: x\n", "tls_server_config.cert: not supported by podstat"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS14\n",
       "tls_server_config.min_version: unknown TLS version \"TLS14\""},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n",
       "tls_server_config.client_ca_file: set without a client_auth_type"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: "
       "RequireAndVerifyClientCert\n",
       "needs client_ca_file"},
      {"tls_server_config:\n  cert_file: c\n", "tls_server_config: missing key_file"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  cert_file: d\n",
       "tls_server_config.cert_file: duplicate key"},
      {"basic_auth_users:\n  alice: secret\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"http_server_config:\n  headers:\n    Server: x\n",
       "http_server_config.headers.Server: this HTTP header can not be configured"},
      {"http_server_config:\n  http2: maybe\n", "http_server_config.http2: expected true or false"},
      {"tls_server_config: [\n", "invalid YAML"},
      {"- a\n", "the top level must be a mapping"},
  };
  for (const auto& [text, expected] : cases) {
    std::string error;
    EXPECT_FALSE(Parse(text, &error)) << text;
    EXPECT_NE(error.find(expected), std::string::npos) << text << " gave: " << error;
  }
}

TEST(ParseWebConfig, HostileInputIsAnErrorNotACrash) {
  const std::string cases[] = {
      std::string(200000, '['),
      "a: &a [*a, *a]\n",
      "tls_server_config: !!binary AAAA\n",
      std::string("basic_auth_users:\n  \"\\0\": \"\\0\"\n"),
      "? [a, b]\n: c\n",
      "basic_auth_users:\n  ? [x]\n  : y\n",
  };
  for (const std::string& text : cases) {
    std::string error;
    EXPECT_FALSE(Parse(text, &error)) << text.substr(0, 40);
    EXPECT_FALSE(error.empty());
  }
}

TEST(ParseWebConfig, HeadersKeepOrderAndSkipBlank) {
  std::string error;
  auto config = Parse(
      "http_server_config:\n  headers:\n    X-XSS-Protection: '0'\n"
      "    Content-Security-Policy: ''\n    X-Content-Type-Options: nosniff\n",
      &error);
  ASSERT_TRUE(config) << error;
  ASSERT_EQ(config->headers.size(), 2u);
  EXPECT_EQ(config->headers[0].first, "X-XSS-Protection");
  EXPECT_EQ(config->headers[0].second, "0");
  EXPECT_EQ(config->headers[1].first, "X-Content-Type-Options");
}

class WebConfigWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/podstat-webcfg-watch-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    log_ = std::tmpfile();
    ASSERT_NE(log_, nullptr);
    logger_ = std::make_unique<Logger>(LogLevel::kInfo, log_);
  }
  void TearDown() override {
    logger_.reset();
    std::fclose(log_);
    fs::remove_all(dir_);
  }
  std::string Log() {
    std::fflush(log_);
    std::rewind(log_);
    std::string text;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), log_)) > 0) text.append(buffer, n);
    std::fseek(log_, 0, SEEK_END);
    return text;
  }
  static size_t Count(const std::string& text, const std::string& needle) {
    size_t count = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
      ++count;
    return count;
  }

  fs::path dir_;
  std::FILE* log_ = nullptr;
  std::unique_ptr<Logger> logger_;
};

const char kAliceHash[] = "$2y$04$M70GVOVqK2tOuLyEnxqUlOzg.iIf44XZG355P9Spdz04wHeJ.fePS";

TEST_F(WebConfigWatcherTest, BadEditKeepsLastGoodConfig) {
  const fs::path path = dir_ / "web.yml";
  WriteText(path, std::string("basic_auth_users:\n  alice: ") + kAliceHash + "\n");
  std::string error;
  auto watcher = WebConfigWatcher::Open(path.string(), *logger_, &error);
  ASSERT_NE(watcher, nullptr) << error;
  const auto first = watcher->Current();
  EXPECT_EQ(first->basic_auth_users.count("alice"), 1u);
  EXPECT_FALSE(watcher->Reload());  // unchanged

  WriteText(path, "basic_auth_users:\n  alice: plaintext-password\n");
  EXPECT_FALSE(watcher->Reload());
  EXPECT_EQ(watcher->Current(), first);
  EXPECT_FALSE(watcher->Reload());
  std::string log = Log();
  EXPECT_EQ(Count(log, "keeping the last good one"), 1u) << log;  // once per change
  EXPECT_NE(log.find("basic_auth_users.alice"), std::string::npos) << log;
  EXPECT_EQ(log.find("plaintext-password"), std::string::npos) << "a secret was logged: " << log;

  WriteText(path, std::string("basic_auth_users:\n  bob: ") + kAliceHash + "\n");
  EXPECT_TRUE(watcher->Reload());
  const auto second = watcher->Current();
  EXPECT_EQ(second->basic_auth_users.count("alice"), 0u);
  EXPECT_EQ(second->basic_auth_users.count("bob"), 1u);
  EXPECT_EQ(first->basic_auth_users.count("alice"), 1u);  // a holder's copy is untouched

  // Removed: kept, logged once. Back (a new inode): taken.
  fs::remove(path);
  EXPECT_FALSE(watcher->Reload());
  EXPECT_FALSE(watcher->Reload());
  EXPECT_EQ(watcher->Current(), second);
  log = Log();
  EXPECT_EQ(Count(log, "keeping the last good one"), 2u) << log;
  WriteText(path, "");
  EXPECT_TRUE(watcher->Reload());
  EXPECT_TRUE(watcher->Current()->basic_auth_users.empty());
}

TEST_F(WebConfigWatcherTest, OpenRefusesABadFile) {
  const fs::path path = dir_ / "web.yml";
  std::string error;
  EXPECT_EQ(WebConfigWatcher::Open(path.string(), *logger_, &error), nullptr);
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
  WriteText(path, "tls_server_config:\n  cert_file: absent.crt\n  key_file: absent.key\n");
  EXPECT_EQ(WebConfigWatcher::Open(path.string(), *logger_, &error), nullptr);
  EXPECT_NE(error.find("tls_server_config.cert_file"), std::string::npos) << error;
  EXPECT_NE(error.find((dir_ / "absent.crt").string()), std::string::npos) << error;
}

}  // namespace
}  // namespace podstat::http
