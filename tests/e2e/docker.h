// Support for the Docker end-to-end tests: the docker CLI run with a time limit, containers that
// are always removed (RAII), the cleanup of the pod cgroups a --cgroup-parent leaves behind, and
// the rule that decides whether a missing dockerd skips or fails a test.
//
// The image podstat-busybox:test and a running dockerd come from scripts/docker-test-env.sh start,
// which ctest runs as the fixture `docker` before these tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "support/workload.h"

namespace podstat::testing {

// The image every test container runs: busybox-static alone, built locally by
// scripts/docker-test-env.sh (so no registry or network is needed).
inline constexpr char kTestImage[] = "podstat-busybox:test";
// The image label docker-test-env.sh stamps on the image it builds, and the recipe version the
// tests need (all busybox applets; an image by another recipe may lack netstat).
inline constexpr char kTestImageVersionLabel[] = "podstat.test-image.version";
inline constexpr char kTestImageVersion[] = "1";
// Every test container carries this label; `docker-test-env.sh stop` removes what is left.
inline constexpr char kTestLabel[] = "podstat.test=1";
// Written by docker-test-env.sh when it started dockerd itself.
inline constexpr char kDockerdPidFile[] = "/run/podstat-test-dockerd.pid";
// Set by ctest (tests/e2e/CMakeLists.txt), where the `docker` fixture has run: docker is then
// required, and a missing daemon is a failure instead of a skip.
inline constexpr char kRequireDockerEnv[] = "PODSTAT_E2E_REQUIRE_DOCKER";

enum class DockerStatus { kUsable, kSkip, kFail };

// Whether docker can be used, and if not, why and whether that skips or fails the test.
DockerStatus CheckDocker(std::string* reason);

// Runs `docker <args>` (at most 60 s, so a wedged daemon fails the test instead of hanging it)
// and returns its stdout+stderr. Throws, with the output, when docker exits non-zero.
std::string Docker(const std::vector<std::string>& args);

// A short random lowercase hex string, to make names unique per test run.
std::string RandomHex(size_t length);

// A random RFC 4122 UUID, as Kubernetes pod uids look.
std::string RandomUuid();

// The cgroup v2 path of a process ("/docker/<id>"), from the "0::" line of /proc/<pid>/cgroup.
std::string CgroupV2PathOf(pid_t pid);

// A container of kTestImage running `sh -c <script>`, labelled kTestLabel. The destructor runs
// `docker rm -f`, so a failing test leaves nothing behind.
class Container {
 public:
  // `options` go between `docker run -d` and the image (e.g. --cgroup-parent, --label).
  Container(std::string name, const std::vector<std::string>& options, const std::string& script);
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  // `docker rm -f` now; throws if docker fails.
  void Remove();

  const std::string& name() const { return name_; }      // as given, without Docker's leading '/'
  const std::string& id() const { return id_; }          // 64 hex digits
  pid_t pid() const { return pid_; }                     // State.Pid: the container's init
  const std::string& image() const { return image_; }    // Config.Image
  const std::string& cgroup() const { return cgroup_; }  // cgroup v2 path of the init

  // Waits (up to kConditionTimeout) until /proc/<pid>/net/tcp{,6} of the container's network
  // namespace shows exactly `want`; throws with the difference otherwise. Keeps a test from
  // comparing the agent with a workload that never came up (0 == 0 would pass vacuously).
  void AwaitTcpStates(const TcpStateCounts& want) const;

  // Waits (up to kConditionTimeout) until `path` exists inside the container (seen through
  // /proc/<pid>/root): a workload script creates it once everything it sets up is in place.
  // Throws, with the container's output, when it never appears or the container stops.
  void AwaitFile(const std::string& path) const;

 private:
  // `docker logs` of the container, or why they could not be read: for failure messages.
  std::string LogsOrError() const;

  std::string name_;
  std::string id_;
  pid_t pid_ = -1;
  std::string image_;
  std::string cgroup_;
  bool removed_ = false;
};

// Removes the directories `docker run --cgroup-parent=<parent>` creates in every cgroup hierarchy
// (v1 controllers and v2) and leaves behind after the container is gone: the parent itself, and
// those of its ancestors that did not exist when this object was made. Only empty directories are
// removed (rmdir), so nothing that still holds a process is touched.
class CgroupParentCleanup {
 public:
  explicit CgroupParentCleanup(std::string parent);
  ~CgroupParentCleanup();
  CgroupParentCleanup(const CgroupParentCleanup&) = delete;
  CgroupParentCleanup& operator=(const CgroupParentCleanup&) = delete;

 private:
  struct Dir {
    std::string path;  // absolute
    bool ours;         // the parent itself; ancestors may be shared with others meanwhile
  };
  std::vector<Dir> to_remove_;  // per hierarchy, deepest first
};

}  // namespace podstat::testing

// Every Docker test starts with PODSTAT_REQUIRE_PRIVILEGES() and then this: without a usable
// dockerd the test is skipped loudly when run by hand, and fails when the ctest fixture that
// provides dockerd has run (then docker must work).
#define PODSTAT_REQUIRE_DOCKER()                                                       \
  do {                                                                                 \
    std::string podstat_docker_reason;                                                 \
    switch (::podstat::testing::CheckDocker(&podstat_docker_reason)) {                 \
      case ::podstat::testing::DockerStatus::kUsable:                                  \
        break;                                                                         \
      case ::podstat::testing::DockerStatus::kSkip:                                    \
        GTEST_SKIP() << "SKIPPED DOCKER TEST: " << podstat_docker_reason               \
                     << " -- run `scripts/docker-test-env.sh start` (or `make test`)"; \
      case ::podstat::testing::DockerStatus::kFail:                                    \
        FAIL() << "docker is required here but unusable: " << podstat_docker_reason;   \
    }                                                                                  \
  } while (0)
