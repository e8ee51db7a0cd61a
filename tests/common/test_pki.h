// A throw-away PKI for the TLS tests, made with the openssl CLI (Debian: openssl): a CA, a server
// certificate it signs for localhost, 127.0.0.1 and ::1, a client certificate it signs, and a
// client certificate signed by another CA (the wrong one). Go ignores a certificate's CN, so the
// names are in subjectAltName, where Prometheus looks.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace podstat::testing {

struct TestPki {
  std::filesystem::path dir;
  std::string ca_cert, server_cert, server_key, client_cert, client_key;
  std::string rogue_client_cert, rogue_client_key;  // signed by a CA the server does not trust
};

// Writes the files into dir (which must exist). Throws with the openssl output on failure.
inline TestPki MakeTestPki(const std::filesystem::path& dir) {
  TestPki pki;
  pki.dir = dir;
  auto path = [&](const char* name) { return (dir / name).string(); };
  {
    std::ofstream server_ext(path("server.ext"));
    server_ext << "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                  "extendedKeyUsage=serverAuth\n";
    std::ofstream client_ext(path("client.ext"));
    client_ext << "extendedKeyUsage=clientAuth\n";
  }
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2";
  auto ca = [&](const std::string& name) {
    return "openssl req -x509" + ec + " -subj /CN=" + name + " -keyout " + name + ".key -out " +
           name + ".crt";
  };
  auto leaf = [&](const std::string& name, const std::string& cn, const std::string& issuer,
                  const std::string& ext) {
    return "openssl req" + ec + " -subj /CN=" + cn + " -keyout " + name + ".key -out " + name +
           ".csr && openssl x509 -req -in " + name + ".csr -CA " + issuer + ".crt -CAkey " +
           issuer + ".key -CAcreateserial -days 2 -extfile " + ext + " -out " + name + ".crt";
  };
  const std::string script =
      "cd '" + dir.string() + "' && (" + ca("test-ca") + " && " + ca("rogue-ca") + " && " +
      leaf("server", "localhost", "test-ca", "server.ext") + " && " +
      leaf("client", "podstat-test-client", "test-ca", "client.ext") + " && " +
      leaf("rogue", "rogue-client", "rogue-ca", "client.ext") + ") >openssl.log 2>&1";
  if (std::system(script.c_str()) != 0) {
    std::ifstream log(path("openssl.log"));
    throw std::runtime_error("openssl could not make the test PKI: " +
                             std::string(std::istreambuf_iterator<char>(log), {}));
  }
  pki.ca_cert = path("test-ca.crt");
  pki.server_cert = path("server.crt");
  pki.server_key = path("server.key");
  pki.client_cert = path("client.crt");
  pki.client_key = path("client.key");
  pki.rogue_client_cert = path("rogue.crt");
  pki.rogue_client_key = path("rogue.key");
  return pki;
}

// A bcrypt hash of password from apache2-utils' htpasswd (an implementation independent of the
// libxcrypt podstat verifies with). Throws if htpasswd is missing.
inline std::string HtpasswdBcrypt(const std::string& password, int cost = 5) {
  const std::string command =
      "htpasswd -nbBC " + std::to_string(cost) + " user '" + password + "' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen htpasswd");
  std::string output;
  char buffer[256];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  if (::pclose(pipe) != 0 || output.find(':') == std::string::npos) {
    throw std::runtime_error("htpasswd (Debian: apache2-utils) failed: " + output);
  }
  std::string hash = output.substr(output.find(':') + 1);
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
  return hash;
}

}  // namespace podstat::testing
