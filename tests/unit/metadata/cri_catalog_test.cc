// The CRI provider's pure parts: the catalog built from ListPodSandbox and ListContainers replies
// (shaped as containerd 1.6's CRI plugin fills them: kubelet labels on every container, the
// sandbox's metadata carrying namespace, name and uid), and the endpoint autodetection under the
// host root, on real unix sockets in a temp tree.
#include "podstat/metadata/cri_catalog.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "podstat/metadata/provider.h"

namespace podstat::metadata {
namespace {

runtime::v1::PodSandbox Sandbox(const std::string& id, const std::string& ns,
                                const std::string& name, const std::string& uid) {
  runtime::v1::PodSandbox sandbox;
  sandbox.set_id(id);
  sandbox.mutable_metadata()->set_name(name);
  sandbox.mutable_metadata()->set_namespace_(ns);
  sandbox.mutable_metadata()->set_uid(uid);
  sandbox.set_state(runtime::v1::SANDBOX_READY);
  (*sandbox.mutable_labels())["io.kubernetes.pod.name"] = name;
  (*sandbox.mutable_labels())["io.kubernetes.pod.namespace"] = ns;
  (*sandbox.mutable_labels())["io.kubernetes.pod.uid"] = uid;
  return sandbox;
}

runtime::v1::Container Container(const std::string& id, const std::string& sandbox_id,
                                 const std::string& name, const std::string& image) {
  runtime::v1::Container container;
  container.set_id(id);
  container.set_pod_sandbox_id(sandbox_id);
  container.mutable_metadata()->set_name(name);
  container.mutable_image()->set_image(image);
  container.set_image_ref(
      "sha256:4f5e0e2c0e3e6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f");
  container.set_state(runtime::v1::CONTAINER_RUNNING);
  (*container.mutable_labels())["io.kubernetes.container.name"] = name;
  return container;
}

const std::string kSandboxId(64, 'a');
const std::string kWebId(64, 'b');
const std::string kUid = "0d9a6f4e-3c1b-4a7e-9f2d-5b8c7a6e1f30";

TEST(CriCatalog, ContainersGetTheirPodFromTheSandboxAndTheSandboxIsPod) {
  runtime::v1::ListPodSandboxResponse sandboxes;
  *sandboxes.add_items() = Sandbox(kSandboxId, "shop", "web-7d4b9", kUid);
  runtime::v1::ListContainersResponse containers;
  *containers.add_containers() =
      Container(kWebId, kSandboxId, "nginx", "docker.io/library/nginx:1.25");

  const Catalog catalog = BuildCriCatalog(sandboxes, containers);
  ASSERT_EQ(catalog.containers.size(), 2u);
  const ContainerInfo& web = catalog.containers.at(kWebId);
  EXPECT_EQ(web.namespace_, "shop");
  EXPECT_EQ(web.pod, "web-7d4b9");
  EXPECT_EQ(web.pod_uid, kUid);
  EXPECT_EQ(web.container, "nginx");
  EXPECT_EQ(web.image, "docker.io/library/nginx:1.25") << "the name, never the digest";
  const ContainerInfo& pause = catalog.containers.at(kSandboxId);
  EXPECT_EQ(pause.container, kSandboxContainerName);
  EXPECT_EQ(pause.pod, "web-7d4b9");
  EXPECT_EQ(pause.namespace_, "shop");
  EXPECT_EQ(catalog.pods.at(kUid).namespace_, "shop");
  EXPECT_EQ(catalog.pods.at(kUid).pod, "web-7d4b9");
}

// A container whose sandbox is gone from the list (removed between the two calls) keeps the
// kubelet's labels; ids come lowercased; entries without an id are skipped.
TEST(CriCatalog, LabelsStandInForAMissingSandboxAndIdsAreNormalised) {
  runtime::v1::ListPodSandboxResponse sandboxes;
  runtime::v1::ListContainersResponse containers;
  runtime::v1::Container orphan = Container(std::string(64, 'C'), "gone", "app", "busybox");
  (*orphan.mutable_labels())["io.kubernetes.pod.name"] = "batch-1";
  (*orphan.mutable_labels())["io.kubernetes.pod.namespace"] = "jobs";
  (*orphan.mutable_labels())["io.kubernetes.pod.uid"] = kUid;
  *containers.add_containers() = orphan;
  *containers.add_containers() = Container("", kSandboxId, "nameless", "busybox");

  const Catalog catalog = BuildCriCatalog(sandboxes, containers);
  ASSERT_EQ(catalog.containers.size(), 1u);
  const ContainerInfo& info = catalog.containers.at(std::string(64, 'c'));
  EXPECT_EQ(info.pod, "batch-1");
  EXPECT_EQ(info.namespace_, "jobs");
  EXPECT_EQ(info.pod_uid, kUid);
  EXPECT_EQ(info.container, "app");
}

class CriEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/podstat-cri-endpoint-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    root_ = dir;
    paths_.rootfs = root_;
  }
  void TearDown() override {
    for (const int fd : sockets_) ::close(fd);
    std::filesystem::remove_all(root_);
  }
  // A listening unix socket at <root>/<relative>.
  void Socket(const std::string& relative) {
    const std::string path = root_ + "/" + relative;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockets_.push_back(fd);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof address.sun_path);
    path.copy(address.sun_path, path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  std::string root_;
  HostPaths paths_;
  std::vector<int> sockets_;
};

TEST_F(CriEndpointTest, AutoTakesTheFirstSocketUnderTheHostRoot) {
  std::string why;
  EXPECT_EQ(ResolveCriEndpoint("auto", paths_, &why), "");
  EXPECT_NE(why.find(root_ + "/run/containerd/containerd.sock"), std::string::npos) << why;

  // Not a socket: skipped.
  std::filesystem::create_directories(root_ + "/run/containerd");
  std::ofstream(root_ + "/run/containerd/containerd.sock") << "not a socket";
  Socket("run/crio/crio.sock");
  EXPECT_EQ(ResolveCriEndpoint("auto", paths_, &why), "unix://" + root_ + "/run/crio/crio.sock");

  Socket("run/k3s/containerd/containerd.sock");
  EXPECT_EQ(ResolveCriEndpoint("auto", paths_, &why),
            "unix://" + root_ + "/run/k3s/containerd/containerd.sock")
      << "k3s comes before CRI-O in the order";
}

TEST_F(CriEndpointTest, ExplicitOrDisabled) {
  std::string why;
  EXPECT_EQ(ResolveCriEndpoint("", paths_, &why), "");
  EXPECT_NE(why.find("disabled"), std::string::npos);
  EXPECT_EQ(ResolveCriEndpoint("/run/x.sock", paths_, &why), "unix:///run/x.sock");
  EXPECT_EQ(ResolveCriEndpoint("unix:///run/x.sock", paths_, &why), "unix:///run/x.sock");
}

}  // namespace
}  // namespace podstat::metadata
