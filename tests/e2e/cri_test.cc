// The CRI provider against a real containerd (Debian's 1.6, CRI plugin on): the test starts its
// own containerd on its own socket, root and state directories under a temp dir, and stops only
// that one. The agent must fetch from it (the status page shows the provider ok), keep answering
// scrapes at once while it is dead (errors counted in podstat_metadata_errors_total{provider=
// "cri"}), and recover once it is back. Pods and containers created through the CRI, and their
// names on the series, are the next step of issue 16.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool IsSocket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// A containerd of the test's own. Restartable on the same directories, as a crashed runtime is.
class Containerd {
 public:
  Containerd() {
    char dir[] = "/tmp/podstat-containerd-XXXXXX";
    if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp");
    dir_ = dir;
    // restrict_oom_score_adj: the sandbox this runs in forbids lowering oom_score_adj, which the
    // CRI plugin otherwise does for sandboxes. No CNI: the tests' pods use the host's network.
    std::ofstream(dir_ + "/config.toml")
        << "version = 2\n"
           "root = \""
        << dir_ << "/root\"\nstate = \"" << dir_ << "/state\"\n[grpc]\n  address = \"" << socket()
        << "\"\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  restrict_oom_score_adj = true\n";
    Start();
  }
  ~Containerd() {
    Kill();
    std::error_code ignored;
    // Snapshots may still be mounted under root/ after a kill: unmount before removing.
    RunCommand({"umount", "-R", dir_ + "/root"}, "");
    std::filesystem::remove_all(dir_, ignored);
  }
  Containerd(const Containerd&) = delete;
  Containerd& operator=(const Containerd&) = delete;

  std::string socket() const { return dir_ + "/containerd.sock"; }

  void Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const std::string log = dir_ + "/containerd.log";
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      const std::string config = dir_ + "/config.toml";
      ::execlp("containerd", "containerd", "--config", config.c_str(), nullptr);
      ::_exit(127);
    }
    // Up when its CRI answers, not merely when the socket exists.
    WaitUntil(
        [&] {
          return IsSocket(socket()) &&
                 RunCommand({"ctr", "--address", socket(), "version"}, "").exited_zero();
        },
        "containerd on " + socket());
  }

  // SIGKILL, as a crash: no clean shutdown, the socket file stays behind.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string Log() const {
    std::ifstream in(dir_ + "/containerd.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// The provider's row on the status page says "ok" or "failing" (cell class "ok" or "bad").
bool CriRowSays(const Agent& agent, const std::string& state) {
  const HttpResponse page = agent.Get("/");
  const std::string css = state == "ok" ? "ok" : "bad";
  return page.body.find("<code>cri</code></td><td class=\"" + css + "\">" + state + "</td>") !=
         std::string::npos;
}

double CriErrors(const Agent& agent) {
  return FindSample(ParseExposition(agent.Scrape()), "podstat_metadata_errors_total",
                    {{"provider", "cri"}})
      .value_or(-1);
}

TEST(CriTest, RealContainerdIsListedAndItsDeathNeverDelaysAScrape) {
  PODSTAT_REQUIRE_PRIVILEGES();
  const CommandResult which =
      RunCommand({"sh", "-c", "command -v containerd && command -v ctr"}, "");
  ASSERT_TRUE(which.exited_zero())
      << "containerd and ctr (Debian package containerd): " << which.output;
  Containerd containerd;
  Agent agent(
      {"--runtime.cri-endpoint=" + containerd.socket(), "--metadata.refresh-interval=200ms"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  ASSERT_TRUE(PollUntil([&] { return CriRowSays(agent, "ok"); })) << agent.Stderr();
  EXPECT_EQ(CriErrors(agent), 0) << agent.Stderr();
  EXPECT_NE(agent.Stderr().find("the CRI at unix://" + containerd.socket()), std::string::npos)
      << agent.Stderr();

  containerd.Kill();
  ASSERT_TRUE(PollUntil([&] { return CriErrors(agent) > 0; })) << agent.Stderr();
  // Scrapes do not wait for the runtime: each is served from the snapshot, well within a second.
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    agent.Scrape();
    EXPECT_LT(Clock::now() - start, 1s) << "a scrape waited while containerd was dead";
  }
  EXPECT_TRUE(CriRowSays(agent, "failing")) << agent.Get("/").body;

  containerd.Start();
  EXPECT_TRUE(PollUntil([&] { return CriRowSays(agent, "ok"); }, 90s))
      << "the provider did not recover (its backoff is at most 60 s)\n"
      << agent.Stderr();
  EXPECT_NE(agent.Stderr().find("cri: recovered"), std::string::npos) << agent.Stderr();
}

}  // namespace
}  // namespace podstat::testing
