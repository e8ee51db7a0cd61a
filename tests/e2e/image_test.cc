// The image `make image` builds (scripts/image/build.sh; the ctest fixture image_e2e_build makes
// it from the binary under test as podstat-e2e:<version>) run under Docker exactly as
// deploy/kubernetes's DaemonSet runs it: the flags come from tests/deploy/docker-args.js, which
// translates the rendered DaemonSet's user, hostPID, securityContext (capabilities, read-only
// root, no_new_privs, seccomp, AppArmor), host mounts, limits and arguments, and refuses any
// field it cannot translate. No --privileged. Beside real containers, it must report their TCP
// states, CPU and memory under their names as a podstat run on the host does, and the cgroup
// files and `ss` say.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "docker.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kImage[] = "podstat-e2e:latest";

// `docker run` of the DaemonSet, from the rendered manifests.
struct DaemonSetAsDocker {
  std::vector<std::string> args;     // between `docker run -d` and the image
  std::vector<std::string> command;  // the container's args
  uint16_t port = 0;
  std::string health_path;
};

DaemonSetAsDocker TranslateDaemonSet() {
  const CommandResult result =
      RunCommand({"node", std::string(PODSTAT_SOURCE_DIR) + "/tests/deploy/docker-args.js",
                  std::string(PODSTAT_SOURCE_DIR) + "/deploy/kubernetes"},
                 "");
  if (!result.exited_zero()) {
    throw std::runtime_error("docker-args.js failed (" + DescribeWaitStatus(result.wait_status) +
                             "): " + result.output);
  }
  const auto json = nlohmann::json::parse(result.output);
  DaemonSetAsDocker out;
  out.args = json.at("args").get<std::vector<std::string>>();
  out.command = json.at("command").get<std::vector<std::string>>();
  out.port = json.at("port").get<uint16_t>();
  out.health_path = json.at("health_path").get<std::string>();
  return out;
}

// A container of the podstat image, removed by the destructor.
class PodstatContainer {
 public:
  PodstatContainer(const std::string& name, const DaemonSetAsDocker& spec) : name_(name) {
    std::vector<std::string> argv = {"run", "--detach", "--name=" + name, "--label", kTestLabel};
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    argv.push_back(kImage);
    argv.insert(argv.end(), spec.command.begin(), spec.command.end());
    Docker(argv);
    pid_ = std::stoi(Docker({"inspect", "--format", "{{.State.Pid}}", name}));
  }
  ~PodstatContainer() {
    try {
      Docker({"rm", "--force", name_});
    } catch (const std::exception& error) {
      std::cerr << "could not remove " << name_ << ": " << error.what() << "\n";
    }
  }
  PodstatContainer(const PodstatContainer&) = delete;
  PodstatContainer& operator=(const PodstatContainer&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  std::string Logs() const {
    try {
      return Docker({"logs", name_});
    } catch (const std::exception& error) {
      return error.what();
    }
  }

  // GET http://127.0.0.1:<port><path> inside the container's own network namespace: the pod is
  // not on the host's network (no hostNetwork), and the test dockerd has no bridge to publish
  // ports through. setns() moves only the calling thread, so a thread of its own does it.
  HttpResponse Get(uint16_t port, const std::string& path) const {
    HttpResponse response;
    std::string error;
    std::thread([&] {
      const int netns = ::open(("/proc/" + std::to_string(pid_) + "/ns/net").c_str(), O_RDONLY);
      if (netns < 0 || ::setns(netns, CLONE_NEWNET) != 0) {
        error = "cannot enter the container's network namespace";
      } else {
        try {
          response = HttpGet(port, path);
        } catch (const std::exception& e) {
          error = e.what();
        }
      }
      if (netns >= 0) ::close(netns);
    }).join();
    if (!error.empty()) throw std::runtime_error(error);
    return response;
  }

 private:
  std::string name_;
  pid_t pid_ = -1;
};

// The v1 memory cgroup directory of a process (hybrid host), for the container's whole charge.
std::string MemoryCgroupOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    const auto second = line.find(':', colon + 1);
    if (line.substr(colon + 1, second - colon - 1) == "memory") {
      return "/sys/fs/cgroup/memory" + line.substr(second + 1);
    }
  }
  return "/sys/fs/cgroup/unified" + CgroupV2PathOf(pid);  // pure v2
}

int64_t ReadNumber(const std::string& path) {
  std::ifstream in(path);
  int64_t value = -1;
  in >> value;
  return value;
}

uint64_t EffectiveCapabilities(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("CapEff:")) return std::stoull(line.substr(7), nullptr, 16);
  }
  return ~uint64_t{0};
}

// What one agent says about one container: its names, TCP states, CPU and memory.
struct ContainerView {
  Labels names;  // container, image, container_id
  TcpStateCounts tcp;
  double cpu_seconds = -1;
  double memory_usage = -1;
  double working_set = -1;
  double memory_limit = -1;
};

ContainerView ViewOf(const std::vector<Sample>& samples, const std::string& id) {
  ContainerView view;
  for (const Sample& sample : SamplesNamed(samples, "container_tcp_sockets")) {
    if (sample.labels.at("id") != id) continue;
    view.tcp[sample.labels.at("state")] = static_cast<int64_t>(sample.value);
    for (const char* name : {"container", "image", "container_id"}) {
      view.names[name] = sample.labels.at(name);
    }
  }
  const auto value = [&](const char* metric) {
    return FindSample(samples, metric, {{"id", id}}).value_or(-1);
  };
  view.cpu_seconds = value("container_cpu_usage_seconds_total");
  view.memory_usage = value("container_memory_usage_bytes");
  view.working_set = value("container_memory_working_set_bytes");
  view.memory_limit = value("container_spec_memory_limit_bytes");
  return view;
}

// The states podstat reports (close and new_syn_recv have no source, see IsReportedTcpState), as
// /proc/<pid>/net/tcp{,6} of the container's namespace counts them.
TcpStateCounts ReportedTcpStates(pid_t pid) {
  TcpStateCounts counts = CountTcpStates(pid);
  std::erase_if(counts, [](const auto& entry) { return !IsReportedTcpState(entry.first); });
  return counts;
}

bool Near(double a, double b, double absolute, double relative) {
  return std::fabs(a - b) <= absolute + relative * std::max(std::fabs(a), std::fabs(b));
}

// Two agents' views agree: names and TCP states exactly; CPU of a container that has gone idle
// within 5 ms; memory of an idle container within 1 % + 256 KiB (each agent reads the files at
// its own moment).
bool Agree(const ContainerView& a, const ContainerView& b) {
  return a.names == b.names && a.tcp == b.tcp && Near(a.cpu_seconds, b.cpu_seconds, 0.005, 0) &&
         Near(a.memory_usage, b.memory_usage, 256 << 10, 0.01) &&
         Near(a.working_set, b.working_set, 256 << 10, 0.01) && a.memory_limit == b.memory_limit;
}

std::string Describe(const ContainerView& view) {
  std::ostringstream out;
  out << "container=" << view.names.at("container") << " image=" << view.names.at("image")
      << " cpu=" << view.cpu_seconds << "s usage=" << view.memory_usage
      << " working_set=" << view.working_set << " limit=" << view.memory_limit << " tcp{"
      << FormatTcpStates(view.tcp) << "}";
  return out.str();
}

// Burns CPU for a moment (so its usage is well above 0 and then constant), then holds 2 LISTEN
// sockets and one established pair, and says so with /ready.
constexpr char kWorkload[] =
    "u() { i=0; until eval \"$1\"; do i=$((i+1)); "
    "[ $i -gt 600 ] && { echo \"gave up waiting for: $1\" >&2; exit 1; }; sleep 0.05; done; }; "
    "n=0; while [ $n -lt 100000 ]; do n=$((n+1)); done; "
    "nc -l -p 8080 & nc -l -p 8081 & "
    "sleep 3600 | nc -l -p 9000 & u 'netstat -ltn | grep -q \":9000 \"'; "
    "sleep 3600 | nc 127.0.0.1 9000 & u 'netstat -tn | grep -q ESTABLISHED'; "
    "touch /ready; exec sleep 3600";

TEST(ImageTest, DaemonSetSecurityContextUnderDockerReportsWhatTheHostAgentReports) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  const DaemonSetAsDocker spec = TranslateDaemonSet();
  for (const std::string& arg : spec.args) {
    ASSERT_NE(arg, "--privileged") << "the default DaemonSet must not be privileged";
  }
  std::cout << "docker run";
  for (const std::string& arg : spec.args) std::cout << " " << arg;
  std::cout << " " << kImage;
  for (const std::string& arg : spec.command) std::cout << " " << arg;
  std::cout << "\n";

  // The containers to report on: one with a memory limit, one without.
  Container web("pst-image-web-" + RandomHex(8), {"--memory=64m"}, kWorkload);
  Container other("pst-image-other-" + RandomHex(8), {}, kWorkload);
  for (const Container* c : {&web, &other}) {
    c->AwaitFile("/ready");
    c->AwaitTcpStates(TcpStates({{"listen", 2}, {"established", 2}}));
  }

  Agent host;
  ASSERT_TRUE(host.WaitHealthy()) << host.Stderr();
  PodstatContainer pod("pst-image-podstat-" + RandomHex(8), spec);

  // Ready as the DaemonSet's probes see it: /healthz answers 200 once the first collection is done.
  HttpResponse health;
  PollUntil(
      [&] {
        try {
          health = pod.Get(spec.port, spec.health_path);
        } catch (const std::exception&) {
          return false;  // not listening yet
        }
        return health.status == 200;
      },
      kConditionTimeout, 200ms);
  ASSERT_EQ(health.status, 200) << pod.Logs();

  // Both agents see every container the same way, and as Docker and ss do.
  std::map<std::string, ContainerView> in_host, in_pod;
  PollUntil(
      [&] {
        const auto host_samples = ParseExposition(host.Scrape());
        const HttpResponse page = pod.Get(spec.port, "/metrics");
        if (page.status != 200) throw std::runtime_error("podstat in the image: " + page.body);
        const auto pod_samples = ParseExposition(page.body);
        bool agreed = true;
        for (const Container* c : {&web, &other}) {
          in_host[c->name()] = ViewOf(host_samples, c->cgroup());
          in_pod[c->name()] = ViewOf(pod_samples, c->cgroup());
          agreed = agreed && Agree(in_host[c->name()], in_pod[c->name()]) &&
                   in_pod[c->name()].tcp == ReportedTcpStates(c->pid());
        }
        return agreed;
      },
      kConditionTimeout, 500ms);
  for (const Container* c : {&web, &other}) {
    const ContainerView& view = in_pod[c->name()];
    std::cout << "host agent:    " << Describe(in_host[c->name()]) << "\n"
              << "podstat image: " << Describe(view) << "\n";
    EXPECT_TRUE(Agree(in_host[c->name()], view)) << pod.Logs();
    EXPECT_EQ(view.names,
              (Labels{{"container", c->name()}, {"image", c->image()}, {"container_id", c->id()}}));
    EXPECT_EQ(view.tcp, ReportedTcpStates(c->pid()));
    EXPECT_EQ(view.tcp.at("listen"), 2);
    EXPECT_GT(view.cpu_seconds, 0.01) << "the workload's busy loop is not in its CPU";
    // The kernel's own numbers for the cgroup.
    const std::string memory = MemoryCgroupOf(c->pid());
    EXPECT_TRUE(
        Near(view.memory_usage, ReadNumber(memory + "/memory.usage_in_bytes"), 256 << 10, 0.01))
        << memory;
  }
  EXPECT_EQ(in_pod[web.name()].memory_limit, 64 << 20);
  EXPECT_EQ(in_pod[other.name()].memory_limit, -1) << "unlimited: no series";

  // The same programs attached and sources in use as on the host.
  const auto pod_samples = ParseExposition(pod.Get(spec.port, "/metrics").body);
  const auto host_samples = ParseExposition(host.Scrape());
  for (const char* family : {"podstat_bpf_program_attached", "podstat_source_active"}) {
    std::map<std::string, double> in_pod_family, in_host_family;
    for (const Sample& s : SamplesNamed(pod_samples, family)) {
      in_pod_family[FormatSample(s)] = s.value;
    }
    for (const Sample& s : SamplesNamed(host_samples, family)) {
      in_host_family[FormatSample(s)] = s.value;
    }
    EXPECT_EQ(in_pod_family, in_host_family) << family;
  }
  EXPECT_EQ(FindSample(pod_samples, "podstat_source_active", {{"source", "bpf_tcp"}}), 1);
  EXPECT_EQ(FindSample(pod_samples, "podstat_source_active", {{"source", "bpf_cpu"}}), 1);

  // No capability reported missing; after attach the agent holds SYS_ADMIN, SYS_PTRACE and
  // DAC_READ_SEARCH only.
  const std::string logs = pod.Logs();
  EXPECT_EQ(logs.find("level=warn component=main msg=\"no cap_"), std::string::npos) << logs;
  EXPECT_EQ(EffectiveCapabilities(pod.pid()), (uint64_t{1} << CAP_SYS_ADMIN) |
                                                  (uint64_t{1} << CAP_SYS_PTRACE) |
                                                  (uint64_t{1} << CAP_DAC_READ_SEARCH));

  // bpftool works from the pod (`kubectl exec ... -- bpftool`), on the maps --bpf.pin pinned.
  const std::string programs = Docker({"exec", pod.name(), "bpftool", "prog", "show"});
  for (const char* program : {"name ps_state_", "name ps_switch_"}) {
    EXPECT_NE(programs.find(program), std::string::npos) << program << " not in\n" << programs;
  }
  const std::string tcp_map = Docker({"exec", pod.name(), "bpftool", "map", "dump", "pinned",
                                      "/sys/fs/bpf/podstat/ps_tcp_states"});
  EXPECT_NE(tcp_map.find("key"), std::string::npos) << tcp_map;

  // `podstat --check` runs in the image, with the DaemonSet's privileges, and finds nothing
  // missing.
  std::vector<std::string> check = {"run", "--rm", "--label", kTestLabel};
  check.insert(check.end(), spec.args.begin(), spec.args.end());
  check.push_back(kImage);
  check.insert(check.end(), spec.command.begin(), spec.command.end());
  check.push_back("--check");
  const std::string checked = Docker(check);  // throws, with the output, unless it exits 0
  EXPECT_NE(checked.find("result: ok"), std::string::npos) << checked;

  const std::string charged = MemoryCgroupOf(pod.pid());
  std::cout << "podstat container: memory charged "
            << ReadNumber(charged + "/memory.usage_in_bytes") << " bytes (limit "
            << ReadNumber(charged + "/memory.limit_in_bytes") << ")\n";
}

}  // namespace
}  // namespace podstat::testing
