// A minimal Docker Engine API client over the daemon's unix socket: enough to name containers.
// HTTP/1.1 through libcurl (CURLOPT_UNIX_SOCKET_PATH) with a hard deadline per request and a cap
// on the reply, so a hung, dead or hostile daemon costs at most the timeout and 64 MiB, and never
// blocks anything else. The JSON parsing is a pure function, tested on bodies captured from a real
// dockerd.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podstat/metadata/container_info.h"

namespace podstat::metadata {

struct DockerContainer {
  std::string id;  // full 64-hex id
  ContainerInfo info;
};

// Parses the body of GET /containers/json: Id, Names[0] (leading '/' dropped), Image, Labels.
// Kubernetes labels set by dockershim / cri-dockerd (io.kubernetes.pod.name,
// io.kubernetes.pod.namespace, io.kubernetes.container.name, io.kubernetes.pod.uid) fill pod,
// namespace_, container, pod_uid. nullopt with *error on malformed JSON; entries without an Id
// are skipped.
std::optional<std::vector<DockerContainer>> ParseContainerList(std::string_view json,
                                                               std::string* error);

// One HTTP response, as far as we need it.
struct HttpReply {
  int status = 0;
  std::string body;  // de-chunked when Transfer-Encoding: chunked
};

class DockerClient {
 public:
  // Takes a reference on libcurl's global state: construct it before starting threads.
  DockerClient(std::string socket_path, std::chrono::milliseconds timeout);
  ~DockerClient();
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;

  // GET /containers/json (running containers). nullopt with *error naming the socket and the
  // reason (connect refused, no such file, timeout, HTTP status, bad JSON).
  std::optional<std::vector<DockerContainer>> ListContainers(std::string* error) const;

  // Any GET, for the above and for tests. Responses over 64 MiB are refused.
  std::optional<HttpReply> Get(const std::string& path, std::string* error) const;

  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
  bool curl_ready_ = false;  // curl_global_init succeeded; released in the destructor
};

}  // namespace podstat::metadata
