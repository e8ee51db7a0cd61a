// gzip for responses: Prometheus always sends "Accept-Encoding: gzip", and a 300-container
// exposition shrinks ~10x.
#pragma once

#include <string>
#include <string_view>

namespace podstat::http {

// true if the Accept-Encoding header value accepts gzip (RFC 9110 §12.5.3: "gzip" or "x-gzip"
// or "*" with q > 0; "gzip;q=0" refuses; case-insensitive; whitespace tolerated).
bool AcceptsGzip(std::string_view accept_encoding);

// gzip (RFC 1952) of data, compression level 1..9. Throws std::runtime_error only if zlib
// fails (out of memory).
std::string GzipCompress(std::string_view data, int level = 6);

}  // namespace podstat::http
