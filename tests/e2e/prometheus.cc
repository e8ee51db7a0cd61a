#include "prometheus.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "docker.h"  // kRequireDockerEnv: ctest sets it for every e2e test

namespace podstat::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(5);

[[noreturn]] void ThrowErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) ThrowErrno("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteWholeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path);
  out << data;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string Trim(std::string text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// Prometheus writes sample values as JSON strings ("1", "NaN", "+Inf").
double ParseValue(const std::string& text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  size_t used = 0;
  const double value = std::stod(text, &used);
  if (used != text.size()) throw std::runtime_error("bad sample value '" + text + "'");
  return value;
}

}  // namespace

PrometheusStatus CheckPrometheus(std::string* path, std::string* reason) {
  const bool required = std::getenv(kRequireDockerEnv) != nullptr;
  const PrometheusStatus unusable = required ? PrometheusStatus::kFail : PrometheusStatus::kSkip;
  const std::string why_required =
      required ? std::string(" (") + kRequireDockerEnv +
                     " is set: under ctest `make test` has installed prometheus)"
               : "";
  std::string binary;
  for (const char* candidate : {"prometheus", "/usr/bin/prometheus"}) {
    CommandResult which;
    try {
      which = RunCommand({"sh", "-c", "command -v \"$0\"", candidate}, "");
    } catch (const std::exception& e) {
      *reason = std::string("cannot run sh: ") + e.what() + why_required;
      return unusable;
    }
    if (which.exited_zero() && !Trim(which.output).empty()) {
      binary = Trim(which.output);
      break;
    }
  }
  if (binary.empty()) {
    *reason = "no prometheus binary in PATH or at /usr/bin/prometheus" + why_required;
    return unusable;
  }
  const CommandResult version = RunCommand({"timeout", "30", binary, "--version"}, "");
  if (!version.exited_zero() || version.output.find("prometheus, version") == std::string::npos) {
    *reason = binary + " --version failed (" + DescribeWaitStatus(version.wait_status) +
              "): " + Trim(version.output) + why_required;
    return unusable;
  }
  *path = binary;
  return PrometheusStatus::kUsable;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

PrometheusServer::PrometheusServer(const std::string& binary, const std::string& config,
                                   std::vector<std::string> extra_flags, uint16_t port,
                                   PrometheusWeb web)
    : port_(port != 0 ? port : FreeTcpPort()), client_(std::move(web.client)) {
  char dir_template[] = "/tmp/podstat-prometheus-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) ThrowErrno("mkdtemp");
  dir_ = dir_template;
  log_path_ = dir_ + "/prometheus.log";
  const std::string config_path = dir_ + "/prometheus.yml";
  WriteWholeFile(config_path, config);

  std::vector<std::string> args = {binary, "--config.file=" + config_path,
                                   "--storage.tsdb.path=" + dir_ + "/data",
                                   "--web.listen-address=" + address(), "--log.level=info"};
  if (!web.config_yaml.empty()) {
    const std::string web_config_path = dir_ + "/web.yml";
    WriteWholeFile(web_config_path, web.config_yaml);
    args.push_back("--web.config.file=" + web_config_path);
  }
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  Fd log(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (log.get() < 0) ThrowErrno("open " + log_path_);
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null.get() < 0) ThrowErrno("open /dev/null");

  std::cout.flush();
  std::cerr.flush();
  pid_ = ::fork();
  if (pid_ < 0) ThrowErrno("fork");
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::dup2(null.get(), 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0 ||
        ::chdir(dir_template) != 0) {
      ::_exit(127);
    }
    ::close_range(3, std::numeric_limits<unsigned>::max(), 0);
    ::execv(argv[0], argv.data());
    static const char kMessage[] = "exec of prometheus failed\n";
    [[maybe_unused]] ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from the parent, so the group exists before we signal it

  const auto start = Clock::now();
  std::string last_error = "no answer yet";
  while (Clock::now() - start < kReadyTimeout) {
    if (Reap(false)) {
      throw std::runtime_error("prometheus exited before it was ready (" +
                               DescribeWaitStatus(*wait_status_) + "); its log:\n" + Log());
    }
    try {
      const HttpResponse response = CurlRequest(base_url() + "/-/ready", client_);
      if (response.status == 200) {
        std::cout << "prometheus on " << address() << " ready after "
                  << std::chrono::duration_cast<milliseconds>(Clock::now() - start).count()
                  << " ms\n";
        return;
      }
      last_error = "GET /-/ready answered " + std::to_string(response.status);
    } catch (const std::exception& e) {
      last_error = e.what();  // not listening yet
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  throw std::runtime_error("prometheus not ready within 30 s (" + last_error + "); its log:\n" +
                           Log());
}

PrometheusServer::~PrometheusServer() {
  if (pid_ > 0 && !Reap(false)) {
    ::kill(-pid_, SIGTERM);
    const auto deadline = Clock::now() + kStopTimeout;
    while (!Reap(false) && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
    if (!Reap(false)) {
      ::kill(-pid_, SIGKILL);
      Reap(true);
      std::cerr << "prometheus did not exit within 5 s of SIGTERM; killed\n";
    }
  }
  if (::testing::Test::HasFailure()) {
    constexpr size_t kTail = 32 * 1024;
    const std::string log = Log();
    std::cerr << "---- prometheus log (" << log_path_ << ", last " << kTail << " bytes) ----\n"
              << (log.size() > kTail ? log.substr(log.size() - kTail) : log)
              << "\n---- end of prometheus log ----\n";
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string PrometheusServer::address() const { return "127.0.0.1:" + std::to_string(port_); }

std::string PrometheusServer::base_url() const {
  return (client_.ca_file.empty() ? "http://" : "https://") + address();
}

bool PrometheusServer::Reap(bool block) {
  if (wait_status_) return true;
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped != pid_) return false;
  wait_status_ = status;
  return true;
}

std::vector<Sample> PrometheusServer::Query(const std::string& expr) const {
  const HttpResponse response =
      CurlRequest(base_url() + "/api/v1/query?query=" + UrlEncode(expr), client_);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(response.body);
  } catch (const std::exception& e) {
    throw std::runtime_error("query " + expr + ": HTTP " + std::to_string(response.status) +
                             ", not JSON (" + e.what() + "): " + response.body.substr(0, 500));
  }
  if (response.status != 200 || json.value("status", "") != "success") {
    throw std::runtime_error("query " + expr + ": HTTP " + std::to_string(response.status) + ": " +
                             response.body.substr(0, 500));
  }
  const nlohmann::json& data = json.at("data");
  if (data.at("resultType") != "vector") {
    throw std::runtime_error("query " + expr + ": result is a " +
                             data.at("resultType").get<std::string>() + ", not a vector");
  }
  std::vector<Sample> samples;
  for (const nlohmann::json& element : data.at("result")) {
    Sample sample;
    for (const auto& [name, value] : element.at("metric").items()) {
      if (name == "__name__") {
        sample.name = value.get<std::string>();
      } else {
        sample.labels[name] = value.get<std::string>();
      }
    }
    sample.value = ParseValue(element.at("value").at(1).get<std::string>());
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::string PrometheusServer::Log() const {
  try {
    return ReadWholeFile(log_path_);
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string PodstatScrapeJob(const Agent& agent) {
  return "  - job_name: podstat\n"
         "    static_configs:\n"
         "      - targets: ['" +
         agent.address() +
         "']\n"
         "    metric_relabel_configs:\n"
         "      - source_labels: [relay]\n"
         "        regex: .+\n"
         "        action: drop\n";
}

}  // namespace podstat::testing
