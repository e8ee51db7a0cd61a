#include "podstat/metadata/cri_catalog.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace podstat::metadata {
namespace {

std::string Lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string LabelOr(const google::protobuf::Map<std::string, std::string>& labels,
                    const std::string& key) {
  const auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

}  // namespace

Catalog BuildCriCatalog(const runtime::v1::ListPodSandboxResponse& sandboxes,
                        const runtime::v1::ListContainersResponse& containers) {
  Catalog catalog;
  std::unordered_map<std::string, const runtime::v1::PodSandbox*> by_id;
  for (const runtime::v1::PodSandbox& sandbox : sandboxes.items()) {
    if (sandbox.id().empty()) continue;
    by_id[sandbox.id()] = &sandbox;
    const auto& meta = sandbox.metadata();
    ContainerInfo info;
    info.name = meta.name();
    info.pod = meta.name();
    info.namespace_ = meta.namespace_();
    info.pod_uid = meta.uid();
    info.container = kSandboxContainerName;
    info.labels.insert(sandbox.labels().begin(), sandbox.labels().end());
    if (!meta.uid().empty() && !meta.name().empty()) {
      catalog.pods[meta.uid()] = {meta.namespace_(), meta.name()};
    }
    catalog.containers[Lowercase(sandbox.id())] = std::move(info);
  }
  for (const runtime::v1::Container& container : containers.containers()) {
    if (container.id().empty()) continue;
    ContainerInfo info;
    info.name = container.metadata().name();
    info.container = container.metadata().name();
    info.image = container.image().image();
    info.labels.insert(container.labels().begin(), container.labels().end());
    if (const auto it = by_id.find(container.pod_sandbox_id()); it != by_id.end()) {
      const auto& meta = it->second->metadata();
      info.pod = meta.name();
      info.namespace_ = meta.namespace_();
      info.pod_uid = meta.uid();
    } else {
      info.pod = LabelOr(container.labels(), "io.kubernetes.pod.name");
      info.namespace_ = LabelOr(container.labels(), "io.kubernetes.pod.namespace");
      info.pod_uid = LabelOr(container.labels(), "io.kubernetes.pod.uid");
    }
    if (info.container.empty())
      info.container = LabelOr(container.labels(), "io.kubernetes.container.name");
    catalog.containers[Lowercase(container.id())] = std::move(info);
  }
  return catalog;
}

}  // namespace podstat::metadata
