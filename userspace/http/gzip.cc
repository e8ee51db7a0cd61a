#include "podstat/http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <stdexcept>

namespace podstat::http {
namespace {

bool IsOws(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsOws(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsOws(text.back())) text.remove_suffix(1);
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// RFC 9110 §12.4.2 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")], in thousandths. nullopt if
// malformed.
std::optional<int> ParseQValue(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  int thousandths = text[0] == '1' ? 1000 : 0;
  if (text.size() == 1) return thousandths;
  if (text[1] != '.' || text.size() > 5) return std::nullopt;
  int scale = 100;
  for (size_t i = 2; i < text.size(); ++i, scale /= 10) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    thousandths += (text[i] - '0') * scale;
  }
  if (thousandths > 1000) return std::nullopt;
  return thousandths;
}

}  // namespace

bool AcceptsGzip(std::string_view accept_encoding) {
  // The most specific entry decides: gzip (or its old alias x-gzip) over "*". An entry whose
  // q is malformed is skipped: identity is always a safe answer.
  std::optional<bool> gzip_verdict, wildcard_verdict;
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const size_t semicolon = element.find(';');
    const std::string_view coding = Trim(element.substr(0, semicolon));
    if (coding.empty()) continue;
    std::optional<int> quality = 1000;
    std::string_view parameters =
        semicolon == std::string_view::npos ? std::string_view() : element.substr(semicolon + 1);
    while (!parameters.empty()) {
      const size_t next = parameters.find(';');
      const std::string_view parameter = Trim(parameters.substr(0, next));
      parameters =
          next == std::string_view::npos ? std::string_view() : parameters.substr(next + 1);
      const size_t equals = parameter.find('=');
      if (equals == std::string_view::npos) continue;
      if (EqualsIgnoreCase(Trim(parameter.substr(0, equals)), "q"))
        quality = ParseQValue(Trim(parameter.substr(equals + 1)));
    }
    if (!quality) continue;
    const bool accepted = *quality > 0;
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip"))
      gzip_verdict = gzip_verdict.value_or(false) || accepted;
    else if (coding == "*")
      wildcard_verdict = wildcard_verdict.value_or(false) || accepted;
  }
  if (gzip_verdict) return *gzip_verdict;
  return wildcard_verdict.value_or(false);
}

std::string GzipCompress(std::string_view data, int level) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer (RFC 1952) rather than a zlib one.
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  struct StreamEnd {
    z_stream* stream;
    ~StreamEnd() { deflateEnd(stream); }
  } end{&stream};

  std::string out;
  const uLong bound = data.size() <= ULONG_MAX ? deflateBound(&stream, data.size()) : 0;
  out.resize(std::max<uLong>(bound, 64));
  size_t produced = 0;
  // avail_in and avail_out are 32 bits wide: feed and drain in chunks.
  constexpr size_t kChunk = 1u << 30;
  size_t consumed = 0;
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    const size_t input = std::min(data.size() - consumed, kChunk);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
    stream.avail_in = static_cast<uInt>(input);
    const int flush = consumed + input == data.size() ? Z_FINISH : Z_NO_FLUSH;
    do {
      if (produced == out.size()) out.resize(out.size() * 2);
      const size_t room = std::min(out.size() - produced, kChunk);
      stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      stream.avail_out = static_cast<uInt>(room);
      status = deflate(&stream, flush);
      if (status == Z_STREAM_ERROR || (status == Z_BUF_ERROR && stream.avail_out != 0))
        throw std::runtime_error("gzip: deflate failed");
      produced += room - stream.avail_out;
    } while (stream.avail_out == 0 || (flush == Z_FINISH && status != Z_STREAM_END));
    consumed += input - stream.avail_in;
  }
  out.resize(produced);
  return out;
}

}  // namespace podstat::http
