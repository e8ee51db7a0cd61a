// MetadataCache::Statuses: what the status page shows per provider, the reason of its last
// failure above all (a count alone does not say that the Docker socket is missing).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "podstat/metadata/cache.h"
#include "podstat/metadata/provider.h"

namespace podstat::metadata {
namespace {

namespace fs = std::filesystem;

TEST(MetadataCacheStatuses, KeepTheLastErrorOfAFailingProvider) {
  const fs::path root = fs::temp_directory_path() / ("podstat-status-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  const std::string socket = (root / "docker.sock").string();  // nobody listens there
  HostPaths paths;
  paths.rootfs = (root / "no-kubelet").string();  // no layout: not an error
  std::vector<std::unique_ptr<Provider>> providers;
  providers.push_back(MakeDockerProvider(socket));
  providers.push_back(MakeKubeletLayoutProvider(paths));
  Logger logger(LogLevel::kError);
  const auto before = std::chrono::system_clock::now();
  MetadataCache cache(std::move(providers), {}, logger);
  cache.WaitForFirstRound(std::chrono::seconds(10));

  const auto statuses = cache.Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  const auto& docker = statuses[0];
  EXPECT_EQ(docker.provider, "docker");
  EXPECT_TRUE(docker.failing);
  EXPECT_GE(docker.errors, 1u);
  EXPECT_NE(docker.last_error.find(socket), std::string::npos) << docker.last_error;
  EXPECT_GE(docker.last_error_at, before);
  EXPECT_EQ(docker.last_success_at, std::chrono::system_clock::time_point{});

  const auto& kubelet = statuses[1];
  EXPECT_FALSE(kubelet.failing);
  EXPECT_EQ(kubelet.errors, 0u);
  EXPECT_EQ(kubelet.last_error, "");
  EXPECT_GE(kubelet.last_success_at, before);
  fs::remove_all(root);
}

}  // namespace
}  // namespace podstat::metadata
