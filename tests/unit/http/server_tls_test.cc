// The HTTP listener under a web config, with curl as the independent client: TLS with and
// without client certificates (right, wrong, absent), TLS versions, basic auth (right, wrong,
// absent), configured headers, and a reload that takes a good edit and keeps the last good
// config over a bad one.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/test_pki.h"
#include "podstat/http/server.h"

namespace podstat::http {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct CurlResult {
  int exit_code = -1;
  std::string output;  // body, then the status code on the last line (-w)
  int status() const {
    const size_t newline = output.rfind('\n');
    return std::atoi(output.c_str() + (newline == std::string::npos ? 0 : newline + 1));
  }
};

CurlResult Curl(const std::string& arguments) {
  const std::string command = "curl -sS --max-time 10 -w '\\n%{http_code}' " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  CurlResult result;
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool HaveTools() {
  return std::system(
             "command -v curl >/dev/null && command -v openssl >/dev/null && "
             "command -v htpasswd >/dev/null") == 0;
}

// 200 KB handed out as a response's shared prefix.
std::shared_ptr<const std::string> Prefix() {
  static const auto prefix = std::make_shared<const std::string>(200'000, 'p');
  return prefix;
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTools()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: curl, openssl and htpasswd are needed (Debian: curl "
                      "openssl apache2-utils; make test installs them)";
    }
    char pattern[] = "/tmp/podstat-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    pki_ = testing::MakeTestPki(dir_);
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void WriteConfig(const std::string& yaml) {
    // Written aside and renamed in, so the watcher never reads half a file.
    const fs::path tmp = dir_ / "web.yml.tmp";
    std::ofstream(tmp) << yaml;
    fs::rename(tmp, dir_ / "web.yml");
  }

  std::string TlsBlock(const std::string& client_auth) const {
    std::string yaml = "tls_server_config:\n  cert_file: " + pki_.server_cert +
                       "\n  key_file: " + pki_.server_key + "\n";
    if (client_auth != "NoClientCert") {
      yaml += "  client_ca_file: " + pki_.ca_cert + "\n  client_auth_type: " + client_auth + "\n";
    }
    return yaml;
  }

  void Start(const std::string& yaml) {
    WriteConfig(yaml);
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.web_config_file = (dir_ / "web.yml").string();
    options.web_config_check_interval = 50ms;
    std::vector<Route> routes = {{"/metrics",
                                  "GET",
                                  [](const Request&) {
                                    return Response{200, "text/plain", "m 1\n", {}};
                                  },
                                  {}},
                                 {"/prefixed",
                                  "GET",
                                  [](const Request&) {
                                    return Response{200, "text/plain", "tail\n", {}, Prefix()};
                                  },
                                  {}}};
    std::string error;
    server_ = Server::Start(options, std::move(routes), logger_, &error);
    ASSERT_TRUE(server_) << error;
  }

  std::string Https(const std::string& path = "/metrics") const {
    return "--cacert " + pki_.ca_cert + " https://127.0.0.1:" + std::to_string(server_->port()) +
           path;
  }
  std::string ClientCert() const {
    return " --cert " + pki_.client_cert + " --key " + pki_.client_key;
  }
  std::string RogueCert() const {
    return " --cert " + pki_.rogue_client_cert + " --key " + pki_.rogue_client_key;
  }

  template <typename Predicate>
  bool WaitFor(Predicate predicate) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!predicate()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  Logger logger_{LogLevel::kError};
  fs::path dir_;
  testing::TestPki pki_;
  std::unique_ptr<Server> server_;
};

TEST_F(TlsServerTest, TlsWithoutClientCertificates) {
  Start(TlsBlock("NoClientCert"));
  const auto ok = Curl(Https());
  EXPECT_EQ(ok.status(), 200) << ok.output;
  EXPECT_TRUE(ok.output.starts_with("m 1\n")) << ok.output;
  // A shared prefix (many TLS records of it) then the body.
  const auto prefixed = Curl(Https("/prefixed"));
  EXPECT_EQ(prefixed.status(), 200);
  EXPECT_TRUE(prefixed.output.starts_with(*Prefix() + "tail\n")) << prefixed.output.size();
  // Plain HTTP to a TLS port is not served.
  const auto plain = Curl("http://127.0.0.1:" + std::to_string(server_->port()) + "/metrics");
  EXPECT_NE(plain.status(), 200) << plain.output;
  // An untrusted server certificate is refused by the client: the server really sent ours.
  const auto untrusted = Curl("https://127.0.0.1:" + std::to_string(server_->port()) + "/metrics");
  EXPECT_NE(untrusted.exit_code, 0) << untrusted.output;
  EXPECT_EQ(server_->Describe(), "https (client certificates: NoClientCert), no authentication");
}

TEST_F(TlsServerTest, RequiredClientCertificateRightWrongAndAbsent) {
  Start(TlsBlock("RequireAndVerifyClientCert"));
  const auto right = Curl(Https() + ClientCert());
  EXPECT_EQ(right.status(), 200) << right.output;
  const auto wrong = Curl(Https() + RogueCert());
  EXPECT_NE(wrong.status(), 200) << wrong.output;
  const auto absent = Curl(Https());
  EXPECT_NE(absent.status(), 200) << absent.output;
  // Counted on the I/O thread once the failed handshake completes, which may follow the alert.
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().tls_handshake_failures >= 2; }));
}

TEST_F(TlsServerTest, VerifyClientCertIfGiven) {
  Start(TlsBlock("VerifyClientCertIfGiven"));
  EXPECT_EQ(Curl(Https() + ClientCert()).status(), 200);
  EXPECT_EQ(Curl(Https()).status(), 200);
  EXPECT_NE(Curl(Https() + RogueCert()).status(), 200);
}

TEST_F(TlsServerTest, MinVersionTls13RefusesTls12) {
  Start(TlsBlock("NoClientCert") + "  min_version: TLS13\n");
  EXPECT_EQ(Curl("--tlsv1.3 " + Https()).status(), 200);
  const auto old = Curl("--tls-max 1.2 " + Https());
  EXPECT_NE(old.status(), 200) << old.output;
}

TEST_F(TlsServerTest, BasicAuthRightWrongAndAbsent) {
  const std::string hash = testing::HtpasswdBcrypt("s3cret");
  Start(TlsBlock("NoClientCert") + "basic_auth_users:\n  prometheus: " + hash + "\n");
  EXPECT_EQ(Curl(Https() + " -u prometheus:s3cret").status(), 200);
  // The second time comes from the cache of verified credentials; it must still be right.
  EXPECT_EQ(Curl(Https() + " -u prometheus:s3cret").status(), 200);
  const auto wrong = Curl(Https() + " -u prometheus:guess -D -");
  EXPECT_EQ(wrong.status(), 401) << wrong.output;
  EXPECT_NE(wrong.output.find("WWW-Authenticate: Basic"), std::string::npos) << wrong.output;
  EXPECT_EQ(Curl(Https() + " -u nobody:s3cret").status(), 401);
  EXPECT_EQ(Curl(Https()).status(), 401);
  EXPECT_EQ(server_->Stats().auth_failures, 3u);
}

TEST_F(TlsServerTest, ConfiguredHeadersAreSent) {
  Start(TlsBlock("NoClientCert") +
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        "    Strict-Transport-Security: max-age=31536000\n");
  const auto reply = Curl("-D - " + Https());
  EXPECT_NE(reply.output.find("X-Frame-Options: deny"), std::string::npos) << reply.output;
  EXPECT_NE(reply.output.find("Strict-Transport-Security: max-age=31536000"), std::string::npos)
      << reply.output;
}

TEST_F(TlsServerTest, ReloadTakesAGoodEditAndKeepsTheLastGoodOverABadOne) {
  Start(TlsBlock("NoClientCert"));
  EXPECT_EQ(Curl(Https()).status(), 200);
  // Good edit: basic auth is now required, for new connections.
  WriteConfig(TlsBlock("NoClientCert") +
              "basic_auth_users:\n  p: " + testing::HtpasswdBcrypt("pw") + "\n");
  EXPECT_TRUE(WaitFor([&] { return Curl(Https()).status() == 401; }));
  EXPECT_EQ(Curl(Https() + " -u p:pw").status(), 200);
  EXPECT_TRUE(server_->Stats().web_config_last_reload_ok);
  // Bad edit (an unknown key): the running config stays, and the failure is visible.
  WriteConfig(TlsBlock("NoClientCert") + "basic_auth_userz:\n  p: x\n");
  EXPECT_TRUE(WaitFor([&] { return !server_->Stats().web_config_last_reload_ok; }));
  EXPECT_EQ(Curl(Https()).status(), 401);
  EXPECT_EQ(Curl(Https() + " -u p:pw").status(), 200);
  // Fixed again.
  WriteConfig(TlsBlock("NoClientCert"));
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().web_config_last_reload_ok; }));
  EXPECT_EQ(Curl(Https()).status(), 200);
}

TEST_F(TlsServerTest, ARotatedCertificateIsTakenWithoutAConfigChange) {
  Start(TlsBlock("NoClientCert"));
  EXPECT_EQ(Curl(Https()).status(), 200);
  // A new CA and server pair written over the same paths, as cert-manager does.
  const fs::path next = dir_ / "next";
  fs::create_directory(next);
  const testing::TestPki rotated = testing::MakeTestPki(next);
  fs::copy_file(rotated.server_key, pki_.server_key, fs::copy_options::overwrite_existing);
  fs::copy_file(rotated.server_cert, pki_.server_cert, fs::copy_options::overwrite_existing);
  const std::string with_new_ca = "--cacert " + rotated.ca_cert +
                                  " https://127.0.0.1:" + std::to_string(server_->port()) +
                                  "/metrics";
  EXPECT_TRUE(WaitFor([&] { return Curl(with_new_ca).status() == 200; }));
  EXPECT_NE(Curl(Https()).status(), 200);  // the old CA no longer matches
}

TEST(WebConfigAtStart, ABadFileIsAClearError) {
  char pattern[] = "/tmp/podstat-webcfg-start-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const fs::path dir = pattern;
  std::ofstream(dir / "web.yml") << "tls_server_config:\n  cert_file: /nonexistent.crt\n"
                                    "  key_file: /nonexistent.key\n";
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.web_config_file = (dir / "web.yml").string();
  Logger logger(LogLevel::kError);
  std::string error;
  EXPECT_EQ(Server::Start(options, {}, logger, &error), nullptr);
  EXPECT_NE(error.find("nonexistent.crt"), std::string::npos) << error;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace podstat::http
