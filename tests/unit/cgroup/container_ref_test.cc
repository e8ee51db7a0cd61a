#include "podstat/cgroup/container_ref.h"

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <utility>

namespace podstat::cgroup {
namespace {

// Ids and UIDs in the shapes runtimes and the kubelet produce.
constexpr std::string_view kId = "3f6c1c6b2d9e4a7b8c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d";
constexpr std::string_view kOuter =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr std::string_view kUid = "0e5f6a5c-1d2b-4c3d-9e8f-0123456789ab";
constexpr std::string_view kUidSystemd = "0e5f6a5c_1d2b_4c3d_9e8f_0123456789ab";
// Another container and pod on the same node, whose names an attacker wants on its own usage.
constexpr std::string_view kVictim =
    "9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877665544";
constexpr std::string_view kVictimUid = "7c6b5a49-3827-4160-a5b4-c3d2e1f0a9b8";
constexpr std::string_view kVictimUidSystemd = "7c6b5a49_3827_4160_a5b4_c3d2e1f0a9b8";
// A kind node's kubelet pod slices, below the node container's cgroup.
const std::string kKindPod =
    "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
    "kubelet-kubepods-besteffort-pod" +
    std::string(kUidSystemd) + ".slice";

// Where the runtime (through a metadata provider) reports a container: (id, cgroup path).
using Reported = std::set<std::pair<std::string, std::string>>;

struct Case {
  std::string path;
  std::optional<ContainerRef> want;
  Reported reported = {};  // empty: nothing reported, as with no metadata at all
};

// gtest names a failing case by this instead of the struct's bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.path; }

std::string S(std::string_view a) { return std::string(a); }

ContainerRef Ref(Runtime runtime, std::string_view id, std::string_view uid, QosClass qos,
                 std::string path) {
  return ContainerRef{runtime, S(id), S(uid), qos, std::move(path)};
}

class ContainerPathTest : public ::testing::TestWithParam<Case> {};

TEST_P(ContainerPathTest, Parses) {
  const Case& c = GetParam();
  const auto got = ParseContainerPath(c.path, [&c](const ContainerRef& nested) {
    return c.reported.contains({nested.container_id, nested.cgroup_path});
  });
  ASSERT_EQ(got.has_value(), c.want.has_value()) << c.path;
  if (!got) return;
  EXPECT_EQ(got->runtime, c.want->runtime) << c.path;
  EXPECT_EQ(got->container_id, c.want->container_id) << c.path;
  EXPECT_EQ(got->pod_uid, c.want->pod_uid) << c.path;
  EXPECT_EQ(got->qos, c.want->qos) << c.path;
  EXPECT_EQ(got->cgroup_path, c.want->cgroup_path) << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Runtimes, ContainerPathTest,
    ::testing::Values(
        // Docker, cgroupfs driver (v1 and v2 paths look alike) and systemd driver.
        Case{"/docker/" + S(kId),
             Ref(Runtime::kDocker, kId, "", QosClass::kNone, "/docker/" + S(kId))},
        Case{"/system.slice/docker-" + S(kId) + ".scope",
             Ref(Runtime::kDocker, kId, "", QosClass::kNone,
                 "/system.slice/docker-" + S(kId) + ".scope")},
        // A container's own sub-cgroups fold into it.
        Case{"/docker/" + S(kId) + "/init.scope",
             Ref(Runtime::kDocker, kId, "", QosClass::kNone, "/docker/" + S(kId))},
        // docker run --cgroup-parent=/my/parent: the id alone, runtime unknown.
        Case{"/my/parent/" + S(kId),
             Ref(Runtime::kUnknown, kId, "", QosClass::kNone, "/my/parent/" + S(kId))},
        // containerd: systemd driver, and the k8s.io namespace of the cgroupfs driver.
        Case{"/system.slice/containerd.service/kubepods-burstable-pod" + S(kUidSystemd) +
                 ".slice:cri-containerd:" + S(kId),
             std::nullopt},  // the "slice:runtime:id" form is a cgroup *name* for systemd, not a
                             // path
        Case{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + S(kUidSystemd) +
                 ".slice/cri-containerd-" + S(kId) + ".scope",
             Ref(Runtime::kContainerd, kId, kUid, QosClass::kBurstable,
                 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                     S(kUidSystemd) + ".slice/cri-containerd-" + S(kId) + ".scope")},
        Case{"/k8s.io/" + S(kId),
             Ref(Runtime::kContainerd, kId, "", QosClass::kNone, "/k8s.io/" + S(kId))},
        // CRI-O, and its conmon helper which is not a container.
        Case{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + S(kUidSystemd) +
                 ".slice/crio-" + S(kId) + ".scope",
             Ref(Runtime::kCrio, kId, kUid, QosClass::kBestEffort,
                 "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                     S(kUidSystemd) + ".slice/crio-" + S(kId) + ".scope")},
        Case{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + S(kUidSystemd) +
                 ".slice/crio-conmon-" + S(kId) + ".scope",
             std::nullopt},
        // Podman.
        Case{"/machine.slice/libpod-" + S(kId) + ".scope",
             Ref(Runtime::kPodman, kId, "", QosClass::kNone,
                 "/machine.slice/libpod-" + S(kId) + ".scope")},
        Case{"/machine.slice/libpod-conmon-" + S(kId) + ".scope", std::nullopt}));

INSTANTIATE_TEST_SUITE_P(
    Kubepods, ContainerPathTest,
    ::testing::Values(
        // cgroupfs driver: QoS classes as directories; guaranteed pods sit right under kubepods.
        Case{"/kubepods/besteffort/pod" + S(kUid) + "/" + S(kId),
             Ref(Runtime::kUnknown, kId, kUid, QosClass::kBestEffort,
                 "/kubepods/besteffort/pod" + S(kUid) + "/" + S(kId))},
        Case{"/kubepods/burstable/pod" + S(kUid) + "/" + S(kId),
             Ref(Runtime::kUnknown, kId, kUid, QosClass::kBurstable,
                 "/kubepods/burstable/pod" + S(kUid) + "/" + S(kId))},
        Case{"/kubepods/pod" + S(kUid) + "/" + S(kId),
             Ref(Runtime::kUnknown, kId, kUid, QosClass::kGuaranteed,
                 "/kubepods/pod" + S(kUid) + "/" + S(kId))},
        // systemd driver, guaranteed: kubepods-pod<uid>.slice.
        Case{"/kubepods.slice/kubepods-pod" + S(kUidSystemd) + ".slice/docker-" + S(kId) + ".scope",
             Ref(Runtime::kDocker, kId, kUid, QosClass::kGuaranteed,
                 "/kubepods.slice/kubepods-pod" + S(kUidSystemd) + ".slice/docker-" + S(kId) +
                     ".scope")},
        // Pod-level cgroups: a pod, no container.
        Case{"/kubepods/burstable/pod" + S(kUid),
             Ref(Runtime::kUnknown, "", kUid, QosClass::kBurstable,
                 "/kubepods/burstable/pod" + S(kUid))},
        Case{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + S(kUidSystemd) +
                 ".slice",
             Ref(Runtime::kUnknown, "", kUid, QosClass::kBestEffort,
                 "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                     S(kUidSystemd) + ".slice")},
        // Nested: kind (kubelet inside a docker container, systemd driver with a prefix) and
        // docker-in-docker. The outer container decides unless the runtime reports the inner
        // one at that very path.
        Case{"/docker/" + S(kOuter) + kKindPod + "/cri-containerd-" + S(kId) + ".scope",
             Ref(Runtime::kDocker, kOuter, "", QosClass::kNone, "/docker/" + S(kOuter))},
        Case{
            "/docker/" + S(kOuter) + kKindPod + "/cri-containerd-" + S(kId) + ".scope",
            Ref(Runtime::kContainerd, kId, kUid, QosClass::kBestEffort,
                "/docker/" + S(kOuter) + kKindPod + "/cri-containerd-" + S(kId) + ".scope"),
            {{S(kId), "/docker/" + S(kOuter) + kKindPod + "/cri-containerd-" + S(kId) + ".scope"}}},
        Case{"/docker/" + S(kOuter) + "/docker/" + S(kId),
             Ref(Runtime::kDocker, kOuter, "", QosClass::kNone, "/docker/" + S(kOuter))},
        Case{"/docker/" + S(kOuter) + "/docker/" + S(kId) + "/init.scope",
             Ref(Runtime::kDocker, kId, "", QosClass::kNone,
                 "/docker/" + S(kOuter) + "/docker/" + S(kId)),
             {{S(kId), "/docker/" + S(kOuter) + "/docker/" + S(kId)}}},
        // The pod-level cgroup of a kind pod is the node container's.
        Case{"/docker/" + S(kOuter) + kKindPod,
             Ref(Runtime::kDocker, kOuter, "", QosClass::kNone, "/docker/" + S(kOuter))},
        // k3s (cgroupfs driver under its own kubepods).
        Case{"/kubepods/besteffort/pod" + S(kUid) + "/" + S(kId) + "/sub",
             Ref(Runtime::kUnknown, kId, kUid, QosClass::kBestEffort,
                 "/kubepods/besteffort/pod" + S(kUid) + "/" + S(kId))}));

// A container that may make sub-cgroups (delegated cgroup v2, a systemd container, a kind
// node) names one after another container, or after another pod, inside its own cgroup. Its
// usage must stay its own, whatever the runtime, driver and layout: the victim's id is trusted
// only where the runtime reports the victim, which is never inside the attacker.
const std::string kAttackerPodSystemd =
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + std::string(kUidSystemd) +
    ".slice";
const std::string kAttackerPodCgroupfs = "/kubepods/burstable/pod" + std::string(kUid);
const std::string kVictimPath =
    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
    std::string(kVictimUidSystemd) + ".slice/cri-containerd-" + std::string(kVictim) + ".scope";
INSTANTIATE_TEST_SUITE_P(
    NestedImpostors, ContainerPathTest,
    ::testing::Values(
        // containerd, systemd driver: the victim's scope, and a whole pod slice, inside.
        Case{kAttackerPodSystemd + "/cri-containerd-" + S(kId) + ".scope/cri-containerd-" +
                 S(kVictim) + ".scope",
             Ref(Runtime::kContainerd, kId, kUid, QosClass::kBurstable,
                 kAttackerPodSystemd + "/cri-containerd-" + S(kId) + ".scope"),
             {{S(kVictim), kVictimPath}}},
        Case{kAttackerPodSystemd + "/cri-containerd-" + S(kId) + ".scope/kubepods-besteffort-pod" +
                 S(kVictimUidSystemd) + ".slice/cri-containerd-" + S(kVictim) + ".scope",
             Ref(Runtime::kContainerd, kId, kUid, QosClass::kBurstable,
                 kAttackerPodSystemd + "/cri-containerd-" + S(kId) + ".scope"),
             {{S(kVictim), kVictimPath}}},
        // Only a pod slice inside: not the victim's pod either.
        Case{kAttackerPodSystemd + "/cri-containerd-" + S(kId) + ".scope/kubepods-pod" +
                 S(kVictimUidSystemd) + ".slice",
             Ref(Runtime::kContainerd, kId, kUid, QosClass::kBurstable,
                 kAttackerPodSystemd + "/cri-containerd-" + S(kId) + ".scope")},
        // kubepods, cgroupfs driver: the bare id, and pod<uid>/<id>.
        Case{kAttackerPodCgroupfs + "/" + S(kId) + "/" + S(kVictim),
             Ref(Runtime::kUnknown, kId, kUid, QosClass::kBurstable,
                 kAttackerPodCgroupfs + "/" + S(kId)),
             {{S(kVictim), "/kubepods/besteffort/pod" + S(kVictimUid) + "/" + S(kVictim)}}},
        Case{kAttackerPodCgroupfs + "/" + S(kId) + "/pod" + S(kVictimUid) + "/" + S(kVictim),
             Ref(Runtime::kUnknown, kId, kUid, QosClass::kBurstable,
                 kAttackerPodCgroupfs + "/" + S(kId))},
        // Docker, both drivers; containerd's k8s.io namespace.
        Case{"/docker/" + S(kId) + "/" + S(kVictim),
             Ref(Runtime::kDocker, kId, "", QosClass::kNone, "/docker/" + S(kId)),
             {{S(kVictim), "/docker/" + S(kVictim)}}},
        Case{"/docker/" + S(kId) + "/docker/" + S(kVictim) + "/sub",
             Ref(Runtime::kDocker, kId, "", QosClass::kNone, "/docker/" + S(kId)),
             {{S(kVictim), "/docker/" + S(kVictim)}}},
        Case{"/system.slice/docker-" + S(kId) + ".scope/docker-" + S(kVictim) + ".scope",
             Ref(Runtime::kDocker, kId, "", QosClass::kNone,
                 "/system.slice/docker-" + S(kId) + ".scope"),
             {{S(kVictim), "/system.slice/docker-" + S(kVictim) + ".scope"}}},
        Case{"/k8s.io/" + S(kId) + "/k8s.io/" + S(kVictim),
             Ref(Runtime::kContainerd, kId, "", QosClass::kNone, "/k8s.io/" + S(kId)),
             {{S(kVictim), "/k8s.io/" + S(kVictim)}}},
        // A conmon name inside a container hides nothing: still the container's.
        Case{"/docker/" + S(kId) + "/crio-conmon-" + S(kVictim) + ".scope",
             Ref(Runtime::kDocker, kId, "", QosClass::kNone, "/docker/" + S(kId))}));

INSTANTIATE_TEST_SUITE_P(
    NotContainers, ContainerPathTest,
    ::testing::Values(
        Case{"/", std::nullopt}, Case{"", std::nullopt},
        Case{"/system.slice/docker.service", std::nullopt},
        Case{"/system.slice/containerd.service", std::nullopt},
        Case{"/user.slice/user-1000.slice/session-2.scope", std::nullopt},
        Case{"/kubepods", std::nullopt}, Case{"/kubepods/burstable", std::nullopt},
        Case{"/kubepods.slice/kubepods-burstable.slice", std::nullopt},
        // Almost an id: 63 digits, upper case, non-hex.
        Case{"/docker/" + S(kId.substr(1)), std::nullopt},
        Case{"/docker/3F6C1C6B2D9E4A7B8C0D1E2F3A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D",
             std::nullopt},
        Case{"/docker/" + S(kId.substr(1)) + "g", std::nullopt},
        Case{"/system.slice/docker-" + S(kId.substr(2)) + ".scope", std::nullopt},
        // A "pod" directory whose UID is malformed.
        Case{"/kubepods/burstable/podnot-a-uid", std::nullopt},
        Case{"/process_api/1bcabf91a723bf5b5209eae64c7e01bf", std::nullopt}));

TEST(ContainerRefNames, Printable) {
  EXPECT_EQ(RuntimeName(Runtime::kCrio), "cri-o");
  EXPECT_EQ(RuntimeName(Runtime::kUnknown), "");
  EXPECT_EQ(QosClassName(QosClass::kBestEffort), "besteffort");
}

}  // namespace
}  // namespace podstat::cgroup
