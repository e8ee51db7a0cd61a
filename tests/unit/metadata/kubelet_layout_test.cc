#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "podstat/metadata/cache.h"
#include "podstat/metadata/provider.h"

namespace podstat::metadata {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kUid = "0e5f6a5c-1d2b-4c3d-9e8f-0123456789ab";
const std::string kId(64, 'c');

TEST(KubeletNames, PodLogDirectory) {
  const auto parsed = ParsePodLogDirName("shop_web-0_" + std::string(kUid));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first.namespace_, "shop");
  EXPECT_EQ(parsed->first.pod, "web-0");
  EXPECT_EQ(parsed->second, kUid);
  EXPECT_FALSE(ParsePodLogDirName("shop_web-0"));
  EXPECT_FALSE(ParsePodLogDirName("shop_web-0_short-uid"));
}

TEST(KubeletNames, ContainerLogSymlink) {
  const auto parsed = ParseContainerLogName("web-0_shop_nginx-" + kId + ".log");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->pod, "web-0");
  EXPECT_EQ(parsed->namespace_, "shop");
  EXPECT_EQ(parsed->container, "nginx");
  EXPECT_EQ(parsed->container_id, kId);
  // Container names may contain dashes; the id is what follows the last one.
  EXPECT_EQ(ParseContainerLogName("web-0_shop_side-car-" + kId + ".log")->container, "side-car");
  EXPECT_FALSE(ParseContainerLogName("web-0_shop_nginx-" + kId));      // no .log
  EXPECT_FALSE(ParseContainerLogName("web-0_shop_nginx-abc.log"));     // short id
  EXPECT_FALSE(ParseContainerLogName("web-0_nginx-" + kId + ".log"));  // no namespace
}

// The kubelet's layout, made for real under a temporary root.
class KubeletLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("podstat-kubelet-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    const fs::path pod_dir = root_ / "var/log/pods" / ("shop_web-0_" + std::string(kUid));
    fs::create_directories(pod_dir / "nginx");
    std::ofstream(pod_dir / "nginx" / "0.log") << "log line\n";
    fs::create_directories(root_ / "var/log/containers");
    fs::create_symlink(pod_dir / "nginx" / "0.log",
                       root_ / "var/log/containers" / ("web-0_shop_nginx-" + kId + ".log"));
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(KubeletLayoutTest, NamesContainersAndPods) {
  HostPaths paths;
  paths.rootfs = root_.string();
  auto provider = MakeKubeletLayoutProvider(paths);
  Catalog catalog;
  std::string error;
  ASSERT_TRUE(provider->Fetch(catalog, &error)) << error;
  ASSERT_EQ(catalog.containers.count(kId), 1u);
  const ContainerInfo& info = catalog.containers.at(kId);
  EXPECT_EQ(info.namespace_, "shop");
  EXPECT_EQ(info.pod, "web-0");
  EXPECT_EQ(info.container, "nginx");
  EXPECT_EQ(info.pod_uid, kUid);
  ASSERT_EQ(catalog.pods.count(std::string(kUid)), 1u);
  EXPECT_EQ(catalog.pods.at(std::string(kUid)).pod, "web-0");
}

TEST_F(KubeletLayoutTest, ANodeWithoutKubernetesIsNotAnError) {
  HostPaths paths;
  paths.rootfs = (root_ / "elsewhere").string();
  Catalog catalog;
  std::string error;
  EXPECT_TRUE(MakeKubeletLayoutProvider(paths)->Fetch(catalog, &error));
  EXPECT_TRUE(catalog.containers.empty());
}

TEST_F(KubeletLayoutTest, CacheNamesAPodLevelCgroupAndAContainer) {
  HostPaths paths;
  paths.rootfs = root_.string();
  std::vector<std::unique_ptr<Provider>> providers;
  providers.push_back(MakeKubeletLayoutProvider(paths));
  Logger logger(LogLevel::kError);
  MetadataCache cache(std::move(providers), {}, logger);
  cache.WaitForFirstRound(std::chrono::seconds(5));
  cgroup::ContainerRef container;
  container.container_id = kId;
  container.pod_uid = std::string(kUid);
  EXPECT_EQ(cache.Lookup(container).container, "nginx");
  cgroup::ContainerRef pod;
  pod.pod_uid = std::string(kUid);
  const ContainerInfo pod_info = cache.Lookup(pod);
  EXPECT_EQ(pod_info.pod, "web-0");
  EXPECT_EQ(pod_info.namespace_, "shop");
  EXPECT_EQ(pod_info.container, "");
}

TEST_F(KubeletLayoutTest, CacheFindsANewContainerWithoutWaitingForTheTtl) {
  HostPaths paths;
  paths.rootfs = root_.string();
  std::vector<std::unique_ptr<Provider>> providers;
  providers.push_back(MakeKubeletLayoutProvider(paths));
  Logger logger(LogLevel::kError);
  MetadataCache cache(
      std::move(providers),
      {std::chrono::hours(1), std::chrono::milliseconds(50), std::chrono::seconds(1)}, logger);
  cache.WaitForFirstRound(std::chrono::seconds(5));
  const std::string late(64, 'd');
  fs::create_symlink(root_ / "var/log/pods",
                     root_ / "var/log/containers" / ("web-0_shop_late-" + late + ".log"));
  cgroup::ContainerRef ref;
  ref.container_id = late;
  std::string name;
  for (int i = 0; i < 100 && name.empty(); ++i) {  // the first miss triggers a refresh
    name = cache.Lookup(ref).container;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(name, "late");
}

// A request inside the rate-limit window must be served when the window ends, not at the TTL.
TEST_F(KubeletLayoutTest, RequestInsideTheRateLimitWindowIsServedWhenItEnds) {
  HostPaths paths;
  paths.rootfs = root_.string();
  std::vector<std::unique_ptr<Provider>> providers;
  providers.push_back(MakeKubeletLayoutProvider(paths));
  Logger logger(LogLevel::kError);
  MetadataCache cache(
      std::move(providers),
      {std::chrono::hours(1), std::chrono::milliseconds(300), std::chrono::seconds(1)}, logger);
  cache.WaitForFirstRound(std::chrono::seconds(5));
  cgroup::ContainerRef first;
  first.container_id = std::string(64, 'e');
  cache.Lookup(first);  // unknown: forces a fetch now, which opens the 300 ms window
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string late(64, 'f');
  fs::create_symlink(root_ / "var/log/pods",
                     root_ / "var/log/containers" / ("web-0_shop_later-" + late + ".log"));
  cgroup::ContainerRef ref;
  ref.container_id = late;
  const auto started = std::chrono::steady_clock::now();
  std::string name;
  while (name.empty() && std::chrono::steady_clock::now() - started < std::chrono::seconds(5)) {
    name = cache.Lookup(ref).container;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(name, "later");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
      << "served at the TTL (1 h) or close to it, not when the 300 ms window ended";
}

// Directory and file names are bytes; the names in them become label values, escaped where they
// are not UTF-8 (EscapeInvalidUtf8). The kubelet writes DNS names, but anyone who may write
// /var/log/pods can make an entry.
TEST(KubeletNames, InvalidUtf8InNamesIsEscaped) {
  const auto pod = ParsePodLogDirName(
      "sh\xffop_w\xc3\xbc"
      "b-0_" +
      std::string(kUid));
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->first.namespace_, "sh\\xFFop");
  EXPECT_EQ(pod->first.pod,
            "w\xc3\xbc"
            "b-0");  // valid UTF-8 is kept
  const auto container = ParseContainerLogName("web\xfe_shop\"_ng\xe2\x82inx-" + kId + ".log");
  ASSERT_TRUE(container);
  EXPECT_EQ(container->pod, "web\\xFE");
  EXPECT_EQ(container->namespace_, "shop\"");
  EXPECT_EQ(container->container, "ng\\xE2\\x82inx");
  EXPECT_EQ(container->container_id, kId);
}

}  // namespace
}  // namespace podstat::metadata
