// End-to-end against a real dockerd (DESIGN.md §4, §7): busybox containers hold TCP sockets in
// known states in their own network namespaces, and the podstat binary must report, per container,
// the counts /proc shows for that namespace, labelled with the names Docker knows (or the
// Kubernetes names from io.kubernetes.* labels), and must forget a container once it is removed.
// Without a usable runtime API the counts must still be there, with container_id and id only.
#include "docker.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kTcpSockets[] = "container_tcp_sockets";
constexpr char kMetadataErrors[] = "podstat_metadata_errors_total";

// How long a change may take to reach /metrics: the agent samples on every scrape
// (--sample.max-age=0s), and refreshes Docker metadata at once for an unknown container (rate
// limited to once a second), so a few seconds is generous.
constexpr auto kSettle = 10s;

// Names of a container the agent has not seen before must come well before the metadata TTL
// (10 s) would refresh them anyway.
constexpr auto kUnknownIdRefresh = 5s;

// Shell prelude for the workloads: w PORT waits (at most 600 polls, ~30 s) until something listens
// on PORT, so a client never races its server's listen().
constexpr char kWaitForListener[] =
    "w() { i=0; until netstat -ltn | grep -q \":$1 \"; do i=$((i+1)); [ $i -gt 600 ] && return 1; "
    "sleep 0.05; done; }; ";

// 2 LISTEN + one established loopback pair (2 ESTABLISHED). busybox nc has no -k: a listener
// stays in LISTEN until its first connection, after which it serves that one connection only.
// Both ends read from a `sleep` pipe so neither sees EOF on stdin (busybox nc then half-closes).
const std::string kWebScript = std::string(kWaitForListener) +
                               "nc -l -p 8080 & nc -l -p 8081 & "
                               "sleep 3600 | nc -l -p 9000 & w 9000; "
                               "sleep 3600 | nc 127.0.0.1 9000 & "
                               "exec sleep 3600";

// 1 LISTEN + two established pairs (4 ESTABLISHED) + 1 TIME_WAIT: the client's stdin ends, it
// half-closes first, the server answers EOF by exiting, so the client side is the one left in
// TIME_WAIT (for 60 s, longer than any test here). TIME_WAIT sockets have no cgroup; podstat
// attributes them through the network namespace to its lowest pid, the container's init.
const std::string kDbScript = std::string(kWaitForListener) +
                              "nc -l -p 5432 & "
                              "sleep 3600 | nc -l -p 9001 & w 9001; "
                              "sleep 3600 | nc 127.0.0.1 9001 & "
                              "sleep 3600 | nc -l -p 9002 & w 9002; "
                              "sleep 3600 | nc 127.0.0.1 9002 & "
                              "sleep 3600 | nc -l -p 9100 >/dev/null & w 9100; "
                              "echo bye | nc 127.0.0.1 9100; "
                              "exec sleep 3600";

const TcpStateCounts kWebStates = TcpStates({{"listen", 2}, {"established", 2}});
const TcpStateCounts kDbStates = TcpStates({{"listen", 1}, {"established", 4}, {"time_wait", 1}});

// One listener, for the tests that are about labels rather than counts.
const std::string kListenerScript = "nc -l -p 8080 & exec sleep 3600";
const TcpStateCounts kListenerStates = TcpStates({{"listen", 1}});

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.insert(0, width - text.size(), ' ');
  return text;
}

std::string LabelOrEmpty(const Sample& sample, std::string_view label) {
  const auto it = sample.labels.find(label);
  return it == sample.labels.end() ? std::string() : it->second;
}

// What a plain Docker container's series must say about it (CONTRACT: container = Docker name
// without the leading '/', image = the API's "Image", no Kubernetes names, id = its cgroup).
Labels PlainDockerLabels(const Container& container) {
  return {{"namespace", ""},
          {"pod", ""},
          {"container", container.name()},
          {"container_id", container.id()},
          {"image", container.image()},
          {"id", container.cgroup()}};
}

// Scrapes until the agent reports, for container_id=<container.id()>, exactly one series per
// reported state (not close or new_syn_recv, which no source can count: /proc must show none
// either) whose value equals what /proc shows in the container's namespace right now, /proc equals
// `intended`, and every series carries `want_labels` (an absent label counts as ""). Gives up
// after `timeout` and then explains the last scrape state by state. On success, `took` (if given)
// says how long after the first scrape the agent got it right.
::testing::AssertionResult AgentReportsContainer(const Agent& agent, const Container& container,
                                                 const TcpStateCounts& intended,
                                                 const Labels& want_labels,
                                                 std::chrono::milliseconds timeout,
                                                 std::chrono::milliseconds* took = nullptr) {
  const auto start = std::chrono::steady_clock::now();
  for (int scrapes = 1;; ++scrapes) {
    bool ok = true;
    std::string report;
    try {
      const std::vector<Sample> samples = ParseExposition(agent.Scrape());
      const TcpStateCounts proc = CountTcpStates(container.pid());
      const std::vector<Sample> series =
          SamplesWithLabel(SamplesNamed(samples, kTcpSockets), "container_id", container.id());
      report = "  state         agent  intended  /proc\n";
      for (std::string_view state : kTcpStateNames) {
        const std::optional<double> got =
            FindSample(series, kTcpSockets, {{"state", std::string(state)}});
        const int64_t in_proc = proc.at(std::string(state));
        const int64_t wanted = intended.at(std::string(state));
        const bool reported = IsReportedTcpState(state);
        const bool row_ok = reported
                                ? got && *got == static_cast<double>(in_proc) && in_proc == wanted
                                : !got && in_proc == 0 && wanted == 0;
        ok = ok && row_ok;
        const std::string got_text =
            got ? std::to_string(static_cast<long long>(*got)) : std::string("absent");
        report += "  " + std::string(state) + std::string(13 - state.size(), ' ') +
                  Pad(got_text, 6) + Pad(std::to_string(wanted), 10) +
                  Pad(std::to_string(in_proc), 7) + (row_ok ? "" : "   <-- differs") +
                  (reported ? "" : "   (not reported)") + "\n";
      }
      if (series.size() != kReportedTcpStateCount) {
        ok = false;
        report += "  " + std::to_string(series.size()) + " series carry container_id=\"" +
                  container.id() + "\", want one per reported state (" +
                  std::to_string(kReportedTcpStateCount) + ")\n";
      }
      // One line per wrong label (not per series: all 10 states usually agree), with an example.
      for (const auto& [label, want] : want_labels) {
        size_t wrong = 0;
        const Sample* example = nullptr;
        for (const Sample& sample : series) {
          if (LabelOrEmpty(sample, label) == want) continue;
          ++wrong;
          if (example == nullptr) example = &sample;
        }
        if (wrong == 0) continue;
        ok = false;
        report += "  label " + label + "=\"" + LabelOrEmpty(*example, label) + "\", want \"" +
                  want + "\", in " + std::to_string(wrong) + " of " +
                  std::to_string(series.size()) + " series, e.g. " + FormatSample(*example) + "\n";
      }
      if (series.empty()) {
        // Say what the agent did export for the container's cgroup, if anything.
        const std::vector<Sample> by_id =
            SamplesWithLabel(SamplesNamed(samples, kTcpSockets), "id", container.cgroup());
        report += "  series with id=\"" + container.cgroup() +
                  "\": " + (by_id.empty() ? "none" : "") + "\n";
        for (const Sample& sample : by_id) report += "    " + FormatSample(sample) + "\n";
      }
    } catch (const std::exception& e) {
      ok = false;
      report = std::string("  ") + e.what() + "\n";
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (ok) {
      if (took != nullptr) *took = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
      return ::testing::AssertionSuccess();
    }
    if (elapsed >= timeout) {
      return ::testing::AssertionFailure()
             << kTcpSockets << "{container_id=\"" << container.id() << "\"} (container "
             << container.name() << ", cgroup " << container.cgroup() << ") still wrong after "
             << scrapes << " scrape(s) in "
             << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms:\n"
             << report;
    }
    std::this_thread::sleep_for(100ms);
  }
}

// Scrapes until no series of any metric carries the removed container's id, as container_id or
// as the cgroup path in `id`.
::testing::AssertionResult ContainerForgotten(const Agent& agent, const std::string& container_id,
                                              const std::string& cgroup,
                                              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string left;
    try {
      const std::vector<Sample> samples = ParseExposition(agent.Scrape());
      for (const Sample& sample : SamplesWithLabel(samples, "container_id", container_id)) {
        left += "  " + FormatSample(sample) + "\n";
      }
      for (const Sample& sample : SamplesWithLabel(samples, "id", cgroup)) {
        if (LabelOrEmpty(sample, "container_id") != container_id) {
          left += "  " + FormatSample(sample) + "\n";
        }
      }
    } catch (const std::exception& e) {
      left = std::string("  ") + e.what() + "\n";
    }
    if (left.empty()) return ::testing::AssertionSuccess();
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "series of the removed container " << container_id
                                           << " (cgroup " << cgroup << ") are still exported:\n"
                                           << left;
    }
    std::this_thread::sleep_for(100ms);
  }
}

// Series of cgroups that are not containers (the root, the test's own cgroup, system services)
// carry no names: every series without a container_id has empty namespace, pod, container and
// image. At least the root's (id="/": the host namespace's TIME_WAIT, the agent's listener)
// must be there.
void ExpectNonContainerSeriesUnnamed(const Agent& agent) {
  const std::vector<Sample> series = SamplesNamed(ParseExposition(agent.Scrape()), kTcpSockets);
  size_t unnamed = 0;
  for (const Sample& sample : series) {
    if (!LabelOrEmpty(sample, "container_id").empty()) continue;
    ++unnamed;
    for (const char* label : {"namespace", "pod", "container", "image"}) {
      EXPECT_EQ(LabelOrEmpty(sample, label), "")
          << "a series without container_id has " << label << ": " << FormatSample(sample);
    }
  }
  EXPECT_FALSE(SamplesWithLabel(series, "id", "/").empty()) << "no series for the root cgroup";
  EXPECT_GT(unnamed, 0u);
}

// Removes the container (docker rm -f) and expects the agent to drop all its series.
void RemoveAndExpectForgotten(const Agent& agent, Container& container) {
  const std::string id = container.id();
  const std::string cgroup = container.cgroup();
  container.Remove();
  EXPECT_TRUE(ContainerForgotten(agent, id, cgroup, kSettle))
      << "after `docker rm -f " << container.name() << "`";
}

// Scrapes until podstat_metadata_errors_total{provider="docker"} is positive.
::testing::AssertionResult DockerMetadataErrorsCounted(const Agent& agent,
                                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string last;
    try {
      const std::optional<double> errors =
          FindSample(ParseExposition(agent.Scrape()), kMetadataErrors, {{"provider", "docker"}});
      if (errors && *errors > 0) return ::testing::AssertionSuccess();
      last = errors ? "is " + std::to_string(*errors) : "is not exported";
    } catch (const std::exception& e) {
      last = std::string("cannot be read: ") + e.what();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure() << kMetadataErrors << "{provider=\"docker\"} " << last
                                           << ": the failed metadata fetches must be counted";
    }
    std::this_thread::sleep_for(100ms);
  }
}

// A unix socket that accepts connections (the kernel queues them) but never answers: a wedged
// runtime daemon. Removed with the object.
class SilentUnixListener {
 public:
  SilentUnixListener() {
    path_ = "/tmp/podstat-e2e-silent-" + RandomHex(12) + ".sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket(AF_UNIX): ") + std::strerror(errno));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    // A large backlog, so that an agent retrying every second keeps connecting (and waiting).
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 1024) != 0) {
      const int saved = errno;
      ::close(fd_);
      throw std::runtime_error("bind/listen " + path_ + ": " + std::strerror(saved));
    }
  }
  ~SilentUnixListener() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  SilentUnixListener(const SilentUnixListener&) = delete;
  SilentUnixListener& operator=(const SilentUnixListener&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Both orders matter: containers that exist before the agent starts are found by sock_diag
// seeding and by the first metadata refresh; containers started afterwards by the tracepoint and
// by the refresh an unknown container id triggers.
enum class Order { kContainersFirst, kAgentFirst };

void RunPlainContainersTest(Order order) {
  const std::string suffix = RandomHex(8);
  std::optional<Agent> agent;
  if (order == Order::kAgentFirst) {
    agent.emplace();
    ASSERT_TRUE(agent->WaitHealthy()) << "podstat never became healthy (output below)";
  }
  Container web("pst-web-" + suffix, {}, kWebScript);
  Container db("pst-db-" + suffix, {}, kDbScript);
  web.AwaitTcpStates(kWebStates);
  db.AwaitTcpStates(kDbStates);
  // What this test expects Docker to have done; if these fail, the environment changed, not
  // podstat.
  ASSERT_EQ(web.image(), kTestImage);
  ASSERT_EQ(web.cgroup(), "/docker/" + web.id()) << "dockerd is expected to use cgroupfs here";
  ASSERT_EQ(db.cgroup(), "/docker/" + db.id());
  if (order == Order::kContainersFirst) {
    agent.emplace();
    ASSERT_TRUE(agent->WaitHealthy()) << "podstat never became healthy (output below)";
  }

  if (order == Order::kContainersFirst) {
    // The agent fetches names once before it serves (main.cc: WaitForFirstRound), so that
    // Prometheus never records a nameless series for a container that was there all along.
    EXPECT_TRUE(AgentReportsContainer(*agent, web, kWebStates, PlainDockerLabels(web), 0ms))
        << "containers that existed before the agent must be counted and named from the first "
           "scrape on";
  }
  std::chrono::milliseconds took{};
  EXPECT_TRUE(
      AgentReportsContainer(*agent, web, kWebStates, PlainDockerLabels(web), kSettle, &took));
  if (order == Order::kAgentFirst) {
    // An unknown container id triggers a refresh at once (rate-limited to 1/s), so names come
    // within about a second of the first collection that sees the container, not after the
    // 10 s TTL.
    EXPECT_LT(took, kUnknownIdRefresh)
        << "names of a new container took " << took.count()
        << " ms to appear: no prompt refresh for an unknown container id?";
  }
  EXPECT_TRUE(AgentReportsContainer(*agent, db, kDbStates, PlainDockerLabels(db), kSettle));
  ExpectNonContainerSeriesUnnamed(*agent);

  // One at a time: the other container's series must survive its neighbour's removal.
  RemoveAndExpectForgotten(*agent, web);
  EXPECT_TRUE(AgentReportsContainer(*agent, db, kDbStates, PlainDockerLabels(db), 0ms))
      << "after removing the other container " << web.name();
  RemoveAndExpectForgotten(*agent, db);
}

TEST(DockerTest, ContainersStartedBeforeAgentAreSeededAndNamed) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  RunPlainContainersTest(Order::kContainersFirst);
}

TEST(DockerTest, ContainersStartedAfterAgentAreCountedAndNamed) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  RunPlainContainersTest(Order::kAgentFirst);
}

// A container shaped as the kubelet's dockershim (or cri-dockerd) makes it: in the pod's cgroup
// below a QoS class, with the pod's names in io.kubernetes.* labels. The Docker name is not the
// Kubernetes container name, so a `container` label of "web" can only come from the labels.
TEST(DockerTest, KubernetesLabelsGiveNamespacePodAndContainer) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  const std::string uid = RandomUuid();
  const std::string parent = "/kubepods/besteffort/pod" + uid;
  // Declared before the container, so it runs after the container is gone.
  CgroupParentCleanup cleanup(parent);
  Container web("pst-k8s-" + RandomHex(8),
                {"--cgroup-parent=" + parent, "--label", "io.kubernetes.pod.name=web-0", "--label",
                 "io.kubernetes.pod.namespace=shop", "--label", "io.kubernetes.container.name=web",
                 "--label", "io.kubernetes.pod.uid=" + uid},
                kListenerScript);
  web.AwaitTcpStates(kListenerStates);
  ASSERT_EQ(web.cgroup(), parent + "/" + web.id())
      << "docker did not put the container where --cgroup-parent says (/proc/" << web.pid()
      << "/cgroup)";

  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << "podstat never became healthy (output below)";
  const Labels want = {{"namespace", "shop"},      {"pod", "web-0"},       {"container", "web"},
                       {"container_id", web.id()}, {"image", web.image()}, {"id", web.cgroup()}};
  EXPECT_TRUE(AgentReportsContainer(agent, web, kListenerStates, want, kSettle));

  RemoveAndExpectForgotten(agent, web);
}

// The runtime's API is gone (a wrong endpoint stands in for a dead dockerd): names are unknown,
// but the counts, container_id (from the cgroup path) and id must still be exported, scrapes must
// still answer, and the failures must be counted.
TEST(DockerTest, DeadRuntimeKeepsCountsWithoutNames) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  Container web("pst-noapi-" + RandomHex(8), {}, kListenerScript);
  web.AwaitTcpStates(kListenerStates);

  Agent agent({"--runtime.docker-endpoint=/nonexistent.sock"});
  ASSERT_TRUE(agent.WaitHealthy()) << "podstat never became healthy (output below)";
  const HttpResponse response = agent.Get("/metrics");
  EXPECT_EQ(response.status, 200) << response.body.substr(0, 500);
  const Labels want = {{"namespace", ""},          {"pod", ""},   {"container", ""},
                       {"container_id", web.id()}, {"image", ""}, {"id", web.cgroup()}};
  EXPECT_TRUE(AgentReportsContainer(agent, web, kListenerStates, want, kSettle));

  EXPECT_TRUE(DockerMetadataErrorsCounted(agent, kSettle));

  RemoveAndExpectForgotten(agent, web);
}

// A runtime that accepts connections and never answers must not delay scrapes (metadata is
// refreshed off the scrape path) nor keep the agent from shutting down on SIGTERM (the Agent
// destructor fails the test if it takes more than 5 s).
TEST(DockerTest, HungRuntimeNeverBlocksScrapes) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  SilentUnixListener silent;
  Container web("pst-hung-" + RandomHex(8), {}, kListenerScript);
  web.AwaitTcpStates(kListenerStates);

  Agent agent({"--runtime.docker-endpoint=" + silent.path()});
  ASSERT_TRUE(agent.WaitHealthy()) << "podstat never became healthy (output below)";
  const Labels want = {{"namespace", ""},          {"pod", ""},   {"container", ""},
                       {"container_id", web.id()}, {"image", ""}, {"id", web.cgroup()}};
  EXPECT_TRUE(AgentReportsContainer(agent, web, kListenerStates, want, kSettle));

  // Scrapes spread over a few refresh periods (rate limit 1/s): each must answer promptly. The
  // 300 ms spacing is the workload (scrapes that meet fresh refresh attempts), not a wait.
  constexpr auto kMaxScrape = 1s;
  for (int i = 0; i < 10; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const HttpResponse response = agent.Get("/metrics");
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(response.status, 200) << response.body.substr(0, 500);
    EXPECT_LT(took, kMaxScrape)
        << "scrape " << i << " took "
        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
        << " ms while the runtime API hangs";
    std::this_thread::sleep_for(300ms);
  }
  // A request that never gets an answer is a failure too, once the agent stops waiting for it.
  EXPECT_TRUE(DockerMetadataErrorsCounted(agent, kSettle));
}

}  // namespace
}  // namespace podstat::testing
