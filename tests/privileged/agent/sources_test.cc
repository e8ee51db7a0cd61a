// The registry is what the binary runs: `podstat --check` names every source of it with a
// verdict, and podstat_source_active lists exactly the registry's sources, each declared fallback
// taking over when --no-bpf turns its source off.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "podstat/sources/registry.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

// "source bpf_tcp:   ok: ..." -> {"bpf_tcp": "ok"}; a name listed twice fails the test.
std::map<std::string, std::string> CheckVerdicts(const std::string& output) {
  std::map<std::string, std::string> verdicts;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("source ", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string name = line.substr(7, colon - 7);
    const size_t verdict = line.find_first_not_of(' ', colon + 1);
    const std::string word =
        verdict == std::string::npos ? "" : line.substr(verdict, line.find(':', verdict) - verdict);
    EXPECT_TRUE(verdicts.emplace(name, word).second) << name << " listed twice:\n" << output;
  }
  return verdicts;
}

std::map<std::string, double> SourceActive(const Agent& agent) {
  std::map<std::string, double> active;
  for (const Sample& sample : ParseExposition(agent.Scrape())) {
    if (sample.name == "podstat_source_active") active[sample.labels.at("source")] = sample.value;
  }
  return active;
}

TEST(AgentSourcesTest, CheckNamesEveryRegistrySourceWithItsVerdict) {
  PODSTAT_REQUIRE_PRIVILEGES();
  for (const bool bpf : {true, false}) {
    SCOPED_TRACE(bpf ? "with eBPF" : "--no-bpf");
    std::vector<std::string> argv = {PODSTAT_BINARY, "--check"};
    if (!bpf) argv.push_back("--no-bpf");
    const CommandResult result = RunCommand(argv, "");
    EXPECT_TRUE(result.exited_zero()) << DescribeWaitStatus(result.wait_status) << "\n"
                                      << result.output;
    const auto verdicts = CheckVerdicts(result.output);
    EXPECT_EQ(verdicts.size(), sources::kRegistry.size()) << result.output;
    for (const sources::SourceInfo* info : sources::kRegistry) {
      const auto it = verdicts.find(std::string(info->name));
      ASSERT_NE(it, verdicts.end()) << info->name << " missing from --check:\n" << result.output;
      EXPECT_TRUE(it->second == "ok" || it->second == "off") << info->name << ": " << it->second;
    }
    // This host has every program (the brief's test bed): the fallbacks are off with eBPF and
    // take over without it.
    const std::string with = bpf ? "ok" : "off";
    const std::string without = bpf ? "off" : "ok";
    EXPECT_EQ(verdicts.at("bpf_tcp"), with) << result.output;
    EXPECT_EQ(verdicts.at("bpf_sockets"), with) << result.output;
    EXPECT_EQ(verdicts.at("bpf_cpu"), with) << result.output;
    EXPECT_EQ(verdicts.at("proc_tcp_tables"), without) << result.output;
    EXPECT_EQ(verdicts.at("proc_socket_tables"), without) << result.output;
    EXPECT_EQ(verdicts.at("proc_process"), "off") << result.output;  // opt-in
  }
}

TEST(AgentSourcesTest, SourceActiveListsTheRegistryAndFollowsTheFlags) {
  PODSTAT_REQUIRE_PRIVILEGES();
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, double> expected;  // the sources whose value is checked
  };
  const std::vector<Case> cases = {
      {{},
       {{"bpf_tcp", 1},
        {"bpf_sockets", 1},
        {"bpf_cpu", 1},
        {"proc_tcp_tables", 0},
        {"proc_socket_tables", 0},
        {"proc_process", 0},
        {"cgroup_memory", 1},
        {"node_memory", 1}}},
      {{"--no-bpf", "--collector.process", "--no-collector.memory", "--no-collector.network"},
       {{"bpf_tcp", 0},
        {"bpf_sockets", 0},
        {"bpf_cpu", 0},
        {"proc_tcp_tables", 1},
        {"proc_socket_tables", 1},
        {"proc_process", 1},
        {"cgroup_memory", 0},
        {"node_memory", 0},
        {"proc_net_dev", 0},
        {"cgroup_cpu", 1}}},
      {{"--no-bpf.cpu"}, {{"bpf_tcp", 1}, {"bpf_cpu", 0}, {"cgroup_cpu", 1}}},
  };
  for (const Case& test : cases) {
    std::string described;
    for (const auto& arg : test.args) described += arg + " ";
    SCOPED_TRACE(described);
    Agent agent(test.args);
    ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
    const auto active = SourceActive(agent);
    EXPECT_EQ(active.size(), sources::kRegistry.size());
    for (const sources::SourceInfo* info : sources::kRegistry) {
      EXPECT_TRUE(active.contains(std::string(info->name))) << info->name;
    }
    for (const auto& [name, value] : test.expected) {
      const auto it = active.find(name);
      ASSERT_NE(it, active.end()) << name;
      EXPECT_EQ(it->second, value) << name;
    }
    // Without eBPF the /proc tables count sockets: they have no "other" kinds, so no series that
    // could only be 0 stands for them; with eBPF every kind is counted.
    size_t other = 0, sockets = 0;
    for (const Sample& sample : ParseExposition(agent.Scrape())) {
      if (sample.name != "container_sockets") continue;
      ++sockets;
      if (sample.labels.at("type") == "other") ++other;
    }
    EXPECT_GT(sockets, 0u) << "the host holds sockets: some cgroup has container_sockets";
    if (active.at("proc_socket_tables") == 1) {
      EXPECT_EQ(other, 0u);
    } else {
      EXPECT_GT(other, 0u);
    }
    // The log says what was chosen for each source.
    for (const sources::SourceInfo* info : sources::kRegistry) {
      EXPECT_NE(agent.Stderr().find("msg=\"" + std::string(info->name) + ": "), std::string::npos)
          << info->name << " not in the log";
    }
  }
}

}  // namespace
}  // namespace podstat::testing
