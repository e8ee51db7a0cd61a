// What a CRI runtime (containerd, CRI-O) knows about a node's pods and containers, turned into a
// metadata Catalog. Pure: the gRPC calls are in userspace/metadata/cri_client.cc; the unit tests
// feed replies built as a real containerd sends them.
#pragma once

#include "cri/api.pb.h"
#include "podstat/metadata/provider.h"

namespace podstat::metadata {

// The Kubernetes container name the kubelet, dockershim and cAdvisor give a pod's sandbox (pause)
// container: its cgroup owns the pod's network namespace, so per-namespace series land on it.
inline constexpr char kSandboxContainerName[] = "POD";

// Containers by id, with the names of their pod from its sandbox: namespace, pod and pod uid from
// PodSandboxMetadata (the kubelet's io.kubernetes.pod.* labels where a container's sandbox is not
// listed, e.g. removed between the two calls), container from ContainerMetadata.name, image from
// ImageSpec.image: the name as the pod spec gave it, never the digest (image_ref is not exported:
// the name is what dashboards group by, and a digest per series would only add cardinality). Each
// sandbox is a container too, named kSandboxContainerName. Pods by uid. Entries without an id are
// skipped; ids are lowercased (the cgroup paths podstat matches against are lowercase hex).
Catalog BuildCriCatalog(const runtime::v1::ListPodSandboxResponse& sandboxes,
                        const runtime::v1::ListContainersResponse& containers);

}  // namespace podstat::metadata
