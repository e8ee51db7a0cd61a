#include "podstat/metadata/docker_client.h"

#include <curl/curl.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::metadata {
namespace {

// A daemon listing thousands of containers stays far below this; anything bigger is a bug or an
// attack, and buffering it would cost the agent its memory budget.
constexpr size_t kMaxReplyBytes = size_t{64} << 20;

// How much of a non-200 body goes into the error: enough for Docker's {"message": ...}.
constexpr size_t kErrorBodyBytes = 200;

// sizeof(sockaddr_un::sun_path) - 1: longer paths cannot be connected to at all.
constexpr size_t kMaxSocketPathBytes = 107;

void SetError(std::string* error, std::string message) {
  if (error) *error = std::move(message);
}

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// The body as it arrives. CURLOPT_MAXFILESIZE_LARGE refuses a declared Content-Length over the
// cap before any body byte is read; a chunked or unframed body has no declared size, so the cap
// is enforced here too, and the transfer stops as soon as it is crossed.
struct BodySink {
  std::string body;
  bool over_cap = false;
  // The empty line that ends the final response's head was seen. libcurl takes a connection
  // closed in the middle of the headers as a complete reply with an empty body; this tells the
  // two apart.
  bool head_complete = false;
};

// Header lines arrive one per call, with their line ending; interim 1xx responses come through
// here too, each starting with its own status line.
size_t TrackHead(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t bytes = size * count;
  const std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {
    sink->head_complete = false;
  } else if (line == "\r\n" || line == "\n") {
    sink->head_complete = true;
  }
  return bytes;
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t bytes = size * count;
  if (bytes > kMaxReplyBytes - sink->body.size()) {
    sink->over_cap = true;
    return 0;  // anything but `bytes` makes curl abort with CURLE_WRITE_ERROR
  }
  sink->body.append(data, bytes);
  return bytes;
}

std::optional<std::string> StringField(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

std::optional<std::vector<DockerContainer>> ParseContainerList(std::string_view json,
                                                               std::string* error) {
  // No exceptions: parse errors come back as a discarded value, and every access below checks
  // the type first, because the daemon's JSON is untrusted input.
  const nlohmann::json root = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    SetError(error, "malformed JSON in container list");
    return std::nullopt;
  }
  if (!root.is_array()) {
    SetError(error,
             std::string("container list is a JSON ") + root.type_name() + ", expected an array");
    return std::nullopt;
  }
  std::vector<DockerContainer> containers;
  containers.reserve(root.size());
  for (const nlohmann::json& entry : root) {
    if (!entry.is_object()) continue;
    std::optional<std::string> id = StringField(entry, "Id");
    // Without an id the entry cannot be matched to a cgroup, so it is useless to us.
    if (!id || id->empty()) continue;
    DockerContainer container;
    container.id = std::move(*id);
    ContainerInfo& info = container.info;
    if (const auto names = entry.find("Names"); names != entry.end() && names->is_array() &&
                                                !names->empty() && names->front().is_string()) {
      // The API prefixes names with '/' (a legacy of links); `docker ps` shows them without.
      std::string name = names->front().get<std::string>();
      if (!name.empty() && name.front() == '/') name.erase(0, 1);
      info.name = EscapeInvalidUtf8(name);
    }
    // Names, images and labels become label values. Today they are valid UTF-8 already: Go's
    // encoding/json writes invalid bytes as U+FFFD, and nlohmann::json refuses ill-formed UTF-8
    // (the whole list then fails to parse, see the unit test). Escaping here keeps that true
    // whatever the decoder.
    if (std::optional<std::string> image = StringField(entry, "Image")) {
      info.image = EscapeInvalidUtf8(*image);
    }
    if (const auto labels = entry.find("Labels"); labels != entry.end() && labels->is_object()) {
      for (const auto& [key, value] : labels->items()) {
        if (value.is_string())
          info.labels.emplace(key, EscapeInvalidUtf8(value.get<std::string>()));
      }
    }
    // Set by dockershim / cri-dockerd. The sandbox ("pause") container carries the same pod labels
    // with container name "POD"; it is kept as given, since it owns the pod's network namespace.
    const auto label = [&info](const char* key) {
      const auto it = info.labels.find(key);
      return it == info.labels.end() ? std::string() : it->second;
    };
    info.pod = label("io.kubernetes.pod.name");
    info.namespace_ = label("io.kubernetes.pod.namespace");
    info.container = label("io.kubernetes.container.name");
    info.pod_uid = label("io.kubernetes.pod.uid");
    containers.push_back(std::move(container));
  }
  return containers;
}

DockerClient::DockerClient(std::string socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)),
      timeout_(timeout),
      // Reference-counted by libcurl. The provider is built on the main thread before the
      // metadata thread starts, so this runs before any thread could race it.
      curl_ready_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}

DockerClient::~DockerClient() {
  if (curl_ready_) curl_global_cleanup();
}

std::optional<HttpReply> DockerClient::Get(const std::string& path, std::string* error) const {
  const std::string prefix = "docker socket " + socket_path_ + ": ";
  const auto fail = [&](const std::string& what) {
    SetError(error, prefix + what);
    return std::nullopt;
  };
  // curl would report an overlong path as a resolve failure; say what is wrong instead.
  if (socket_path_.empty() || socket_path_.size() > kMaxSocketPathBytes) {
    return fail("path empty or longer than " + std::to_string(kMaxSocketPathBytes) + " bytes");
  }
  if (!curl_ready_) return fail("curl_global_init failed");
  const Easy curl(curl_easy_init());
  if (!curl) return fail("curl_easy_init failed");

  // Connection: close, as dockerd's own CLI does for one-off requests: each fetch is one short
  // connection, and no idle one is left open on the daemon between fetches. No Accept header:
  // the API answers JSON either way.
  Slist headers;
  for (const char* header : {"Accept:", "Connection: close"}) {
    curl_slist* head = curl_slist_append(headers.get(), header);
    if (head == nullptr) return fail("out of memory");
    (void)headers.release();
    headers.reset(head);
  }

  BodySink sink;
  char curl_error[CURL_ERROR_SIZE] = "";
  const std::string url = "http://docker" + path;
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  // A proxy from the environment (http_proxy, ALL_PROXY) must never see the daemon's requests.
  curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "podstat");
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  // One deadline for connect, send and receive together: a daemon that trickles bytes must not
  // stretch the request beyond timeout_. The connect timeout is the same bound, said explicitly
  // because curl's default for it is 300 s.
  const long timeout_ms = static_cast<long>(timeout_.count());
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  // No SIGALRM for timeouts (they would hit any thread), and no SIGPIPE from a daemon that died
  // mid-request: curl then ignores it around its own sends.
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxReplyBytes));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, TrackHead);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &sink);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, curl_error);

  const CURLcode code = curl_easy_perform(handle);
  const std::string request = "GET " + path + ": ";
  if (code == CURLE_OK) {
    if (!sink.head_complete) return fail(request + "truncated HTTP reply: headers cut off");
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    HttpReply reply;
    reply.status = static_cast<int>(status);
    reply.body = std::move(sink.body);
    return reply;
  }

  const std::string reason = curl_error[0] != '\0' ? curl_error : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT: {
      // The bare reason ("No such file or directory", "Connection refused", "Permission
      // denied"): together with the path that is what an operator needs.
      long os_errno = 0;
      curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &os_errno);
      return fail(os_errno != 0 ? ErrnoMessage(static_cast<int>(os_errno)) : reason);
    }
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connected_after = 0;
      curl_easy_getinfo(handle, CURLINFO_CONNECT_TIME_T, &connected_after);
      const char* stage = connected_after == 0 ? "connecting"
                          : sink.body.empty()  ? "waiting for the reply"
                                               : "reading the reply";
      return fail("timed out after " + std::to_string(timeout_.count()) + " ms " + stage);
    }
    case CURLE_FILESIZE_EXCEEDED:
      return fail("reply to GET " + path + " larger than 64 MiB, refused");
    case CURLE_WRITE_ERROR:
      if (sink.over_cap) return fail("reply to GET " + path + " larger than 64 MiB, refused");
      return fail(request + reason);
    case CURLE_PARTIAL_FILE:
      return fail(request + "truncated HTTP reply: " + reason);
    case CURLE_GOT_NOTHING:
      return fail(request + "empty HTTP reply");
    default:
      return fail(request + reason);
  }
}

std::optional<std::vector<DockerContainer>> DockerClient::ListContainers(std::string* error) const {
  constexpr std::string_view kPath = "/containers/json";
  std::optional<HttpReply> reply = Get(std::string(kPath), error);
  if (!reply) return std::nullopt;
  const std::string prefix = "docker socket " + socket_path_ + ": GET " + std::string(kPath) + ": ";
  if (reply->status != 200) {
    // Docker explains failures in the body ({"message": "..."}), so part of it goes along.
    std::string excerpt(Trim(std::string_view(reply->body).substr(0, kErrorBodyBytes)));
    SetError(error, prefix + "HTTP " + std::to_string(reply->status) +
                        (excerpt.empty() ? "" : ": " + excerpt));
    return std::nullopt;
  }
  std::string parse_error;
  std::optional<std::vector<DockerContainer>> containers =
      ParseContainerList(reply->body, &parse_error);
  if (!containers) SetError(error, prefix + parse_error);
  return containers;
}

}  // namespace podstat::metadata
