// zlib's inflate as the oracle for podstat's gzip responses: one complete gzip member (not zlib,
// not raw deflate), nothing after it; or, for /metrics, a sequence of members.
#pragma once

#include <zlib.h>

#include <stdexcept>
#include <string>

namespace podstat::testing {

// Inflates the gzip member that starts at data[offset] and appends it to *out; returns the
// offset just past it. Throws std::runtime_error unless the member is complete.
inline size_t InflateMember(const std::string& data, size_t offset, std::string* out) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
  stream.avail_in = static_cast<uInt>(data.size() - offset);
  char buffer[65536];
  int status;
  do {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    status = inflate(&stream, Z_NO_FLUSH);
    out->append(buffer, sizeof(buffer) - stream.avail_out);
  } while (status == Z_OK);
  const size_t end = data.size() - stream.avail_in;
  inflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("not a complete gzip member");
  return end;
}

// The decoded body. Throws std::runtime_error unless data is exactly one complete gzip member.
inline std::string Gunzip(const std::string& data) {
  std::string out;
  if (InflateMember(data, 0, &out) != data.size()) {
    throw std::runtime_error("bytes after the gzip member");
  }
  return out;
}

// The decoded body of one or more concatenated gzip members (RFC 1952 §2.2), as Go's
// gzip.Reader -- and so Prometheus -- reads a response by default. Throws unless data is a
// sequence of complete members with nothing after the last.
inline std::string GunzipMembers(const std::string& data) {
  std::string out;
  size_t offset = 0;
  do {
    offset = InflateMember(data, offset, &out);
  } while (offset < data.size());
  return out;
}

}  // namespace podstat::testing
