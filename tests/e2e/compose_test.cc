// deploy/docker/compose.yaml brought up as deploy/README.md tells a Docker host's operator to
// (`docker-compose up -d`, Debian's docker-compose 1.29), unchanged but for an override file
// that names the e2e image (the fixture image_e2e_build) and the container, and PODSTAT_PORT,
// the compose file's own knob for the published port. podstat must answer on the host's port
// and name a real container with its TCP states. validate.js checks that the file grants what
// the DaemonSet grants; image_test.cc compares that set's numbers with a host-run agent.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "docker.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;

class ComposeProject {
 public:
  ComposeProject(std::string project, uint16_t port) : project_(std::move(project)), port_(port) {
    char dir[] = "/tmp/podstat-compose-XXXXXX";
    if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp");
    override_ = std::string(dir) + "/override.yaml";
    std::ofstream(override_) << "services:\n"
                                "  podstat:\n"
                                "    image: podstat-e2e:latest\n"
                                "    container_name: "
                             << project_ << "\n    labels: [\"" << kTestLabel << "\"]\n";
  }
  ~ComposeProject() {
    const CommandResult down = Run({"down", "--timeout", "10"});
    if (!down.exited_zero()) std::cerr << "docker-compose down: " << down.output << "\n";
    std::remove(override_.c_str());
    std::remove(override_.substr(0, override_.rfind('/')).c_str());
  }
  ComposeProject(const ComposeProject&) = delete;
  ComposeProject& operator=(const ComposeProject&) = delete;

  // docker-compose -p <project> -f deploy/docker/compose.yaml -f <override> <args>, bounded by
  // timeout(1) so a wedged daemon fails the test instead of hanging it.
  CommandResult Run(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {
        "timeout",
        "120",
        "env",
        "PODSTAT_PORT=" + std::to_string(port_),
        "docker-compose",
        "-p",
        project_,
        "-f",
        std::string(PODSTAT_SOURCE_DIR) + "/deploy/docker/compose.yaml",
        "-f",
        override_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "");
  }

 private:
  std::string project_;
  uint16_t port_;
  std::string override_;
};

TEST(ComposeTest, ComposeFileRunsPodstatThatNamesContainers) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  const CommandResult version = RunCommand({"docker-compose", "version"}, "");
  ASSERT_TRUE(version.exited_zero())
      << "docker-compose (Debian package docker-compose, installed by `make test`): "
      << version.output;

  Container web("pst-compose-web-" + RandomHex(8), {},
                "nc -l -p 8080 & nc -l -p 8081 & touch /ready; exec sleep 3600");
  web.AwaitFile("/ready");
  web.AwaitTcpStates(TcpStates({{"listen", 2}}));

  const uint16_t port = FreeTcpPort();
  ComposeProject project("pst-compose-" + RandomHex(8), port);
  const CommandResult up = project.Run({"up", "--detach"});
  ASSERT_TRUE(up.exited_zero()) << up.output;

  // Published on the host as the compose file says; ready once the first collection is done.
  HttpResponse health;
  PollUntil(
      [&] {
        try {
          health = HttpGet(port, "/healthz");
        } catch (const std::exception&) {
          return false;  // not listening yet
        }
        return health.status == 200;
      },
      kConditionTimeout, 200ms);
  ASSERT_EQ(health.status, 200) << project.Run({"logs"}).output;

  std::optional<double> listening;
  PollUntil(
      [&] {
        listening =
            FindSample(ParseExposition(HttpGet(port, "/metrics").body), "container_tcp_sockets",
                       {{"id", web.cgroup()}, {"container", web.name()}, {"state", "listen"}});
        return listening == 2;
      },
      kConditionTimeout, 300ms);
  EXPECT_EQ(listening, 2) << "podstat from compose.yaml does not report " << web.name()
                          << " by name with its 2 listeners\n"
                          << project.Run({"logs"}).output;
}

}  // namespace
}  // namespace podstat::testing
