// Parsers of /proc/<pid>/net/{dev,tcp,tcp6,udp,udp6} on copies of real files
// (tests/fixtures/proc/net/README.md says what the namespace held).
#include "podstat/procfs/net.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace podstat::procfs {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(PODSTAT_FIXTURES_DIR) + "/proc/net/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(NetDev, ParsesEveryInterfaceOfTheHost) {
  const auto interfaces = ParseNetDev(Fixture("dev.host"));
  ASSERT_EQ(interfaces.size(), 4u);
  EXPECT_EQ(interfaces[0].name, "lo");
  const model::InterfaceStats& eth0 = interfaces[3];
  EXPECT_EQ(eth0.name, "eth0");
  EXPECT_EQ(eth0.receive_bytes, 111651381u);
  EXPECT_EQ(eth0.receive_packets, 3296u);
  EXPECT_EQ(eth0.transmit_bytes, 170150u);
  EXPECT_EQ(eth0.transmit_packets, 2414u);
  EXPECT_EQ(eth0.receive_errors + eth0.receive_dropped + eth0.transmit_errors, 0u);
}

// Names become label values: invalid UTF-8 escaped as \xHH, valid UTF-8 and '"', '\' kept; the
// name spelling "v\xFF" in ASCII and the one with the byte give one label, so they are summed.
TEST(NetDev, EscapesInvalidUtf8InNamesAndSumsNamesThatBecomeEqual) {
  const auto interfaces = ParseNetDev(Fixture("dev.hostile"));
  ASSERT_EQ(interfaces.size(), 4u);
  EXPECT_EQ(interfaces[0].name, "lo");
  EXPECT_EQ(interfaces[1].name, "\\xFE");
  EXPECT_EQ(interfaces[1].receive_bytes, 516u);
  EXPECT_EQ(interfaces[2].name, "v\\xFF\"\\");
  EXPECT_EQ(interfaces[2].receive_bytes, 2 * 516u);
  EXPECT_EQ(interfaces[2].receive_packets, 2 * 6u);
  EXPECT_EQ(interfaces[2].transmit_bytes, 2 * 516u);
  EXPECT_EQ(interfaces[2].transmit_packets, 2 * 6u);
  EXPECT_EQ(interfaces[3].name, "w\xc3\xbc");
  EXPECT_EQ(interfaces[3].transmit_packets, 6u);
}

TEST(NetDev, SplitsErrorsAndDropsAndAcceptsAGluedName) {
  // A name long enough to touch the first number, as old kernels printed it.
  const auto interfaces = ParseNetDev(
      "Inter-|   Receive\n face |bytes\n"
      "veth1234567:100 2 3 4 0 0 0 0 200 5 6 7 0 0 0 0\n"
      "broken: 1 2 3\n");
  ASSERT_EQ(interfaces.size(), 1u);
  EXPECT_EQ(interfaces[0].name, "veth1234567");
  EXPECT_EQ(interfaces[0].receive_errors, 3u);
  EXPECT_EQ(interfaces[0].receive_dropped, 4u);
  EXPECT_EQ(interfaces[0].transmit_packets, 5u);
  EXPECT_EQ(interfaces[0].transmit_errors, 6u);
  EXPECT_EQ(interfaces[0].transmit_dropped, 7u);
}

TEST(SocketTable, CountsTcpStatesAndTheSocketsProcessesHold) {
  const SocketTableSummary tcp = ParseSocketTable(Fixture("tcp"), /*is_tcp=*/true);
  EXPECT_EQ(tcp.lines, 8u);
  EXPECT_EQ(tcp.states[0], 6);  // established: 2 accepted pairs + the queued one's 2 ends
  EXPECT_EQ(tcp.states[5], 1);  // time_wait
  EXPECT_EQ(tcp.states[9], 1);  // listen
  // Held: all but TIME_WAIT; the queued child has no inode yet but is counted as open.
  EXPECT_EQ(tcp.held, 7u);
  EXPECT_EQ(tcp.rx_queue, 1u);  // the listener's accept queue length
  const SocketTableSummary tcp6 = ParseSocketTable(Fixture("tcp6"), /*is_tcp=*/true);
  EXPECT_EQ(tcp6.states[9], 1);
  EXPECT_EQ(tcp6.held, 1u);
}

TEST(SocketTable, SumsUdpQueuesAndDrops) {
  const SocketTableSummary udp = ParseSocketTable(Fixture("udp"), /*is_tcp=*/false);
  EXPECT_EQ(udp.lines, 3u);
  EXPECT_EQ(udp.held, 3u);
  EXPECT_EQ(udp.states[6], 3);  // close (UDP's "unconnected")
  EXPECT_EQ(udp.rx_queue, 0x340u);
  EXPECT_EQ(udp.drops, 0u);
  EXPECT_EQ(ParseSocketTable(Fixture("udp6"), false).lines, 1u);
  const SocketTableSummary dropping = ParseSocketTable(
      "  sl local rem st tx:rx tr retr uid timeout inode ref pointer drops\n"
      "  1: 0100007F:9B58 00000000:0000 07 00000010:00000020 00:00000000 00000000 0 0 5 2 0 7\n"
      " garbage line\n",
      false);
  EXPECT_EQ(dropping.lines, 1u);
  EXPECT_EQ(dropping.tx_queue, 16u);
  EXPECT_EQ(dropping.drops, 7u);
}

}  // namespace
}  // namespace podstat::procfs
