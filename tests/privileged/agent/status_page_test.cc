// The status page at `/` (issue 13, item 5) as a browser renders it: the real agent, a container
// cgroup whose name is markup, and Debian's headless Chromium dumping the DOM it built from the
// page. The name must be text in that DOM, never an element.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr std::string_view kContainerId =
    "5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e5a7e";
// A valid cgroup directory name (no '/'): an element with a script handler if it became markup.
constexpr std::string_view kHostileName = "<img src=x onerror=alert(1)>";
constexpr int kListeners = 40;  // enough to be in the top 10 by open sockets on a busy host

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/podstat-chromium-XXXXXX";
    if (!::mkdtemp(name)) throw std::runtime_error("mkdtemp failed");
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AgentStatusPageTest, ChromiumShowsAHostileContainerNameAsText) {
  PODSTAT_REQUIRE_PRIVILEGES();
  if (::access(kChromium, X_OK) != 0) {
    GTEST_SKIP() << "SKIPPED: " << kChromium
                 << " is missing: install Debian's `chromium` (scripts/install-deps.sh) to render "
                    "the status page in a real browser";
  }
  TestCgroup top;
  TestCgroup hostile(top, kHostileName);
  TestCgroup container(hostile, "docker-" + std::string(kContainerId) + ".scope");
  SocketWorkload workload(container, Netns::kOwn);
  workload.Listen(kListeners);

  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << "podstat never became healthy";
  const bool reported = PollUntil([&] {
    const auto listeners =
        FindSample(ParseExposition(agent.Scrape()), "container_tcp_sockets",
                   {{"container_id", std::string(kContainerId)}, {"state", "listen"}});
    return listeners && *listeners == kListeners;
  });
  ASSERT_TRUE(reported) << "the hostile container's " << kListeners
                        << " listeners never appeared on /metrics";

  // The page as served: the name escaped by the agent itself.
  const HttpResponse page = agent.Get("/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("/&lt;img src=x onerror=alert(1)&gt;/docker-"), std::string::npos)
      << page.body;

  // The DOM Chromium built from it, on stdout; its stderr (D-Bus complaints and the like) aside.
  // Chromium can take a while to start on a loaded machine.
  TempDir profile;
  const std::string stderr_path = profile.path() + "/stderr";
  const CommandResult chromium =
      RunCommand({"sh", "-c", "exec \"$@\" 2>\"$0\"", stderr_path, "timeout", "--kill-after=10",
                  "60", kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--user-data-dir=" + profile.path() + "/profile", "--dump-dom",
                  "http://" + agent.address() + "/"},
                 "");
  ASSERT_TRUE(chromium.exited_zero())
      << "chromium: " << DescribeWaitStatus(chromium.wait_status) << "\nstdout:\n"
      << chromium.output << "\nstderr:\n"
      << ReadFile(stderr_path);
  const std::string& dom = chromium.output;
  for (const char* heading :
       {"<h1>podstat status</h1>", "<h2>Agent</h2>", "<h2>eBPF programs</h2>", "<h2>Sources</h2>",
        "<h2>Drops and drift</h2>", "<h2>Top containers by open sockets</h2>",
        "<h2>Top containers by CPU", "<h2>Metadata providers</h2>"}) {
    EXPECT_NE(dom.find(heading), std::string::npos) << "no " << heading << " in the DOM";
  }
  // Text in the DOM: serialised back with its '<' and '>' as references.
  const std::string as_text =
      "/&lt;img src=x onerror=alert(1)&gt;/docker-" + std::string(kContainerId) + ".scope";
  EXPECT_NE(dom.find(as_text), std::string::npos) << "the hostile name is not text in the DOM";
  // An element made from it would be serialised as <img src="x" onerror="alert(1)">.
  EXPECT_EQ(dom.find("<img src=\"x\""), std::string::npos) << "an <img> element was made";
  EXPECT_EQ(dom.find("<img"), std::string::npos);
  // And the container is where a person looks for it: among the top by open sockets.
  const size_t sockets = dom.find("<h2>Top containers by open sockets</h2>");
  const size_t cpu = dom.find("<h2>Top containers by CPU");
  ASSERT_NE(sockets, std::string::npos);
  ASSERT_NE(cpu, std::string::npos);
  const size_t row = dom.find(as_text, sockets);
  EXPECT_TRUE(row != std::string::npos && row < cpu) << "not among the top by open sockets";
  EXPECT_NE(dom.find(">" + std::to_string(kListeners) + "<", sockets), std::string::npos);
  if (HasFailure())
    std::printf("---- the DOM Chromium dumped ----\n%s\n---- end ----\n", dom.c_str());
}

}  // namespace
}  // namespace podstat::testing
