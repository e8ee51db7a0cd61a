// CPU counters across cgroup removal, against the real binary: a departed container's CPU time
// stays in its pod's (and the root's) container_cpu_usage_seconds_total, and the BPF map entries
// of removed cgroups are deleted even when ids can only be resolved by walking the hierarchy.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "podstat/util/file.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;

std::string RandomHex(size_t digits) {
  std::random_device random;
  std::string hex;
  for (size_t i = 0; i < digits; ++i) hex += "0123456789abcdef"[random() % 16];
  return hex;
}

std::string RandomPodUid() {
  const std::string hex = RandomHex(32);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

// Removes an empty cgroup directory, waiting out EBUSY while an exited task is still leaving.
void RemoveCgroup(const std::string& dir) {
  int error = 0;
  PollUntil([&] {
    error = ::rmdir(dir.c_str()) == 0 ? 0 : errno;
    return error != EBUSY;
  });
  if (error != 0 && error != ENOENT) {
    throw std::runtime_error("rmdir " + dir + ": " + std::strerror(error));
  }
}

// Nested cgroup directories under one TestCgroup, removed deepest first however the test ends.
class CgroupTree {
 public:
  explicit CgroupTree(const TestCgroup& base) : base_(base) {}
  ~CgroupTree() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      try {
        RemoveCgroup(*it);
      } catch (const std::exception& error) {
        ADD_FAILURE() << error.what();
      }
    }
  }
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;

  // Makes base/<relative> (and its missing parents); returns its absolute path.
  std::string Make(const std::string& relative) {
    std::string dir = base_.dir();
    for (const auto& part : std::filesystem::path(relative)) {
      dir += '/';  // appended in place: `"/" + string` trips GCC 12's false -Wrestrict (PR 105329)
      dir += part.string();
      if (::mkdir(dir.c_str(), 0755) == 0) {
        made_.push_back(dir);
      } else if (errno != EEXIST) {
        throw std::runtime_error("mkdir " + dir + ": " + std::strerror(errno));
      }
    }
    return dir;
  }
  // Removes one directory made here (it must be empty of tasks and children).
  void Remove(const std::string& dir) {
    RemoveCgroup(dir);
    std::erase(made_, dir);
  }

 private:
  const TestCgroup& base_;
  std::vector<std::string> made_;
};

// Forks a child that joins `cgroup_dir`, spins for `cpu` of its own CPU time and exits; returns
// once it has been reaped (so it has left the cgroup and its last slice has been switched out).
void BurnIn(const std::string& cgroup_dir, std::chrono::nanoseconds cpu) {
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork");
  if (child == 0) {
    std::ofstream(cgroup_dir + "/cgroup.procs") << ::getpid() << std::flush;
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    const auto until =
        std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec) + cpu;
    volatile uint64_t spin = 0;
    for (;;) {
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
      if (std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec) >= until) break;
      for (int i = 0; i < 100000; ++i) spin = spin + 1;
    }
    ::_exit(0);
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the CPU burner in " + cgroup_dir + " failed");
  }
}

std::optional<double> CpuOf(const std::vector<Sample>& samples, const std::string& id) {
  return FindSample(samples, "container_cpu_usage_seconds_total", {{"id", id}});
}

// The kernel's own hierarchical count, cpu.stat usage_usec, in seconds.
double KernelUsage(const std::string& dir) {
  std::istringstream stat(ReadFile(dir + "/cpu.stat").value_or(""));
  std::string key;
  uint64_t value = 0;
  while (stat >> key >> value) {
    if (key == "usage_usec") return static_cast<double>(value) / 1e6;
  }
  return -1;
}

// A pod (cgroupfs driver layout) whose container cgroup burns a second of CPU, exits and is
// removed: the pod's and the root's counters must not drop with it, as the kernel's do not.
TEST(AgentCpuFoldingTest, PodAndRootCountersSurviveTheRemovalOfAContainerCgroup) {
  PODSTAT_REQUIRE_PRIVILEGES();
  TestCgroup base;
  CgroupTree tree(base);
  const std::string pod_relative = "kubepods/burstable/pod" + RandomPodUid();
  const std::string pod_dir = tree.Make(pod_relative);
  const std::string container_dir = tree.Make(pod_relative + "/" + RandomHex(64));
  const std::string pod_id = base.id() + "/" + pod_relative;
  const std::string container_id = container_dir.substr(CgroupV2Mount().size());

  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  WaitUntil([&] { return CpuOf(ParseExposition(agent.Scrape()), pod_id).has_value(); },
            "the pod's CPU series");

  constexpr auto kBurn = 1000ms;
  BurnIn(container_dir, kBurn);
  std::vector<Sample> before;
  ASSERT_TRUE(PollUntil(
      [&] {
        before = ParseExposition(agent.Scrape());
        return CpuOf(before, container_id).value_or(0) >= 0.9;
      },
      kConditionTimeout, 50ms))
      << "the container's burn never showed: " << CpuOf(before, container_id).value_or(-1);
  const double pod_before = CpuOf(before, pod_id).value_or(-1);
  const double root_before = CpuOf(before, "/").value_or(-1);
  const double kernel_before = KernelUsage(pod_dir);

  tree.Remove(container_dir);
  // A few collections: the one that first misses the container, and those after its map entry
  // went.
  double pod_last = pod_before, root_last = root_before;
  for (int scrape = 0; scrape < 3; ++scrape) {
    const std::vector<Sample> after = ParseExposition(agent.Scrape());
    EXPECT_FALSE(CpuOf(after, container_id)) << "the removed container is still reported";
    const double pod_now = CpuOf(after, pod_id).value_or(-1);
    const double root_now = CpuOf(after, "/").value_or(-1);
    std::printf(
        "scrape %d after rmdir: pod %.3f -> %.3f s (kernel %.3f -> %.3f), root %.3f -> %.3f\n",
        scrape, pod_before, pod_now, kernel_before, KernelUsage(pod_dir), root_before, root_now);
    EXPECT_GE(pod_now, pod_last) << "the pod's counter went down";
    EXPECT_GE(root_now, root_last) << "the root's counter went down";
    pod_last = pod_now;
    root_last = root_now;
  }
  EXPECT_GE(pod_last, 0.9) << "the pod lost its container's CPU time";
  EXPECT_NEAR(pod_last, KernelUsage(pod_dir), 0.1 * KernelUsage(pod_dir));

  // Then the pod goes too: the time folded into it moves on up.
  tree.Remove(pod_dir);
  for (int scrape = 0; scrape < 2; ++scrape) {
    const std::vector<Sample> after = ParseExposition(agent.Scrape());
    EXPECT_FALSE(CpuOf(after, pod_id)) << "the removed pod is still reported";
    const double root_now = CpuOf(after, "/").value_or(-1);
    std::printf("scrape %d after the pod's rmdir: root %.3f -> %.3f\n", scrape, root_last,
                root_now);
    EXPECT_GE(root_now, root_last) << "the root's counter went down";
    root_last = root_now;
  }
}

// A container that makes a sub-cgroup named after another container's id: the usage in it is
// the outer container's (as cgroup accounting counts it), never labelled with the other id.
TEST(AgentCpuFoldingTest, ASubCgroupNamedAfterAnotherContainerStaysTheOuterContainers) {
  PODSTAT_REQUIRE_PRIVILEGES();
  TestCgroup base;
  CgroupTree tree(base);
  const std::string outer = RandomHex(64), victim = RandomHex(64);
  const std::string outer_dir = tree.Make("docker/" + outer);
  const std::string impostor_dir = tree.Make("docker/" + outer + "/" + victim);

  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  BurnIn(impostor_dir, 300ms);
  std::vector<Sample> samples;
  PollUntil(
      [&] {
        samples = ParseExposition(agent.Scrape());
        return FindSample(samples, "container_cpu_usage_seconds_total", {{"container_id", outer}})
                   .value_or(0) >= 0.25;
      },
      kConditionTimeout, 50ms);
  const auto outer_cpu =
      FindSample(samples, "container_cpu_usage_seconds_total", {{"container_id", outer}});
  EXPECT_GE(outer_cpu.value_or(0), 0.25) << "the outer container lacks the time used below it";
  EXPECT_EQ(CpuOf(samples, outer_dir.substr(CgroupV2Mount().size())), outer_cpu);
  for (const Sample& sample : samples) {
    const auto label = sample.labels.find("container_id");
    EXPECT_FALSE(label != sample.labels.end() && label->second == victim)
        << sample.name << " is labelled with the id a sub-cgroup was named after";
  }
}

// ---------------------------------------------------------------------------------------------
// ps_cpu_cgroups as the agent holds it, found through its file descriptors.

// The agent's ps_cpu_cgroups: the map fd whose name matches, opened again by its id.
class AgentCpuMap {
 public:
  explicit AgentCpuMap(pid_t agent) {
    const std::string fds = "/proc/" + std::to_string(agent) + "/fdinfo";
    for (const auto& entry : std::filesystem::directory_iterator(fds)) {
      std::istringstream info(ReadFile(entry.path().string()).value_or(""));
      std::string key;
      uint32_t id = 0;
      for (std::string line; std::getline(info, line);) {
        if (line.starts_with("map_id:")) id = static_cast<uint32_t>(std::stoul(line.substr(7)));
      }
      if (id == 0) continue;
      const int fd = bpf_map_get_fd_by_id(id);
      if (fd < 0) continue;
      bpf_map_info map_info{};
      uint32_t length = sizeof(map_info);
      if (bpf_obj_get_info_by_fd(fd, &map_info, &length) == 0 &&
          std::string(map_info.name) == "ps_cpu_cgroups") {
        fd_ = fd;
        return;
      }
      ::close(fd);
    }
    throw std::runtime_error("the agent holds no ps_cpu_cgroups map");
  }
  ~AgentCpuMap() { ::close(fd_); }
  AgentCpuMap(const AgentCpuMap&) = delete;
  AgentCpuMap& operator=(const AgentCpuMap&) = delete;

  // Every cgroup id in the map (the key is the 8-byte cgroup id).
  std::set<uint64_t> Ids() const {
    std::set<uint64_t> ids;
    uint64_t key = 0, next = 0;
    const void* previous = nullptr;
    while (bpf_map_get_next_key(fd_, previous, &next) == 0 && ids.size() < 1'000'000) {
      ids.insert(next);
      key = next;
      previous = &key;
    }
    return ids;
  }

 private:
  int fd_ = -1;
};

bool HasEffectiveCapability(pid_t pid, int capability) {
  std::istringstream status(ReadFile("/proc/" + std::to_string(pid) + "/status").value_or(""));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("CapEff:")) {
      return (std::stoull(line.substr(7), nullptr, 16) >> capability) & 1;
    }
  }
  throw std::runtime_error("no CapEff in /proc/<pid>/status");
}

// Without CAP_DAC_READ_SEARCH open_by_handle_at fails with EPERM and the resolver walks. 40
// cgroups, each with a task that ran in it, come and go: their entries must leave the map.
TEST(AgentCpuFoldingTest, WalkingResolverDeletesTheEntriesOfRemovedCgroups) {
  PODSTAT_REQUIRE_PRIVILEGES();
  Agent agent({}, 0, {CAP_DAC_READ_SEARCH});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  ASSERT_FALSE(HasEffectiveCapability(agent.pid(), CAP_DAC_READ_SEARCH));
  const AgentCpuMap map(agent.pid());
  const size_t entries_before = map.Ids().size();

  std::set<uint64_t> departed;
  for (int i = 0; i < 40; ++i) {
    TestCgroup cgroup;
    BurnIn(cgroup.dir(), 5ms);
    ASSERT_TRUE(map.Ids().contains(cgroup.inode())) << "the burn left no entry in ps_cpu_cgroups";
    if (i % 2 == 0) agent.Scrape();  // some are seen by a collection, some never are
    departed.insert(cgroup.inode());
  }
  std::set<uint64_t> left;
  PollUntil(
      [&] {
        agent.Scrape();  // a collection
        left.clear();
        for (uint64_t id : map.Ids()) {
          if (departed.contains(id)) left.insert(id);
        }
        return left.empty();
      },
      kConditionTimeout, 100ms);
  std::printf("ps_cpu_cgroups: %zu entries before, %zu after; %zu of 40 removed cgroups left\n",
              entries_before, map.Ids().size(), left.size());
  EXPECT_TRUE(left.empty()) << left.size() << " of 40 removed cgroups are still in ps_cpu_cgroups";
}

}  // namespace
}  // namespace podstat::testing
