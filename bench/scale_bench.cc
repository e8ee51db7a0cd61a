// The scale benchmark of issue 14 (`make bench`, `make bench N=1000`): N pseudo-containers, the
// /proc/<pid>/net scan that cAdvisor and the seeds run as the baseline, and podstat measured
// against it in the same run, on the same containers.
//
// Each pseudo-container is a cgroup in the kubelet's cgroupfs layout,
//   <test cgroup>/kubepods/burstable/pod<uid>/<64 hex container id>
// in the cgroup v2 hierarchy and, at the same path, in every v1 hierarchy the kubelet uses (cpu,
// cpuacct, memory, pids when mounted: a hybrid host), holding one process in its own network
// namespace with 2 TCP listeners, 4 established loopback pairs and 1 UDP socket. The cgroups,
// namespaces and processes come from the privileged tests' support code (TestCgroup,
// SocketWorkload), so the benchmark builds exactly what the tests check.
//
// It prints figures, ratios to the baseline and to the targets, OK / ABOVE TARGET; it
// asserts nothing about time (this machine is shared). It needs root. Everything it makes --
// cgroups, namespaces, processes, the agents, kernel.bpf_stats_enabled -- is undone by
// destructors, on success, on an exception and on SIGINT/SIGTERM (the handler only sets a flag
// that the phases poll, so the unwinding runs the same destructors).
#include <curl/curl.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "podstat/procfs/mountinfo.h"
#include "podstat/util/fd.h"
#include "podstat/util/file.h"
#include "support/workload.h"

namespace podstat::bench {
namespace {

using podstat::testing::Family;
using podstat::testing::Netns;
using podstat::testing::SocketWorkload;
using podstat::testing::TestCgroup;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The one piece of global state: a signal handler can only talk to the program through a
// variable of this type. Every phase polls it (ThrowIfInterrupted) and unwinds.
volatile sig_atomic_t interrupted_by_signal = 0;

void OnSignal(int signal_number) { interrupted_by_signal = signal_number; }

void ThrowIfInterrupted() {
  if (interrupted_by_signal != 0) {
    throw std::runtime_error(std::string("interrupted by ") + strsignal(interrupted_by_signal) +
                             ": cleaning up");
  }
}

// Sleeps `duration`, waking every 100 ms to see whether a signal asked us to stop.
void InterruptibleSleep(std::chrono::duration<double> duration) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(duration);
  for (;;) {
    ThrowIfInterrupted();
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(left, milliseconds(100)));
  }
}

[[noreturn]] void ThrowErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string MustRead(const std::string& path) {
  int error = 0;
  auto text = ReadFile(path, &error);
  if (!text) {
    errno = error;
    ThrowErrno("read " + path);
  }
  return *std::move(text);
}

bool WriteText(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

double Seconds(Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index =
      static_cast<size_t>(std::ceil(fraction * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, index == 0 ? 0 : index - 1)];
}

double Median(std::vector<double> values) { return Percentile(std::move(values), 0.5); }

// ---------------------------------------------------------------------------------------------
// Options: make passes N, BENCH_IDLE_SECONDS and friends as flags.

struct Options {
  int containers = 300;
  double idle_seconds = 60;
  double load_seconds = 5;
  int scrapes = 100;
  int fresh_scrapes = 30;
  int scan_passes = 5;
  bool series_only = false;  // only count the series each container costs, with and without compat
  bool hold = false;  // bring the containers up, then wait for ^C: for profiling an agent by hand
  std::string podstat = PODSTAT_BINARY;
  std::vector<std::string> agent_args;  // --agent-arg: added to every agent's command line
};

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    auto number = [&](double low, double high) {
      char* end = nullptr;
      const double parsed = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(parsed >= low && parsed <= high)) {
        throw std::runtime_error("invalid " + arg + ": want a number in [" + std::to_string(low) +
                                 ", " + std::to_string(high) + "]");
      }
      return parsed;
    };
    if (name == "--containers") {
      options.containers = static_cast<int>(number(1, 5000));
    } else if (name == "--idle-seconds") {
      options.idle_seconds = number(1, 3600);
    } else if (name == "--load-seconds") {
      options.load_seconds = number(1, 600);
    } else if (name == "--scrapes") {
      options.scrapes = static_cast<int>(number(2, 100000));
    } else if (name == "--fresh-scrapes") {
      options.fresh_scrapes = static_cast<int>(number(2, 100000));
    } else if (name == "--scan-passes") {
      options.scan_passes = static_cast<int>(number(1, 1000));
    } else if (name == "--podstat") {
      options.podstat = value;
    } else if (name == "--agent-arg") {
      options.agent_args.push_back(value);  // e.g. --agent-arg=--no-collector.pressure
    } else if (arg == "--series-only") {
      options.series_only = true;
    } else if (arg == "--hold") {
      options.hold = true;
    } else {
      throw std::runtime_error(
          "unknown argument " + arg +
          "\nusage: podstat_scale_bench [--containers=N] [--idle-seconds=S] [--load-seconds=S] "
          "[--scrapes=K] [--fresh-scrapes=K] [--scan-passes=P] [--podstat=PATH] "
          "[--agent-arg=FLAG]... "
          "[--series-only] [--hold]");
    }
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Cgroups: the v2 tree comes from TestCgroup; the same relative paths in the v1 hierarchies
// are made here (TestCgroup knows v2 only), removed deepest first.

std::vector<std::string> V1Roots() {
  const auto mounts = procfs::ParseMountInfo(MustRead("/proc/self/mountinfo"));
  std::vector<std::string> roots;
  for (const char* controller : {"cpu", "cpuacct", "memory", "pids"}) {
    const auto root = procfs::FindCgroup1Mount(mounts, controller);
    // cpu and cpuacct are often co-mounted ("cpu,cpuacct"): one directory serves both.
    if (root && std::find(roots.begin(), roots.end(), *root) == roots.end()) {
      roots.push_back(*root);
    }
  }
  return roots;
}

class V1Cgroups {
 public:
  // <root><id> for every root; `id` is a TestCgroup id ("/podstat-test-1-0/kubepods").
  V1Cgroups(const std::vector<std::string>& roots, const std::string& id) {
    for (const std::string& root : roots) {
      const std::string dir = root + id;
      if (::mkdir(dir.c_str(), 0755) != 0) ThrowErrno("mkdir " + dir);
      dirs_.push_back(dir);
    }
  }
  ~V1Cgroups() {
    for (const std::string& dir : dirs_) {
      // A killed process may keep the cgroup busy for a moment after it was reaped.
      int error = 0;
      podstat::testing::PollUntil(
          [&] {
            error = ::rmdir(dir.c_str()) == 0 ? 0 : errno;
            return error != EBUSY;
          },
          milliseconds(30'000));
      if (error != 0 && error != ENOENT) {
        std::fprintf(stderr, "warning: cannot remove %s: %s\n", dir.c_str(), std::strerror(error));
      }
    }
  }
  V1Cgroups(const V1Cgroups&) = delete;
  V1Cgroups& operator=(const V1Cgroups&) = delete;

  void Join(pid_t pid) const {
    for (const std::string& dir : dirs_) {
      if (!WriteText(dir + "/cgroup.procs", std::to_string(pid))) {
        ThrowErrno("move pid " + std::to_string(pid) + " into " + dir);
      }
    }
  }

 private:
  std::vector<std::string> dirs_;
};

// <test cgroup>/kubepods/burstable in v2 and in each v1 hierarchy. Members are destroyed in
// reverse order: burstable before kubepods before the top.
class KubepodsTree {
 public:
  KubepodsTree()
      : v1_roots_(V1Roots()),
        kubepods_(top_, "kubepods"),
        burstable_(kubepods_, "burstable"),
        v1_top_(v1_roots_, top_.id()),
        v1_kubepods_(v1_roots_, kubepods_.id()),
        v1_burstable_(v1_roots_, burstable_.id()) {}

  const TestCgroup& burstable() const { return burstable_; }
  const std::vector<std::string>& v1_roots() const { return v1_roots_; }

 private:
  std::vector<std::string> v1_roots_;
  TestCgroup top_;
  TestCgroup kubepods_;
  TestCgroup burstable_;
  V1Cgroups v1_top_;
  V1Cgroups v1_kubepods_;
  V1Cgroups v1_burstable_;
};

std::string RandomHex(std::mt19937_64& random, int digits) {
  std::string out;
  for (int i = 0; i < digits; ++i) out += "0123456789abcdef"[random() % 16];
  return out;
}

std::string RandomPodUid(std::mt19937_64& random) {
  return RandomHex(random, 8) + "-" + RandomHex(random, 4) + "-" + RandomHex(random, 4) + "-" +
         RandomHex(random, 4) + "-" + RandomHex(random, 12);
}

// One pod with one container: cgroups in every hierarchy, a process in its own netns holding
// 2 listeners (one explicit, one that accepts the pairs), 4 established pairs and 1 UDP socket.
// Members are destroyed in reverse: the process first (killed, reaped), then the cgroups.
class PseudoContainer {
 public:
  PseudoContainer(const KubepodsTree& tree, std::mt19937_64& random)
      : pod_(tree.burstable(), "pod" + RandomPodUid(random)),
        container_(pod_, RandomHex(random, 64)),
        v1_pod_(tree.v1_roots(), pod_.id()),
        v1_container_(tree.v1_roots(), container_.id()),
        workload_(container_, Netns::kOwn) {
    v1_container_.Join(workload_.pid());  // before any socket exists: all of them are charged here
    workload_.Listen(1);
    workload_.Established(4);  // + the shared listener the pairs connect through
    workload_.Udp(1);
  }

  pid_t pid() const { return workload_.pid(); }
  const std::string& id() const { return container_.id(); }
  const std::string& pod_id() const { return pod_.id(); }

 private:
  TestCgroup pod_;
  TestCgroup container_;
  V1Cgroups v1_pod_;
  V1Cgroups v1_container_;
  SocketWorkload workload_;
};

// ---------------------------------------------------------------------------------------------
// The baseline: the seeds' scan, every table of every container's network namespace read
// through /proc/<pid>/net, in this process, timed by this process's CPU clock.

struct ScanResult {
  std::vector<double> cpu_ms;  // per pass
  std::vector<double> wall_ms;
  size_t bytes_per_pass = 0;
};

ScanResult RunBaselineScan(const std::vector<pid_t>& pids, int passes) {
  static constexpr const char* kFiles[] = {"tcp",      "tcp6",      "udp", "udp6",
                                           "sockstat", "sockstat6", "dev"};
  ScanResult result;
  std::vector<char> buffer(1 << 16);
  for (int pass = 0; pass < passes; ++pass) {
    ThrowIfInterrupted();
    size_t bytes = 0;
    const double cpu_start = ProcessCpuSeconds();
    const auto wall_start = Clock::now();
    for (const pid_t pid : pids) {
      for (const char* file : kFiles) {
        const std::string path = "/proc/" + std::to_string(pid) + "/net/" + file;
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) ThrowErrno("open " + path);
        for (;;) {
          const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) ThrowErrno("read " + path);
          if (n == 0) break;
          bytes += static_cast<size_t>(n);
        }
      }
    }
    result.cpu_ms.push_back((ProcessCpuSeconds() - cpu_start) * 1e3);
    result.wall_ms.push_back(Seconds(Clock::now() - wall_start) * 1e3);
    result.bytes_per_pass = bytes;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The agent: the Release podstat binary with exactly the flags given (the tests' Agent adds
// --log.level=debug and --sample.max-age=0s, which would distort what is measured here).

struct ProcessStatus {
  double rss_mb = 0;
  double hwm_mb = 0;
  int threads = 0;
};

// An agent's flags, then the --agent-arg ones (which can so override them).
std::vector<std::string> WithAgentArgs(const Options& options, std::vector<std::string> flags) {
  flags.insert(flags.end(), options.agent_args.begin(), options.agent_args.end());
  return flags;
}

class AgentProcess {
 public:
  AgentProcess(const std::string& binary, std::vector<std::string> flags)
      : port_(podstat::testing::FreeTcpPort()) {
    if (::access(binary.c_str(), X_OK) != 0) ThrowErrno("podstat binary " + binary);
    std::vector<std::string> args = {binary,
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    args.insert(args.end(), flags.begin(), flags.end());
    command_line_ = "podstat";
    for (size_t i = 1; i < args.size(); ++i) command_line_ += " " + args[i];
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    char log_template[] = "/tmp/podstat-bench-agent-XXXXXX.log";
    UniqueFd log(::mkstemps(log_template, 4));
    if (!log) ThrowErrno("mkstemps");
    log_path_ = log_template;
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null) ThrowErrno("open /dev/null");
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) ThrowErrno("fork");
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      // Its own process group: a ^C at the terminal reaches the bench, which stops the agent.
      ::setpgid(0, 0);
      if (::dup2(null.get(), 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0) {
        ::_exit(127);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~AgentProcess() {
    if (pid_ > 0 && !Exited()) {
      ::kill(pid_, SIGTERM);
      const bool stopped =
          podstat::testing::PollUntil([&] { return Exited(); }, milliseconds(10'000));
      if (!stopped) {
        std::fprintf(stderr, "warning: podstat pid %d ignored SIGTERM for 10 s: SIGKILL\n", pid_);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
    if (!log_path_.empty()) ::unlink(log_path_.c_str());
  }
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& command_line() const { return command_line_; }

  std::string Log() const { return ReadFile(log_path_).value_or(""); }

  void WaitHealthy() {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    for (;;) {
      ThrowIfInterrupted();
      if (Exited()) throw std::runtime_error("podstat exited during start:\n" + Log());
      try {
        const auto response = podstat::testing::HttpGet(port_, "/healthz");
        if (response.status == 200) return;
      } catch (const std::exception&) {
        // not listening yet
      }
      if (Clock::now() > deadline) {
        throw std::runtime_error("podstat not healthy after 120 s:\n" + Log());
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  // utime + stime of every thread, live and exited, from /proc/<pid>/stat, in seconds.
  double CpuSeconds() const {
    const std::string stat = MustRead("/proc/" + std::to_string(pid_) + "/stat");
    // comm may hold spaces and parentheses: the fields start after the last ')'.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int index = 3; fields >> field; ++index) {
      if (index == 14) utime = std::stoull(field);
      if (index == 15) {
        stime = std::stoull(field);
        break;
      }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  ProcessStatus Status() const {
    std::istringstream lines(MustRead("/proc/" + std::to_string(pid_) + "/status"));
    ProcessStatus status;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string key;
      double value = 0;
      fields >> key >> value;
      if (key == "VmRSS:") status.rss_mb = value / 1024;
      if (key == "VmHWM:") status.hwm_mb = value / 1024;
      if (key == "Threads:") status.threads = static_cast<int>(value);
    }
    return status;
  }

  std::string Scrape() const {
    auto response = podstat::testing::HttpGet(port_, "/metrics");
    if (response.status != 200) {
      throw std::runtime_error("GET /metrics answered " + std::to_string(response.status));
    }
    return std::move(response.body);
  }

 private:
  bool Exited() {
    if (reaped_) return true;
    int status = 0;
    reaped_ = ::waitpid(pid_, &status, WNOHANG) == pid_;
    return reaped_;
  }

  uint16_t port_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string log_path_;
  std::string command_line_;
};

// The size of a gzip'd /metrics as a client asking for it receives it (libcurl, decoding off).
struct GzipResponse {
  bool gzip = false;  // Content-Encoding: gzip came back
  size_t bytes = 0;
};

GzipResponse ScrapeGzip(uint16_t port) {
  struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  std::string body, headers;
  auto append = +[](char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
  };
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  curl_slist* request_headers = curl_slist_append(nullptr, "Accept-Encoding: gzip");
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, request_headers);
  curl_easy_setopt(curl.get(), CURLOPT_HTTP_CONTENT_DECODING, 0L);  // count the bytes on the wire
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &headers);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 60L);
  const CURLcode code = curl_easy_perform(curl.get());
  curl_slist_free_all(request_headers);
  if (code != CURLE_OK) {
    throw std::runtime_error(std::string("gzip scrape: ") + curl_easy_strerror(code));
  }
  std::transform(headers.begin(), headers.end(), headers.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return {headers.find("content-encoding: gzip") != std::string::npos, body.size()};
}

struct ScrapeResult {
  double cpu_ms_per_scrape = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  int scrapes = 0;
};

// K scrapes of /metrics, one fresh connection each: plain over HTTP/1.0 (as the support's HttpGet
// does), or with Accept-Encoding: gzip through libcurl, as Prometheus scrapes. The agent's CPU
// over all of them divided by K, and the latency of each as the client sees it.
ScrapeResult MeasureScrapes(const AgentProcess& agent, int scrapes, bool gzip = false) {
  std::vector<double> latencies;
  const double cpu_before = agent.CpuSeconds();
  for (int i = 0; i < scrapes; ++i) {
    ThrowIfInterrupted();
    const auto start = Clock::now();
    if (gzip) {
      ScrapeGzip(agent.port());
    } else {
      agent.Scrape();
    }
    latencies.push_back(Seconds(Clock::now() - start) * 1e3);
  }
  const double cpu_after = agent.CpuSeconds();
  ScrapeResult result;
  result.scrapes = scrapes;
  result.cpu_ms_per_scrape = (cpu_after - cpu_before) * 1e3 / scrapes;
  result.p50_ms = Percentile(latencies, 0.50);
  result.p99_ms = Percentile(latencies, 0.99);
  result.max_ms = *std::max_element(latencies.begin(), latencies.end());
  return result;
}

// How many of the pseudo-containers have their own series on the page (by their `id` label).
int ContainersOnPage(const std::vector<podstat::testing::Sample>& samples,
                     const std::vector<std::string>& ids) {
  std::set<std::string, std::less<>> seen;
  for (const auto& sample : samples) {
    if (const auto it = sample.labels.find("id"); it != sample.labels.end())
      seen.insert(it->second);
  }
  int found = 0;
  for (const std::string& id : ids) found += seen.count(id) > 0 ? 1 : 0;
  return found;
}

// What one container costs on the page: the series carrying its cgroup's id, by family, and
// those of its pod-level cgroup (CPU and memory; the kubelet's layout has one per pod).
struct SeriesCost {
  std::map<std::string, int> container;  // family -> series with id=<container>
  std::map<std::string, int> pod;        // family -> series with id=<pod>
  int container_total = 0, pod_total = 0;
};

std::vector<SeriesCost> SeriesPerContainer(
    const std::vector<podstat::testing::Sample>& samples,
    const std::vector<std::unique_ptr<PseudoContainer>>& containers) {
  std::map<std::string, std::map<std::string, int>, std::less<>> by_id;
  for (const auto& sample : samples) {
    if (const auto it = sample.labels.find("id"); it != sample.labels.end())
      ++by_id[it->second][sample.name];
  }
  std::vector<SeriesCost> costs;
  for (const auto& container : containers) {
    SeriesCost& cost = costs.emplace_back();
    cost.container = by_id[container->id()];
    cost.pod = by_id[container->pod_id()];
    for (const auto& [family, count] : cost.container) cost.container_total += count;
    for (const auto& [family, count] : cost.pod) cost.pod_total += count;
  }
  return costs;
}

// ---------------------------------------------------------------------------------------------
// BPF: the agent's programs, found through its file descriptors, and their run statistics.

// kernel.bpf_stats_enabled=1 for the benchmark's lifetime; the previous value is put back.
class BpfStatsEnabled {
 public:
  BpfStatsEnabled() {
    previous_ = MustRead(kPath);
    if (!WriteText(kPath, "1")) ThrowErrno(std::string("write 1 to ") + kPath);
  }
  ~BpfStatsEnabled() {
    if (!WriteText(kPath, previous_)) {
      std::fprintf(stderr, "warning: cannot restore %s to %s", kPath, previous_.c_str());
    }
  }
  BpfStatsEnabled(const BpfStatsEnabled&) = delete;
  BpfStatsEnabled& operator=(const BpfStatsEnabled&) = delete;

 private:
  static constexpr const char* kPath = "/proc/sys/kernel/bpf_stats_enabled";
  std::string previous_;
};

struct ProgramStats {
  std::string name;
  uint64_t run_time_ns = 0;
  uint64_t run_count = 0;
};

using ProgramSnapshot = std::map<uint32_t, ProgramStats>;  // by program id

long Bpf(int command, bpf_attr* attr) { return ::syscall(__NR_bpf, command, attr, sizeof(*attr)); }

// Program ids the agent holds, from its fds' fdinfo ("prog_id:" on program and link fds).
std::set<uint32_t> AgentProgramIds(pid_t pid) {
  std::set<uint32_t> ids;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const auto text = ReadFile(entry.path().string());
    if (!text) continue;  // closed meanwhile
    const size_t at = text->find("prog_id:");
    if (at == std::string::npos) continue;
    ids.insert(static_cast<uint32_t>(std::strtoul(text->c_str() + at + 8, nullptr, 10)));
  }
  if (error) throw std::runtime_error("list " + dir + ": " + error.message());
  return ids;
}

ProgramSnapshot ReadPrograms(const std::set<uint32_t>& ids) {
  ProgramSnapshot snapshot;
  for (const uint32_t id : ids) {
    bpf_attr by_id{};
    by_id.prog_id = id;
    UniqueFd fd(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &by_id)));
    if (!fd) continue;  // unloaded meanwhile
    bpf_prog_info info{};
    bpf_attr get_info{};
    get_info.info.bpf_fd = static_cast<uint32_t>(fd.get());
    get_info.info.info_len = sizeof info;
    get_info.info.info = reinterpret_cast<uint64_t>(&info);
    if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &get_info) != 0) ThrowErrno("BPF_OBJ_GET_INFO_BY_FD");
    snapshot[id] = {info.name, info.run_time_ns, info.run_cnt};
  }
  return snapshot;
}

struct ProgramDelta {
  std::string name;
  uint64_t runs = 0;
  uint64_t ns = 0;
  double ns_per_run() const { return runs == 0 ? 0 : static_cast<double>(ns) / runs; }
};

std::vector<ProgramDelta> Delta(const ProgramSnapshot& before, const ProgramSnapshot& after) {
  std::vector<ProgramDelta> deltas;
  for (const auto& [id, stats] : after) {
    const auto it = before.find(id);
    const ProgramStats zero{};
    const ProgramStats& base = it == before.end() ? zero : it->second;
    deltas.push_back(
        {stats.name, stats.run_count - base.run_count, stats.run_time_ns - base.run_time_ns});
  }
  std::sort(deltas.begin(), deltas.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return deltas;
}

uint64_t TotalNs(const std::vector<ProgramDelta>& deltas) {
  uint64_t total = 0;
  for (const auto& delta : deltas) total += delta.ns;
  return total;
}

// The hook each program is attached to (bpf/*.bpf.c), and issue 14 item 6's per-event target.
struct ProgramHook {
  std::string_view name_prefix;  // the kernel keeps 15 bytes of the name
  std::string_view hook;
  double target_ns;  // 0: none stated
};
constexpr ProgramHook kHooks[] = {
    {"ps_state_", "inet_sock_set_state", 200},     {"ps_retrans_", "tcp_retransmit_skb", 0},
    {"ps_rst_out_", "tcp_send_reset", 0},          {"ps_rst_in_", "tcp_receive_reset", 0},
    {"ps_sock_create", "cgroup/sock_create", 500}, {"ps_sock_release", "cgroup/sock_release", 0},
    {"ps_switch_", "sched_switch", 150},           {"ps_wakeup_new", "sched_wakeup_new", 0},
};

const ProgramHook* HookOf(std::string_view name) {
  for (const ProgramHook& hook : kHooks) {
    if (name.starts_with(hook.name_prefix)) return &hook;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Loads. Forked processes (the bench stays single-threaded: SocketWorkload forks and runs C++
// in the child), each reporting its count over a pipe when its time is up.

struct LoadResult {
  double seconds = 0;           // the load's own running time
  double events = 0;            // context switches (a) or connections (b)
  double machine_switches = 0;  // /proc/stat ctxt delta over the window: every CPU, every task
  double wall_seconds = 0;      // the BPF statistics window
  std::vector<ProgramDelta> programs;
};

double MachineContextSwitches() {
  std::istringstream lines(MustRead("/proc/stat"));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("ctxt ", 0) == 0) return std::stod(line.substr(5));
  }
  throw std::runtime_error("no ctxt line in /proc/stat");
}

// Kills and reaps forked load processes however the phase ends.
class Children {
 public:
  ~Children() {
    for (const pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  void Add(pid_t pid) { pids_.push_back(pid); }

 private:
  std::vector<pid_t> pids_;
};

template <typename Body>
pid_t ForkLoad(Body body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) ThrowErrno("fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    int code = 1;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "load: %s\n", e.what());
    }
    ::_exit(code);
  }
  return pid;
}

double ReadDouble(int fd, const char* what) {
  double value = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &value, sizeof value);
    if (n == sizeof value) return value;
    if (n < 0 && errno == EINTR) {
      ThrowIfInterrupted();
      continue;
    }
    throw std::runtime_error(std::string("the ") + what + " load died without a result");
  }
}

void WriteDouble(int fd, double value) {
  [[maybe_unused]] ssize_t ignored = ::write(fd, &value, sizeof value);
}

double MonotonicSeconds() { return Seconds(Clock::now().time_since_epoch()); }

// Runs `start_loads` (which forks and returns the read end of each result pipe), measuring the
// agent's programs and the machine's context switches around it.
template <typename StartLoads>
LoadResult MeasureLoad(const std::set<uint32_t>& program_ids, StartLoads start_loads) {
  LoadResult result;
  Children children;
  const ProgramSnapshot before = ReadPrograms(program_ids);
  const double ctxt_before = MachineContextSwitches();
  const auto wall_start = Clock::now();
  const std::vector<int> result_fds = start_loads(children);
  for (const int fd : result_fds) {
    result.events += ReadDouble(fd, "benchmark");
    result.seconds = std::max(result.seconds, ReadDouble(fd, "benchmark"));
    ::close(fd);
  }
  result.wall_seconds = Seconds(Clock::now() - wall_start);
  result.machine_switches = MachineContextSwitches() - ctxt_before;
  result.programs = Delta(before, ReadPrograms(program_ids));
  return result;
}

void PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) ThrowErrno("sched_setaffinity");
}

// (a) Two processes on one CPU passing a byte back and forth through two pipes: every hand-over
// is one context switch from one to the other, so the switch rate is what sched_switch sees.
LoadResult PipePingPong(const std::set<uint32_t>& program_ids, double seconds) {
  return MeasureLoad(program_ids, [seconds](Children& children) {
    int ping[2], pong[2], report[2];
    if (::pipe2(ping, O_CLOEXEC) != 0 || ::pipe2(pong, O_CLOEXEC) != 0 ||
        ::pipe2(report, O_CLOEXEC) != 0) {
      ThrowErrno("pipe2");
    }
    constexpr int kCpu = 0;
    // The echoing side: reads a byte, writes it back, until it is killed.
    children.Add(ForkLoad([&] {
      PinToCpu(kCpu);
      for (int fd : {ping[1], pong[0], report[0], report[1]}) ::close(fd);
      char byte;
      while (::read(ping[0], &byte, 1) == 1) {
        if (::write(pong[1], &byte, 1) != 1) break;
      }
      return 0;
    }));
    // The timing side: round trips until the time is up, then its context switches.
    children.Add(ForkLoad([&] {
      PinToCpu(kCpu);
      for (int fd : {ping[0], pong[1], report[0]}) ::close(fd);
      rusage usage_before{};
      ::getrusage(RUSAGE_SELF, &usage_before);
      const double start = MonotonicSeconds();
      char byte = 'x';
      double elapsed = 0;
      for (long round = 0;; ++round) {
        if (::write(ping[1], &byte, 1) != 1 || ::read(pong[0], &byte, 1) != 1) return 1;
        if (round % 1024 == 0 && (elapsed = MonotonicSeconds() - start) >= seconds) break;
      }
      rusage usage_after{};
      ::getrusage(RUSAGE_SELF, &usage_after);
      // Each round trip: this process blocks (one switch to the echoer), the echoer blocks (one
      // switch back). This side's own count is half of them.
      const double switches =
          2.0 * static_cast<double>(usage_after.ru_nvcsw + usage_after.ru_nivcsw -
                                    usage_before.ru_nvcsw - usage_before.ru_nivcsw);
      WriteDouble(report[1], switches);
      WriteDouble(report[1], elapsed);
      return 0;
    }));
    for (int fd : {ping[0], ping[1], pong[0], pong[1], report[1]}) ::close(fd);
    return std::vector<int>{report[0]};
  });
}

void BringLoopbackUp() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) ThrowErrno("socket");
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) ThrowErrno("SIOCGIFFLAGS lo");
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(fd.get(), SIOCSIFFLAGS, &request) != 0) ThrowErrno("SIOCSIFFLAGS lo");
}

// (b) Connection churn in a network namespace of its own (its TIME_WAIT sockets go with it):
// connect, accept, close both, as fast as one process can.
LoadResult ConnectionChurn(const std::set<uint32_t>& program_ids, double seconds) {
  return MeasureLoad(program_ids, [seconds](Children& children) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) ThrowErrno("pipe2");
    children.Add(ForkLoad([&] {
      if (::unshare(CLONE_NEWNET) != 0) ThrowErrno("unshare(CLONE_NEWNET)");
      BringLoopbackUp();
      UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_ANY);
      socklen_t length = sizeof address;
      if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
          ::listen(listener.get(), 1024) != 0 ||
          ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ThrowErrno("listener");
      }
      const double start = MonotonicSeconds();
      double connections = 0;
      double failures = 0;
      double elapsed = 0;
      // The server closes first, so its side holds the TIME_WAIT, and the kernel lets a client
      // reuse that 4-tuple only a second later: at 20,000 connects/s one destination's ~28,000
      // ephemeral ports run out. Cycling through 65,000 loopback addresses (the listener is on
      // INADDR_ANY; all of 127/8 is local) keeps every connect successful, so each counted
      // connection is one socket() pair of hooks, not several failed attempts.
      sockaddr_in destination = address;
      for (uint32_t attempt = 0; (elapsed = MonotonicSeconds() - start) < seconds; ++attempt) {
        destination.sin_addr.s_addr = htonl(INADDR_LOOPBACK + attempt % 65'000);
        UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!client) ThrowErrno("socket");
        if (::connect(client.get(), reinterpret_cast<sockaddr*>(&destination),
                      sizeof destination) != 0) {
          failures += 1;
          continue;
        }
        UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!server) ThrowErrno("accept4");
        connections += 1;
      }
      if (failures > 0) {
        std::fprintf(stderr, "  (connection churn: %.0f connects failed, not counted)\n", failures);
      }
      WriteDouble(report[1], connections);
      WriteDouble(report[1], elapsed);
      return 0;
    }));
    ::close(report[1]);
    return std::vector<int>{report[0]};
  });
}

// ---------------------------------------------------------------------------------------------
// Printing

std::string Verdict(bool ok) { return ok ? "OK" : "ABOVE TARGET"; }

void PrintRow(const char* what, const std::string& value, const std::string& target = "",
              const std::string& verdict = "") {
  std::printf("  %-46s %-22s %-26s %s\n", what, value.c_str(), target.c_str(), verdict.c_str());
}

std::string Format(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string LoadAverage() {
  std::string text = ReadFile("/proc/loadavg").value_or("?");
  return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

void PrintMachine(const Options& options) {
  utsname name{};
  ::uname(&name);
  std::string model = "?";
  std::istringstream cpuinfo(ReadFile("/proc/cpuinfo").value_or(""));
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  char date[64];
  const time_t now = ::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  std::printf("podstat scale benchmark, %s\n", date);
  std::printf("machine: %ld CPUs (%s), %s %s; load average %s\n", ::sysconf(_SC_NPROCESSORS_ONLN),
              model.c_str(), name.sysname, name.release, LoadAverage().c_str());
  std::printf("podstat: %s\n", options.podstat.c_str());
}

void PrintScrape(const char* label, const ScrapeResult& scrape, double baseline_cpu_ms,
                 int containers) {
  const std::string at300 = containers == 300 ? "" : " (stated for N=300)";
  std::printf("  -- %s, %d scrapes\n", label, scrape.scrapes);
  PrintRow("scrape CPU (agent utime+stime / K)", Format("%.2f ms", scrape.cpu_ms_per_scrape),
           "<= 7 ms" + at300, Verdict(scrape.cpu_ms_per_scrape <= 7));
  const double ratio = baseline_cpu_ms / std::max(scrape.cpu_ms_per_scrape, 1e-9);
  PrintRow("  cheaper than the baseline scan", Format("%.1fx", ratio), ">= 100x",
           Verdict(ratio >= 100));
  PrintRow("scrape latency p50", Format("%.2f ms", scrape.p50_ms));
  PrintRow("scrape latency p99", Format("%.2f ms", scrape.p99_ms), "<= 10 ms" + at300,
           Verdict(scrape.p99_ms <= 10));
  PrintRow("scrape latency max", Format("%.2f ms", scrape.max_ms));
}

void PrintPrograms(const char* label, const LoadResult& load, const char* unit) {
  const double rate = load.events / std::max(load.seconds, 1e-9);
  std::printf("  -- %s, %.1f s: %.0f %s/s by the load; machine-wide %.0f context switches/s\n",
              label, load.seconds, rate, unit, load.machine_switches / load.wall_seconds);
  std::printf("     %-17s %-22s %12s %12s %10s %14s\n", "program", "hook", "runs", "runs/s",
              "ns/run", "item-6 target");
  for (const ProgramDelta& program : load.programs) {
    if (program.runs == 0) continue;
    const ProgramHook* hook = HookOf(program.name);
    std::string target = "-";
    if (hook != nullptr && hook->target_ns > 0) {
      target = Format("<= %.0f ns ", hook->target_ns) +
               (program.ns_per_run() <= hook->target_ns ? "OK" : "ABOVE");
    }
    std::printf("     %-17s %-22s %12llu %12.0f %10.0f %14s\n", program.name.c_str(),
                hook != nullptr ? std::string(hook->hook).c_str() : "?",
                static_cast<unsigned long long>(program.runs), program.runs / load.wall_seconds,
                program.ns_per_run(), target.c_str());
  }
  const double share =
      static_cast<double>(TotalNs(load.programs)) / (load.wall_seconds * 1e9) * 100;
  PrintRow("all programs, share of one core", Format("%.2f %%", share));
}

// ---------------------------------------------------------------------------------------------

// --series-only: the agent without and with --compat=cadvisor, each scraped once every container
// shows its 2 listeners; prints the first container's series family by family and the range over
// all of them.
void PrintSeriesCost(const Options& options,
                     const std::vector<std::unique_ptr<PseudoContainer>>& containers) {
  for (const bool compat : {false, true}) {
    std::vector<std::string> flags = {"--runtime.docker-endpoint=", "--sample.max-age=0s"};
    if (compat) flags.push_back("--compat=cadvisor");
    AgentProcess agent(options.podstat, WithAgentArgs(options, flags));
    agent.WaitHealthy();
    std::vector<podstat::testing::Sample> samples;
    const bool settled = podstat::testing::PollUntil(
        [&] {
          samples = podstat::testing::ParseExposition(agent.Scrape());
          for (const auto& container : containers) {
            const auto listen = podstat::testing::FindSample(
                samples, "container_tcp_sockets", {{"id", container->id()}, {"state", "listen"}});
            if (listen != 2.0) return false;
          }
          return true;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(200));
    const std::vector<SeriesCost> costs = SeriesPerContainer(samples, containers);
    std::printf("\n  %s%s\n", agent.command_line().c_str(),
                settled ? "" : "  (not every listener seen within 30 s)");
    const SeriesCost& first = costs.front();
    std::printf("  series of one container (id=%s), by family:\n",
                containers.front()->id().c_str());
    for (const auto& [family, count] : first.container) {
      std::printf("    %4d  %s\n", count, family.c_str());
    }
    std::printf("  and of its pod's cgroup (id=%s):\n", containers.front()->pod_id().c_str());
    for (const auto& [family, count] : first.pod) {
      std::printf("    %4d  %s\n", count, family.c_str());
    }
    auto range = [&](int SeriesCost::*field) {
      int low = costs.front().*field, high = low;
      for (const SeriesCost& cost : costs) {
        low = std::min(low, cost.*field);
        high = std::max(high, cost.*field);
      }
      return low == high ? std::to_string(low)
                         : std::to_string(low) + " .. " + std::to_string(high);
    };
    PrintRow("series per container (its own id)", range(&SeriesCost::container_total));
    PrintRow("series per pod cgroup", range(&SeriesCost::pod_total));
    PrintRow("series on the page, all", std::to_string(samples.size()));
  }
}

int Run(const Options& options) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "podstat_scale_bench needs root (cgroups, network namespaces, BPF)\n");
    return 2;
  }
  // Each pseudo-container costs the bench one descriptor (its command socket) plus transients.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);

  PrintMachine(options);
  const std::string common_flags_note =
      "--runtime.docker-endpoint= (no Docker metadata: the pseudo-containers have none)";

  // -- the containers
  const auto setup_start = Clock::now();
  KubepodsTree tree;
  std::mt19937_64 random(std::random_device{}());
  std::vector<std::unique_ptr<PseudoContainer>> containers;
  std::vector<pid_t> pids;
  std::vector<std::string> ids;
  for (int i = 0; i < options.containers; ++i) {
    ThrowIfInterrupted();
    containers.push_back(std::make_unique<PseudoContainer>(tree, random));
    pids.push_back(containers.back()->pid());
    ids.push_back(containers.back()->id());
  }
  std::string v1_list;
  for (const std::string& root : tree.v1_roots()) v1_list += " " + root;
  std::printf(
      "\n%d pseudo-containers in %.1f s: <v2>%s/pod<uid>/<id> and the same path in%s;\n"
      "each one process, its own netns: 2 TCP listeners, 4 established pairs, 1 UDP socket\n",
      options.containers, Seconds(Clock::now() - setup_start), tree.burstable().id().c_str(),
      v1_list.empty() ? " no v1 hierarchy" : v1_list.c_str());

  if (options.hold) {
    std::printf("holding them until ^C (SIGINT or SIGTERM); run an agent against them by hand\n");
    std::fflush(stdout);
    for (;;) InterruptibleSleep(std::chrono::hours(1));
  }
  if (options.series_only) {
    PrintSeriesCost(options, containers);
    std::printf("\ncleaning up\n");
    return 0;
  }

  // -- the baseline
  const ScanResult scan = RunBaselineScan(pids, options.scan_passes);
  const double scan_cpu_ms = Median(scan.cpu_ms);
  std::printf(
      "\nbaseline: the seeds' scan, /proc/<pid>/net/{tcp,tcp6,udp,udp6,sockstat,sockstat6,dev}"
      " for each of %d pids, %d passes\n",
      options.containers, options.scan_passes);
  PrintRow("scan CPU per pass (this process), median", Format("%.1f ms", scan_cpu_ms));
  PrintRow("  min .. max",
           Format("%.1f", *std::min_element(scan.cpu_ms.begin(), scan.cpu_ms.end())) + " .. " +
               Format("%.1f ms", *std::max_element(scan.cpu_ms.begin(), scan.cpu_ms.end())));
  PrintRow("scan wall time per pass, median", Format("%.1f ms", Median(scan.wall_ms)));
  PrintRow("bytes read per pass", Format("%.0f", static_cast<double>(scan.bytes_per_pass)));

  const BpfStatsEnabled bpf_stats;
  std::printf("\npodstat (kernel.bpf_stats_enabled=1 for this part; %s)\n",
              common_flags_note.c_str());

  // -- scrapes served from one snapshot
  {
    AgentProcess agent(options.podstat,
                       WithAgentArgs(options, {"--runtime.docker-endpoint=", "--sample.interval=1h",
                                               "--sample.max-age=1h"}));
    agent.WaitHealthy();
    const std::string page = agent.Scrape();  // the first one collects; the rest reuse it
    agent.Scrape();
    const auto samples = podstat::testing::ParseExposition(page);
    const int seen = ContainersOnPage(samples, ids);
    const GzipResponse gzip = ScrapeGzip(agent.port());
    const ScrapeResult cached = MeasureScrapes(agent, options.scrapes);
    const ScrapeResult cached_gzip = MeasureScrapes(agent, options.scrapes, /*gzip=*/true);
    std::printf("  %s\n", agent.command_line().c_str());
    PrintRow("containers with series on the page",
             std::to_string(seen) + " / " + std::to_string(options.containers), "all",
             Verdict(seen == options.containers));
    PrintRow("series (sample lines)", std::to_string(samples.size()));
    PrintRow("  per container",
             Format("%.1f", static_cast<double>(samples.size()) / options.containers));
    int own = 0;
    for (const SeriesCost& cost : SeriesPerContainer(samples, containers)) {
      own += cost.container_total + cost.pod_total;
    }
    PrintRow("  per container, its own id and its pod's",
             Format("%.1f", static_cast<double>(own) / options.containers));
    PrintRow("bytes, plain", Format("%.0f", static_cast<double>(page.size())));
    PrintRow("bytes, gzip (Accept-Encoding: gzip)",
             gzip.gzip ? Format("%.0f", static_cast<double>(gzip.bytes))
                       : "not gzip'd: " + std::to_string(gzip.bytes));
    PrintScrape("snapshot reused (--sample.max-age=1h)", cached, scan_cpu_ms, options.containers);
    PrintScrape("snapshot reused, Accept-Encoding: gzip as Prometheus scrapes", cached_gzip,
                scan_cpu_ms, options.containers);
    const ProcessStatus status = agent.Status();
    PrintRow("RSS after the scrapes (VmRSS / VmHWM)",
             Format("%.1f", status.rss_mb) + " / " + Format("%.1f MB", status.hwm_mb));
  }

  // -- every scrape collects
  {
    AgentProcess agent(options.podstat,
                       WithAgentArgs(options, {"--runtime.docker-endpoint=", "--sample.interval=1h",
                                               "--sample.max-age=0s"}));
    agent.WaitHealthy();
    agent.Scrape();
    const ScrapeResult fresh = MeasureScrapes(agent, options.fresh_scrapes);
    std::printf("  %s\n", agent.command_line().c_str());
    PrintScrape("every scrape collects (--sample.max-age=0s)", fresh, scan_cpu_ms,
                options.containers);
    const ProcessStatus status = agent.Status();
    PrintRow("RSS after the scrapes (VmRSS / VmHWM)",
             Format("%.1f", status.rss_mb) + " / " + Format("%.1f MB", status.hwm_mb));
  }

  // -- the default configuration: background CPU, memory, BPF
  AgentProcess agent(options.podstat, WithAgentArgs(options, {"--runtime.docker-endpoint="}));
  agent.WaitHealthy();
  ScrapeGzip(agent.port());  // as Prometheus scrapes: the memory figures include the cached page
  const std::set<uint32_t> program_ids = AgentProgramIds(agent.pid());
  const ProgramSnapshot idle_before = ReadPrograms(program_ids);
  const double cpu_before = agent.CpuSeconds();
  const auto idle_start = Clock::now();
  InterruptibleSleep(std::chrono::duration<double>(options.idle_seconds));
  const double idle_wall = Seconds(Clock::now() - idle_start);
  const double background = (agent.CpuSeconds() - cpu_before) / idle_wall * 100;
  const auto idle_programs = Delta(idle_before, ReadPrograms(program_ids));
  const ProcessStatus status = agent.Status();
  const std::string at1000 = options.containers == 1000 ? "" : " (stated for N=1000)";
  std::printf("  %s\n", agent.command_line().c_str());
  std::printf("  -- default configuration, no scrapes, %.0f s (load average %s)\n", idle_wall,
              LoadAverage().c_str());
  PrintRow("background CPU, first window (the seed's rounds)", Format("%.3f %%", background));
  PrintRow(
      "BPF programs meanwhile, share of one core",
      Format("%.3f %%", static_cast<double>(TotalNs(idle_programs)) / (idle_wall * 1e9) * 100));
  // Then as it runs for days: the collections of a second window, less any sock_diag round that
  // fell in it (a retry of the seed's), plus the periodic rounds' share, from the agent's own
  // count of the time its rounds took (wall-clock; a round is the kernel walking its TCP hash,
  // so it is CPU time of the agent's collector thread).
  struct Rounds {
    double count = 0, seconds = 0;
  };
  auto read_rounds = [&] {
    const auto samples = podstat::testing::ParseExposition(agent.Scrape());
    auto value = [&](const char* name) {
      return podstat::testing::FindSample(samples, name, {}).value_or(0);
    };
    return Rounds{value("podstat_socket_reconciliations_total"),
                  value("podstat_socket_reconciliation_seconds_total")};
  };
  const Rounds rounds_before = read_rounds();
  const double steady_cpu_before = agent.CpuSeconds();
  const auto steady_start = Clock::now();
  InterruptibleSleep(std::chrono::duration<double>(options.idle_seconds));
  const double steady_wall = Seconds(Clock::now() - steady_start);
  const double steady_cpu = agent.CpuSeconds() - steady_cpu_before;
  const Rounds rounds_after = read_rounds();
  const double in_window = rounds_after.seconds - rounds_before.seconds;
  const double collections = std::max(0.0, steady_cpu - in_window) / steady_wall * 100;
  const double rounds = rounds_after.count;
  const double per_round = rounds > 0 ? rounds_after.seconds / rounds : 0;
  constexpr double kReconcileIntervalSeconds = 300;  // --bpf.reconcile-interval's default
  const double rounds_share = per_round / kReconcileIntervalSeconds * 100;
  PrintRow("background CPU, second window (collections only)", Format("%.3f %%", collections));
  PrintRow("sock_diag rounds so far, time per round",
           Format("%.0f", rounds) + ", " + Format("%.0f ms", per_round * 1000));
  PrintRow("  one round per 5 min, share of one core", Format("%.3f %%", rounds_share));
  PrintRow("background CPU, steady (collections + rounds)",
           Format("%.3f %%", collections + rounds_share), "<= 1 %" + at1000,
           Verdict(collections + rounds_share <= 1));
  PrintRow("VmRSS", Format("%.1f MB", status.rss_mb), "<= 40 MB" + at1000,
           Verdict(status.rss_mb <= 40));
  PrintRow("VmHWM", Format("%.1f MB", status.hwm_mb), "<= 40 MB" + at1000,
           Verdict(status.hwm_mb <= 40));
  PrintRow("threads", std::to_string(status.threads));
  std::printf("  BPF programs loaded by the agent: %zu\n", program_ids.size());

  const LoadResult ping_pong = PipePingPong(program_ids, options.load_seconds);
  PrintPrograms("(a) pipe ping-pong on one CPU", ping_pong, "context switches");
  const double switch_rate = ping_pong.events / ping_pong.seconds;
  const double share =
      static_cast<double>(TotalNs(ping_pong.programs)) / (ping_pong.wall_seconds * 1e9) * 100;
  const double machine_rate = ping_pong.machine_switches / ping_pong.wall_seconds;
  const double share_at_50k = share * 50'000 / std::max(machine_rate, 1.0);
  PrintRow("  load rate", Format("%.0f switches/s", switch_rate), ">= 50000/s",
           Verdict(switch_rate >= 50'000));
  PrintRow("  share scaled to 50,000 switches/s", Format("%.2f %%", share_at_50k), "<= 1 %",
           Verdict(share_at_50k <= 1));

  const LoadResult churn = ConnectionChurn(program_ids, options.load_seconds);
  PrintPrograms("(b) connection churn (loopback, own netns)", churn, "connections");
  const double connect_rate = churn.events / churn.seconds;
  PrintRow("  load rate", Format("%.0f connects/s", connect_rate), ">= 2000/s",
           Verdict(connect_rate >= 2000));
  const double churn_share =
      static_cast<double>(TotalNs(churn.programs)) / (churn.wall_seconds * 1e9) * 100;
  PrintRow("  share scaled to 2,000 connects/s",
           Format("%.3f %%", churn_share * 2000 / std::max(connect_rate, 1.0)));

  const ProcessStatus after = agent.Status();
  PrintRow("agent RSS at the end (VmRSS / VmHWM)",
           Format("%.1f", after.rss_mb) + " / " + Format("%.1f MB", after.hwm_mb));
  std::printf("\nload average at the end %s; cleaning up\n", LoadAverage().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace podstat::bench

int main(int argc, char** argv) {
  struct sigaction action {};
  action.sa_handler = podstat::bench::OnSignal;  // no SA_RESTART: sleeps and reads return early
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal_number, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    const auto options = podstat::bench::ParseOptions(argc, argv);
    const int code = podstat::bench::Run(options);
    return podstat::bench::interrupted_by_signal != 0 ? 130 : code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "podstat_scale_bench: %s\n", e.what());
    return podstat::bench::interrupted_by_signal != 0 ? 130 : 1;
  }
}
