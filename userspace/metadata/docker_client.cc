#include "podstat/metadata/docker_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

#include "podstat/util/fd.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::metadata {
namespace {

using Clock = std::chrono::steady_clock;

// A daemon listing thousands of containers stays far below this; anything bigger is a bug or an
// attack, and buffering it would cost the agent its memory budget.
constexpr size_t kMaxReplyBytes = size_t{64} << 20;

// How much of a non-200 body goes into the error: enough for Docker's {"message": ...}.
constexpr size_t kErrorBodyBytes = 200;

void SetError(std::string* error, std::string message) {
  if (error) *error = std::move(message);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Trims only HTTP's optional whitespace (SP / HTAB), not CR or LF: a stray CR inside a header
// value must not silently vanish.
std::string_view TrimOws(std::string_view text) {
  const size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t");
  return text.substr(start, end - start + 1);
}
template <TemporaryString T>
std::string_view TrimOws(T&& text) = delete;  // a view into a temporary (see TemporaryString)

// Reads one line starting at *pos. Lines end in CRLF; a bare LF is accepted too (RFC 9112 §2.2
// allows it). nullopt when no terminator is left: the input was cut off mid-line.
std::optional<std::string_view> NextLine(std::string_view raw, size_t* pos) {
  const size_t newline = raw.find('\n', *pos);
  if (newline == std::string_view::npos) return std::nullopt;
  std::string_view line = raw.substr(*pos, newline - *pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  *pos = newline + 1;
  return line;
}
template <TemporaryString T>
std::optional<std::string_view> NextLine(T&& raw, size_t* pos) = delete;

// "HTTP/1.x NNN[ reason]" → NNN.
std::optional<int> ParseStatusLine(std::string_view line) {
  constexpr std::string_view kPrefix = "HTTP/1.";
  if (line.size() < kPrefix.size() + 5 || line.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  std::string_view rest = line.substr(kPrefix.size());
  if (rest[0] < '0' || rest[0] > '9' || rest[1] != ' ') return std::nullopt;
  rest.remove_prefix(2);
  if (rest.size() < 3 || (rest.size() > 3 && rest[3] != ' ')) return std::nullopt;
  int status = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (rest[i] < '0' || rest[i] > '9') return std::nullopt;
    status = status * 10 + (rest[i] - '0');
  }
  if (status < 100) return std::nullopt;
  return status;
}

// Decodes a chunked body starting at pos, trailers included. Every size is checked against what
// is left of the input before anything is copied.
std::optional<std::string> DecodeChunked(std::string_view raw, size_t pos, std::string* error) {
  std::string body;
  for (;;) {
    const std::optional<std::string_view> size_line = NextLine(raw, &pos);
    if (!size_line) {
      SetError(error, "truncated HTTP reply: chunk size line cut off");
      return std::nullopt;
    }
    // chunk-size [ BWS ";" chunk-ext ]: the extensions carry nothing we use.
    std::string_view size_text = *size_line;
    if (const size_t semicolon = size_text.find(';'); semicolon != std::string_view::npos) {
      size_text = size_text.substr(0, semicolon);
    }
    size_text = TrimOws(size_text);
    // 16 hex digits already exceed any body we accept; the bound keeps from_chars honest.
    const std::optional<uint64_t> size =
        size_text.size() <= 16 ? ParseUint64(size_text, 16) : std::nullopt;
    if (!size) {
      SetError(error, "malformed HTTP reply: bad chunk size \"" +
                          std::string(size_line->substr(0, 32)) + "\"");
      return std::nullopt;
    }
    if (*size == 0) break;
    if (*size > raw.size() - pos) {
      SetError(error, "truncated HTTP reply: chunk of " + std::to_string(*size) + " bytes, " +
                          std::to_string(raw.size() - pos) + " left");
      return std::nullopt;
    }
    body.append(raw.substr(pos, static_cast<size_t>(*size)));
    pos += static_cast<size_t>(*size);
    const std::optional<std::string_view> terminator = NextLine(raw, &pos);
    if (!terminator) {
      SetError(error, "truncated HTTP reply: chunk terminator cut off");
      return std::nullopt;
    }
    if (!terminator->empty()) {
      SetError(error, "malformed HTTP reply: chunk longer than its size");
      return std::nullopt;
    }
  }
  // Trailer fields up to the empty line that ends the message. Go's server sends none, but the
  // grammar allows them; their content is irrelevant to us.
  for (;;) {
    const std::optional<std::string_view> trailer = NextLine(raw, &pos);
    if (!trailer) {
      SetError(error, "truncated HTTP reply: chunked body not terminated");
      return std::nullopt;
    }
    if (trailer->empty()) break;
  }
  return body;
}

// One response (status line, headers, body) starting at pos. *end receives where it stopped, so
// the caller can move past interim 1xx responses.
std::optional<HttpReply> ParseOneReply(std::string_view raw, size_t pos, size_t* end,
                                       std::string* error) {
  const std::optional<std::string_view> status_line = NextLine(raw, &pos);
  if (!status_line) {
    SetError(error, raw.substr(pos).empty() ? "empty HTTP reply"
                                            : "truncated HTTP reply: status line cut off");
    return std::nullopt;
  }
  const std::optional<int> status = ParseStatusLine(*status_line);
  if (!status) {
    SetError(error,
             "malformed HTTP status line \"" + std::string(status_line->substr(0, 64)) + "\"");
    return std::nullopt;
  }

  std::optional<uint64_t> content_length;
  bool chunked = false;
  for (;;) {
    const std::optional<std::string_view> line = NextLine(raw, &pos);
    if (!line) {
      SetError(error, "truncated HTTP reply: headers cut off");
      return std::nullopt;
    }
    if (line->empty()) break;
    const size_t colon = line->find(':');
    // No colon, an empty name, whitespace in the name, or obsolete line folding (a leading
    // space): RFC 9112 lets a client reject all of these, and guessing is how smuggling starts.
    if (colon == std::string_view::npos || colon == 0 || (*line)[0] == ' ' || (*line)[0] == '\t' ||
        line->substr(0, colon).find_first_of(" \t") != std::string_view::npos) {
      SetError(error, "malformed HTTP header \"" + std::string(line->substr(0, 64)) + "\"");
      return std::nullopt;
    }
    const std::string_view name = line->substr(0, colon);
    const std::string_view value = TrimOws(line->substr(colon + 1));
    if (EqualsIgnoreCase(name, "Content-Length")) {
      const std::optional<uint64_t> length = ParseUint64(value);
      if (!length || (content_length && *content_length != *length)) {
        SetError(error, "malformed HTTP reply: bad or conflicting Content-Length");
        return std::nullopt;
      }
      content_length = length;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      // We never send Accept-Encoding or TE, so "chunked" is the only coding a sane server uses.
      if (!EqualsIgnoreCase(value, "chunked")) {
        SetError(error,
                 "unsupported Transfer-Encoding \"" + std::string(value.substr(0, 64)) + "\"");
        return std::nullopt;
      }
      chunked = true;
    }
  }

  HttpReply reply;
  reply.status = *status;
  // These statuses never carry a body, whatever the headers say (RFC 9112 §6.3).
  if (*status < 200 || *status == 204 || *status == 304) {
    *end = pos;
    return reply;
  }
  if (chunked) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3).
    std::optional<std::string> body = DecodeChunked(raw, pos, error);
    if (!body) return std::nullopt;
    reply.body = std::move(*body);
  } else if (content_length) {
    if (*content_length > raw.size() - pos) {
      SetError(error, "truncated HTTP reply: Content-Length " + std::to_string(*content_length) +
                          ", " + std::to_string(raw.size() - pos) + " bytes received");
      return std::nullopt;
    }
    reply.body.assign(raw.substr(pos, static_cast<size_t>(*content_length)));
  } else {
    // No length: the body runs to the end of the connection, which is all of raw.
    reply.body.assign(raw.substr(pos));
  }
  *end = raw.size();
  return reply;
}

std::optional<std::string> StringField(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Milliseconds left until deadline, rounded up so a sub-millisecond remainder still polls once.
int RemainingMs(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, 1 << 30));
}

// Waits for events on fd until deadline. true when ready; false with *timed_out or errno set.
bool WaitFor(int fd, short events, Clock::time_point deadline, bool* timed_out) {
  *timed_out = false;
  for (;;) {
    const int timeout_ms = RemainingMs(deadline);
    if (timeout_ms == 0) {
      *timed_out = true;
      return false;
    }
    pollfd pfd{.fd = fd, .events = events, .revents = 0};
    const int n = ::poll(&pfd, 1, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    // Ready, or POLLERR / POLLHUP: the following read or write reports what happened.
    if (n > 0) return true;
  }
}

}  // namespace

std::optional<HttpReply> ParseHttpReply(std::string_view raw, std::string* error) {
  size_t pos = 0;
  // Skip interim responses (100 Continue, 103 Early Hints); 101 would switch protocols, which a
  // plain GET never asks for, so it is returned as is.
  for (;;) {
    size_t end = pos;
    std::optional<HttpReply> reply = ParseOneReply(raw, pos, &end, error);
    if (!reply) return std::nullopt;
    if (reply->status >= 200 || reply->status == 101) return reply;
    pos = end;
  }
}

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

std::optional<HttpReply> DockerClient::Get(const std::string& path, std::string* error) const {
  // One deadline for connect, write and read together: a daemon that trickles bytes must not
  // stretch the request beyond timeout_.
  const Clock::time_point deadline = Clock::now() + timeout_;
  const std::string prefix = "docker socket " + socket_path_ + ": ";
  const auto fail = [&](const std::string& what) {
    SetError(error, prefix + what);
    return std::nullopt;
  };
  const auto timed_out = [&](const char* stage) {
    return fail("timed out after " + std::to_string(timeout_.count()) + " ms " + stage);
  };

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path_.empty() || socket_path_.size() >= sizeof(address.sun_path)) {
    return fail("path empty or longer than " + std::to_string(sizeof(address.sun_path) - 1) +
                " bytes");
  }
  std::copy(socket_path_.begin(), socket_path_.end(), address.sun_path);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail("socket: " + ErrnoMessage(errno));

  bool expired = false;
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
      break;
    }
    const int connect_errno = errno;
    if (connect_errno == EINTR) continue;
    if (connect_errno == EAGAIN) {
      // A unix socket with a full accept backlog: connect did not happen and poll() cannot tell
      // when it would, so retry after a short pause until the deadline.
      const int pause_ms = std::min(RemainingMs(deadline), 10);
      if (pause_ms == 0) return timed_out("connecting (accept backlog full)");
      ::poll(nullptr, 0, pause_ms);
      continue;
    }
    if (connect_errno == EINPROGRESS) {
      if (!WaitFor(fd.get(), POLLOUT, deadline, &expired)) {
        return expired ? timed_out("connecting") : fail("poll: " + ErrnoMessage(errno));
      }
      int so_error = 0;
      socklen_t length = sizeof(so_error);
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &length) != 0) {
        return fail("getsockopt: " + ErrnoMessage(errno));
      }
      if (so_error != 0) return fail(ErrnoMessage(so_error));
      break;
    }
    // The message is the bare reason ("No such file or directory", "Connection refused",
    // "Permission denied"): together with the path that is what an operator needs.
    return fail(ErrnoMessage(connect_errno));
  }

  const std::string request = "GET " + path +
                              " HTTP/1.1\r\nHost: docker\r\nUser-Agent: podstat\r\n"
                              "Connection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    // MSG_NOSIGNAL: a daemon that died mid-request must give EPIPE, not kill the agent.
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return fail("send: " + ErrnoMessage(errno));
    if (!WaitFor(fd.get(), POLLOUT, deadline, &expired)) {
      return expired ? timed_out("sending the request") : fail("poll: " + ErrnoMessage(errno));
    }
  }

  // Connection: close makes EOF the end of the reply, so read until then.
  std::string raw;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n > 0) {
      if (raw.size() + static_cast<size_t>(n) > kMaxReplyBytes) {
        return fail("reply to GET " + path + " larger than 64 MiB, refused");
      }
      raw.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return fail("recv: " + ErrnoMessage(errno));
    if (!WaitFor(fd.get(), POLLIN, deadline, &expired)) {
      return expired ? timed_out("waiting for the reply") : fail("poll: " + ErrnoMessage(errno));
    }
  }

  std::string parse_error;
  std::optional<HttpReply> reply = ParseHttpReply(raw, &parse_error);
  if (!reply) return fail("GET " + path + ": " + parse_error);
  return reply;
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
