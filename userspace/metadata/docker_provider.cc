#include <memory>

#include "podstat/metadata/docker_client.h"
#include "podstat/metadata/provider.h"

namespace podstat::metadata {
namespace {

class DockerProvider : public Provider {
 public:
  // 2 s per request: a healthy daemon answers a container list in milliseconds, and this runs on
  // the metadata thread, so a hung daemon delays only names, never a scrape.
  explicit DockerProvider(std::string socket_path)
      : client_(std::move(socket_path), std::chrono::seconds(2)) {}
  std::string_view name() const override { return "docker"; }

  bool Fetch(Catalog& out, std::string* error) override {
    auto containers = client_.ListContainers(error);
    if (!containers) return false;
    for (auto& container : *containers) {
      if (!container.info.pod_uid.empty() && !container.info.pod.empty()) {
        out.pods[container.info.pod_uid] = {container.info.namespace_, container.info.pod};
      }
      out.containers[container.id] = std::move(container.info);
    }
    return true;
  }

 private:
  DockerClient client_;
};

}  // namespace

std::unique_ptr<Provider> MakeDockerProvider(std::string socket_path) {
  return std::make_unique<DockerProvider>(std::move(socket_path));
}

}  // namespace podstat::metadata
