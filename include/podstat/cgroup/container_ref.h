// cgroup path -> which container (and pod) it belongs to, by the naming conventions of the
// container runtimes and the kubelet's cgroup drivers. Pure: a table of patterns over strings.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace podstat::cgroup {

enum class Runtime { kUnknown, kDocker, kContainerd, kCrio, kPodman };
enum class QosClass { kNone, kGuaranteed, kBurstable, kBestEffort };

std::string_view RuntimeName(Runtime runtime);

// A container id as runtimes write it: exactly 64 lower-case hex digits.
bool IsContainerId(std::string_view text);
std::string_view QosClassName(QosClass qos);

struct ContainerRef {
  Runtime runtime = Runtime::kUnknown;
  std::string container_id;  // 64 lower-case hex digits
  std::string pod_uid;       // Kubernetes pod UID with dashes ("_" of the systemd driver undone)
  QosClass qos = QosClass::kNone;
  // The container's own cgroup: the path up to and including the component that named it, so
  // sub-cgroups a container makes inside itself fold into it. For pod-level refs, the pod's.
  std::string cgroup_path;

  bool operator==(const ContainerRef&) const = default;
};

// Whether the container runtime itself reports a container with ref.container_id at
// ref.cgroup_path (a metadata provider that knows where the runtime put it). Pure callers pass
// nothing: then no nested id is trusted.
using RuntimeReportsAt = std::function<bool(const ContainerRef&)>;

// The container a cgroup path (relative to a cgroup root, v1 or v2) belongs to. nullopt for paths
// that are not containers (systemd services, slices, the root, conmon and other runtime helpers),
// though pod-level cgroups such as kubepods-burstable-pod<uid>.slice return a ref with pod_uid
// and no container_id.
//
// The outermost path component that names a container decides, and the nearest pod above it:
// everything below a container's cgroup is the container's own doing. A container allowed to make
// sub-cgroups (cgroup v2 delegation, docker-in-docker, kind nodes) could otherwise mkdir another
// container's id, or a pod<uid> slice, inside itself and have its usage labelled as that
// container's or pod's. A deeper id is taken only where `runtime_reports_at` confirms the runtime
// put that container there (the deepest confirmed one wins); unconfirmed nested ids, legitimate
// ones of an inner runtime included, fold into the outer container.
std::optional<ContainerRef> ParseContainerPath(std::string_view cgroup_path,
                                               const RuntimeReportsAt& runtime_reports_at = {});

}  // namespace podstat::cgroup
