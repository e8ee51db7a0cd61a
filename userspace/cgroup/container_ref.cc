#include "podstat/cgroup/container_ref.h"

#include <array>
#include <vector>

#include "podstat/util/strings.h"

namespace podstat::cgroup {

std::string_view RuntimeName(Runtime runtime) {
  switch (runtime) {
    case Runtime::kDocker:
      return "docker";
    case Runtime::kContainerd:
      return "containerd";
    case Runtime::kCrio:
      return "cri-o";
    case Runtime::kPodman:
      return "podman";
    case Runtime::kUnknown:
      break;
  }
  return "";
}

std::string_view QosClassName(QosClass qos) {
  switch (qos) {
    case QosClass::kGuaranteed:
      return "guaranteed";
    case QosClass::kBurstable:
      return "burstable";
    case QosClass::kBestEffort:
      return "besteffort";
    case QosClass::kNone:
      break;
  }
  return "";
}

bool IsContainerId(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

namespace {

// A pod UID as the kubelet writes it: 8-4-4-4-12 hex digits, with '-' or (systemd driver) '_'.
std::optional<std::string> PodUid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::string uid(text);
  for (size_t i = 0; i < uid.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position) {
      if (uid[i] != '-' && uid[i] != '_') return std::nullopt;
      uid[i] = '-';
    } else if (!((uid[i] >= '0' && uid[i] <= '9') || (uid[i] >= 'a' && uid[i] <= 'f'))) {
      return std::nullopt;
    }
  }
  return uid;
}

// Scope units that name a container: prefix, runtime. Order matters: the conmon prefixes are
// listed so they can be rejected before the shorter runtime prefix would match them.
struct ScopePattern {
  std::string_view prefix;
  Runtime runtime;
  bool is_container;  // false: a runtime helper (conmon), not the container itself
};
constexpr std::array<ScopePattern, 6> kScopes = {{
    {"crio-conmon-", Runtime::kCrio, false},
    {"libpod-conmon-", Runtime::kPodman, false},
    {"docker-", Runtime::kDocker, true},
    {"cri-containerd-", Runtime::kContainerd, true},
    {"crio-", Runtime::kCrio, true},
    {"libpod-", Runtime::kPodman, true},
}};

struct ContainerMatch {
  Runtime runtime = Runtime::kUnknown;
  std::string id;
  bool is_container = true;
};

// One path component -> a container id, for the systemd driver's "<prefix><id>.scope" and the
// cgroupfs driver's bare "<id>" (whose runtime the parent component tells).
std::optional<ContainerMatch> MatchContainer(std::string_view component, std::string_view parent) {
  if (component.ends_with(".scope")) {
    const std::string_view unit = component.substr(0, component.size() - 6);
    for (const ScopePattern& scope : kScopes) {
      if (!unit.starts_with(scope.prefix)) continue;
      const std::string_view id = unit.substr(scope.prefix.size());
      if (!IsContainerId(id)) return std::nullopt;
      return ContainerMatch{scope.runtime, std::string(id), scope.is_container};
    }
    return std::nullopt;
  }
  if (!IsContainerId(component)) return std::nullopt;
  Runtime runtime = Runtime::kUnknown;
  if (parent == "docker") runtime = Runtime::kDocker;         // /docker/<id>
  if (parent == "k8s.io") runtime = Runtime::kContainerd;     // containerd's k8s.io namespace
  if (parent == "libpod_parent") runtime = Runtime::kPodman;  // podman, cgroupfs manager
  return ContainerMatch{runtime, std::string(component), true};
}

struct PodMatch {
  std::string uid;
  QosClass qos = QosClass::kNone;
};

// Pod-level cgroups: "pod<uid>" under kubepods[/burstable|/besteffort] (cgroupfs driver) or
// "kubepods[-burstable|-besteffort]-pod<uid>.slice" (systemd driver, '_' for '-' in the uid;
// kind and k3s prefix it, e.g. "kubelet-kubepods-besteffort-pod<uid>.slice").
std::optional<PodMatch> MatchPod(std::string_view component, std::string_view parent) {
  if (component.starts_with("pod")) {
    const auto uid = PodUid(component.substr(3));
    if (!uid) return std::nullopt;
    QosClass qos = QosClass::kGuaranteed;
    if (parent == "burstable") qos = QosClass::kBurstable;
    if (parent == "besteffort") qos = QosClass::kBestEffort;
    return PodMatch{*uid, qos};
  }
  if (component.ends_with(".slice") && component.find("kubepods") != std::string_view::npos) {
    const std::string_view unit = component.substr(0, component.size() - 6);
    const size_t pod = unit.rfind("-pod");
    if (pod == std::string_view::npos) return std::nullopt;
    const auto uid = PodUid(unit.substr(pod + 4));
    if (!uid) return std::nullopt;
    QosClass qos = QosClass::kGuaranteed;
    if (unit.find("-burstable-") != std::string_view::npos) qos = QosClass::kBurstable;
    if (unit.find("-besteffort-") != std::string_view::npos) qos = QosClass::kBestEffort;
    return PodMatch{*uid, qos};
  }
  return std::nullopt;
}

std::string JoinPrefix(const std::vector<std::string_view>& components, size_t count) {
  std::string path;
  for (size_t i = 0; i < count; ++i) {
    path += '/';
    path += components[i];
  }
  return path.empty() ? "/" : path;
}

}  // namespace

std::optional<ContainerRef> ParseContainerPath(std::string_view cgroup_path,
                                               const RuntimeReportsAt& runtime_reports_at) {
  const std::vector<std::string_view> components = SplitFields(cgroup_path, "/");
  // The ref of the container named by components[i], with the nearest pod above it.
  auto container_ref = [&components](size_t i, const ContainerMatch& container) {
    ContainerRef ref;
    ref.runtime = container.runtime;
    ref.container_id = container.id;
    ref.cgroup_path = JoinPrefix(components, i + 1);
    for (size_t j = i; j-- > 0;) {
      const std::string_view pod_parent = j > 0 ? components[j - 1] : std::string_view();
      if (const auto pod = MatchPod(components[j], pod_parent)) {
        ref.pod_uid = pod->uid;
        ref.qos = pod->qos;
        break;
      }
    }
    return ref;
  };
  auto match_at = [&components](size_t i) {
    const std::string_view parent = i > 0 ? components[i - 1] : std::string_view();
    return MatchContainer(components[i], parent);
  };

  for (size_t outer = 0; outer < components.size(); ++outer) {
    const auto container = match_at(outer);
    if (!container) continue;
    if (!container->is_container) return std::nullopt;  // conmon: a runtime helper
    // Deeper container ids, deepest first: only one the runtime reports right there counts.
    if (runtime_reports_at) {
      for (size_t inner = components.size(); --inner > outer;) {
        const auto nested = match_at(inner);
        if (!nested || !nested->is_container) continue;
        ContainerRef ref = container_ref(inner, *nested);
        if (runtime_reports_at(ref)) return ref;
      }
    }
    return container_ref(outer, *container);
  }
  // Pod-level cgroups: the outermost pod, for the same reason.
  for (size_t i = 0; i < components.size(); ++i) {
    const std::string_view parent = i > 0 ? components[i - 1] : std::string_view();
    if (const auto pod = MatchPod(components[i], parent)) {
      ContainerRef ref;
      ref.pod_uid = pod->uid;
      ref.qos = pod->qos;
      ref.cgroup_path = JoinPrefix(components, i + 1);
      return ref;
    }
  }
  return std::nullopt;
}

}  // namespace podstat::cgroup
