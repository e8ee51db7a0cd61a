#include <sys/stat.h>

#include "podstat/metadata/provider.h"

namespace podstat::metadata {
namespace {

bool IsSocket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

const std::vector<std::string_view>& CriEndpointCandidates() {
  static const std::vector<std::string_view> kCandidates = {
      "run/containerd/containerd.sock", "run/k3s/containerd/containerd.sock",
      "var/run/crio/crio.sock", "run/crio/crio.sock"};
  return kCandidates;
}

std::string ResolveCriEndpoint(const std::string& flag, const HostPaths& paths, std::string* why) {
  if (flag.empty()) {
    *why = "disabled (--runtime.cri-endpoint=\"\")";
    return "";
  }
  if (flag != "auto") {
    *why = "--runtime.cri-endpoint";
    return flag.starts_with("unix://") ? flag : "unix://" + flag;
  }
  std::string looked;
  for (const std::string_view candidate : CriEndpointCandidates()) {
    const std::string path = paths.Root(candidate);
    if (IsSocket(path)) {
      *why = "found " + path + " (--runtime.cri-endpoint=auto)";
      return "unix://" + path;
    }
    looked += (looked.empty() ? "" : ", ") + path;
  }
  *why = "no CRI socket at " + looked + " (--runtime.cri-endpoint=auto)";
  return "";
}

}  // namespace podstat::metadata
