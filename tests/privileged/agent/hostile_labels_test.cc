// Label values from names anyone may choose (issue 12, item 2): a cgroup named with invalid UTF-8,
// '"' and '\', a process that renamed itself with prctl(PR_SET_NAME), and network interfaces with
// such names. Before podstat escaped invalid bytes, `promtool check metrics` failed on the page
// with "invalid label value" and Prometheus dropped every series of the node with it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

std::string Label(const Sample& sample, const std::string& name) {
  const auto it = sample.labels.find(name);
  return it == sample.labels.end() ? std::string() : it->second;
}

// The container's series, once the agent reports its listener, its process and its interfaces.
std::vector<Sample> ContainerSeries(const std::vector<Sample>& samples) {
  return SamplesWithLabel(samples, "container_id", HostileContainer::kContainerId);
}

bool HasEverything(const std::vector<Sample>& series) {
  bool listener = false, process = false, interface = false;
  for (const Sample& sample : series) {
    listener = listener || (sample.name == "container_tcp_sockets" &&
                            Label(sample, "state") == "listen" && sample.value == 1);
    process = process || sample.name == "container_process_resident_memory_bytes";
    interface = interface || sample.name == "container_network_receive_bytes_total";
  }
  return listener && process && interface;
}

TEST(AgentHostileLabelsTest, InvalidUtf8QuotesAndNewlinesKeepThePageValid) {
  PODSTAT_REQUIRE_PRIVILEGES();
  HostileContainer hostile;
  Agent agent({"--collector.process"});
  ASSERT_TRUE(agent.WaitHealthy()) << "podstat never became healthy (output below)";

  std::string exposition;
  std::vector<Sample> series;
  const bool reported = PollUntil([&] {
    exposition = agent.Scrape();
    series = ContainerSeries(ParseExposition(exposition));
    return HasEverything(series);
  });
  ASSERT_TRUE(reported) << "the hostile container's series never all appeared; its series:\n"
                        << [&] {
                             std::string out;
                             for (const Sample& sample : series) out += FormatSample(sample) + "\n";
                             return out;
                           }();

  ExpectPromtoolAccepts(exposition);

  // Every series of the container carries the escaped path; the process its escaped comm and
  // pid; the interfaces their escaped names.
  std::set<std::string> ids, comms, interfaces;
  for (const Sample& sample : series) {
    ids.insert(Label(sample, "id"));
    if (sample.name.rfind("container_process_", 0) == 0) {
      comms.insert(Label(sample, "comm"));
      EXPECT_EQ(Label(sample, "pid"), std::to_string(hostile.workload().pid()))
          << FormatSample(sample);
    }
    if (sample.name == "container_network_receive_bytes_total")
      interfaces.insert(Label(sample, "interface"));
  }
  EXPECT_EQ(ids, std::set<std::string>{hostile.expected_id});
  EXPECT_EQ(comms, std::set<std::string>{hostile.expected_comm});
  EXPECT_EQ(interfaces, std::set<std::string>(hostile.expected_interfaces.begin(),
                                              hostile.expected_interfaces.end()));
  std::printf("id=%s comm=%s interfaces:", hostile.expected_id.c_str(),
              hostile.expected_comm.c_str());
  for (const std::string& name : interfaces) std::printf(" %s", name.c_str());
  std::printf("\n");
}

// The escape is not injective: a sibling spelling \xFF in ASCII gives the same `id` as one holding
// the byte. Both live in one directory, so whoever made them may write there; they are summed (one
// label set is one series, never two) and the agent says so, once. Container-shaped, so that CPU,
// memory and processes are read for both and must be combined too.
TEST(AgentHostileLabelsTest, TwoCgroupsWithOneEscapedIdAreSummedAndLogged) {
  PODSTAT_REQUIRE_PRIVILEGES();
  const std::string scope = "docker-" + std::string(HostileContainer::kContainerId) + ".scope";
  TestCgroup top;
  TestCgroup with_byte(top, "c-\xff");
  TestCgroup in_ascii(top, "c-\\xFF");
  TestCgroup first_container(with_byte, scope);
  TestCgroup second_container(in_ascii, scope);
  SocketWorkload first(first_container, Netns::kOwn);
  SocketWorkload second(second_container, Netns::kOwn);
  first.Listen(1);
  second.Listen(2);
  Agent agent({"--collector.process"});
  ASSERT_TRUE(agent.WaitHealthy()) << "podstat never became healthy (output below)";

  const std::string id = top.id() + "/c-\\xFF/" + scope;
  std::optional<double> listening;
  std::vector<Sample> samples;
  const bool summed = PollUntil([&] {
    samples = ParseExposition(agent.Scrape());
    listening = FindSample(samples, "container_tcp_sockets", {{"id", id}, {"state", "listen"}});
    return listening == 3 && SamplesNamed(SamplesWithLabel(samples, "id", id),
                                          "container_process_resident_memory_bytes")
                                     .size() == 2;
  });
  EXPECT_TRUE(summed) << "container_tcp_sockets{id=\"" << id << "\",state=\"listen\"} is "
                      << (listening ? std::to_string(*listening) : "absent") << ", want 1 + 2";
  // One CPU series for the two (FindSample throws on two), and both processes under it.
  EXPECT_TRUE(FindSample(samples, "container_cpu_usage_seconds_total", {{"id", id}}));
  std::set<std::string> pids;
  for (const Sample& sample :
       SamplesNamed(SamplesWithLabel(samples, "id", id), "container_process_resident_memory_bytes"))
    pids.insert(Label(sample, "pid"));
  EXPECT_EQ(pids,
            (std::set<std::string>{std::to_string(first.pid()), std::to_string(second.pid())}));

  // Two more collections: the warning stays at one line while the collision lasts.
  for (int i = 0; i < 2; ++i) agent.Scrape();
  const std::string log = agent.Stderr();
  size_t warnings = 0;
  for (size_t at = 0; (at = log.find("two cgroups both export id=", at)) != std::string::npos; ++at)
    ++warnings;
  EXPECT_EQ(warnings, 1u) << log;
}

}  // namespace
}  // namespace podstat::testing
