#include "podstat/remote_write/snappy.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace podstat::remote_write {
namespace {

// Fragments are compressed independently, so copy offsets always fit 16 bits and the hash table
// can hold uint16 positions.
constexpr size_t kMaxFragment = 65536;
// The match finder reads up to 15 bytes past a candidate position (Load64 at s-1 with s <
// n - 15), so fragments shorter than this are emitted as one literal.
constexpr size_t kInputMargin = 15;
constexpr size_t kMinMatchingFragment = 1 + 1 + kInputMargin;
constexpr size_t kMaxTableSize = size_t{1} << 14;

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

uint32_t Hash(uint32_t bytes, int shift) { return (bytes * 0x1e35a7bdu) >> shift; }

char* PutVarint32(char* op, uint32_t v) {
  while (v >= 0x80) {
    *op++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *op++ = static_cast<char>(v);
  return op;
}

char* EmitLiteral(char* op, const char* literal, size_t length) {
  const size_t n = length - 1;
  if (n < 60) {
    *op++ = static_cast<char>(n << 2);
  } else {
    int bytes = 1;
    while (bytes < 4 && (n >> (8 * bytes)) != 0) ++bytes;
    *op++ = static_cast<char>((59 + bytes) << 2);
    for (int i = 0; i < bytes; ++i) *op++ = static_cast<char>(n >> (8 * i));
  }
  std::memcpy(op, literal, length);
  return op + length;
}

char* EmitCopyAtMost64(char* op, size_t offset, size_t length) {
  if (length < 12 && offset < 2048) {
    *op++ = static_cast<char>(1 | ((length - 4) << 2) | ((offset >> 8) << 5));
    *op++ = static_cast<char>(offset & 0xff);
  } else {
    *op++ = static_cast<char>(2 | ((length - 1) << 2));
    *op++ = static_cast<char>(offset & 0xff);
    *op++ = static_cast<char>(offset >> 8);
  }
  return op;
}

// Splits a long match so that every piece is 4..64 bytes (a 1-byte-offset copy needs >= 4).
char* EmitCopy(char* op, size_t offset, size_t length) {
  while (length >= 68) {
    op = EmitCopyAtMost64(op, offset, 64);
    length -= 64;
  }
  if (length > 64) {
    op = EmitCopyAtMost64(op, offset, 60);
    length -= 60;
  }
  return EmitCopyAtMost64(op, offset, length);
}

// Number of equal bytes at a and b, reading no further than end (a < b < end).
size_t MatchLength(const char* a, const char* b, const char* end) {
  const char* start = b;
  while (end - b >= 8) {
    const uint64_t diff = Load64(a) ^ Load64(b);
    if (diff != 0) return static_cast<size_t>(b - start) + (std::countr_zero(diff) >> 3);
    a += 8;
    b += 8;
  }
  while (b < end && *a == *b) {
    ++a;
    ++b;
  }
  return static_cast<size_t>(b - start);
}

// Greedy matcher over one fragment (n >= kMinMatchingFragment): look up each position's 4 bytes in
// the table, skip faster through incompressible stretches (one more byte per 32 misses), and after
// a copy try the very next position at once.
char* CompressFragment(const char* src, size_t n, char* op, uint16_t* table) {
  int shift = 32 - 8;
  size_t table_size = 256;
  while (table_size < kMaxTableSize && table_size < n) {
    table_size *= 2;
    --shift;
  }
  std::memset(table, 0, table_size * sizeof(uint16_t));

  const size_t s_limit = n - kInputMargin;
  size_t next_emit = 0;
  size_t s = 1;
  uint32_t next_hash = Hash(Load32(src + s), shift);
  for (;;) {
    size_t skip = 32;
    size_t next_s = s;
    size_t candidate = 0;
    for (;;) {
      s = next_s;
      const size_t step = skip >> 5;
      next_s = s + step;
      skip += step;
      if (next_s > s_limit) goto emit_remainder;
      candidate = table[next_hash];
      table[next_hash] = static_cast<uint16_t>(s);
      next_hash = Hash(Load32(src + next_s), shift);
      if (Load32(src + s) == Load32(src + candidate)) break;
    }
    op = EmitLiteral(op, src + next_emit, s - next_emit);
    for (;;) {
      const size_t base = s;
      s += 4 + MatchLength(src + candidate + 4, src + s + 4, src + n);
      op = EmitCopy(op, base - candidate, s - base);
      next_emit = s;
      if (s >= s_limit) goto emit_remainder;
      const uint64_t x = Load64(src + s - 1);
      table[Hash(static_cast<uint32_t>(x), shift)] = static_cast<uint16_t>(s - 1);
      const uint32_t current_hash = Hash(static_cast<uint32_t>(x >> 8), shift);
      candidate = table[current_hash];
      table[current_hash] = static_cast<uint16_t>(s);
      if (static_cast<uint32_t>(x >> 8) != Load32(src + candidate)) {
        next_hash = Hash(static_cast<uint32_t>(x >> 16), shift);
        ++s;
        break;
      }
    }
  }
emit_remainder:
  if (next_emit < n) op = EmitLiteral(op, src + next_emit, n - next_emit);
  return op;
}

void SetError(std::string* error, const char* reason) {
  if (error) *error = reason;
}

// Reads the varint preamble; returns the bytes it took (0 = malformed).
size_t ReadPreamble(std::string_view in, uint32_t* length) {
  uint64_t value = 0;
  for (size_t i = 0; i < in.size() && i < 5; ++i) {
    const auto byte = static_cast<uint8_t>(in[i]);
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (value > UINT32_MAX) return 0;
      *length = static_cast<uint32_t>(value);
      return i + 1;
    }
  }
  return 0;
}

uint32_t LoadLittleEndian(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

std::string SnappyCompress(std::string_view input) {
  std::string out;
  SnappyCompress(input, out);
  return out;
}

void SnappyCompress(std::string_view input, std::string& out) {
  if (input.size() > UINT32_MAX) throw std::length_error("snappy: input over 4 GiB");
  out.resize(32 + input.size() + input.size() / 6);
  char* op = PutVarint32(out.data(), static_cast<uint32_t>(input.size()));
  uint16_t table[kMaxTableSize];
  for (size_t pos = 0; pos < input.size(); pos += kMaxFragment) {
    const size_t n = std::min(kMaxFragment, input.size() - pos);
    if (n < kMinMatchingFragment) {
      op = EmitLiteral(op, input.data() + pos, n);
    } else {
      op = CompressFragment(input.data() + pos, n, op, table);
    }
  }
  out.resize(static_cast<size_t>(op - out.data()));
}

std::optional<size_t> SnappyUncompressedLength(std::string_view compressed) {
  uint32_t length = 0;
  if (ReadPreamble(compressed, &length) == 0) return std::nullopt;
  return length;
}

std::optional<std::string> SnappyUncompress(std::string_view compressed, size_t max_output,
                                            std::string* error) {
  std::string out;
  if (!SnappyUncompress(compressed, max_output, out, error)) return std::nullopt;
  return out;
}

bool SnappyUncompress(std::string_view compressed, size_t max_output, std::string& out,
                      std::string* error) {
  uint32_t declared = 0;
  const size_t preamble = ReadPreamble(compressed, &declared);
  if (preamble == 0) {
    SetError(error, "bad length preamble");
    return false;
  }
  if (declared > max_output) {
    SetError(error, "declared length over the limit");
    return false;
  }
  const uint64_t body = compressed.size() - preamble;
  if (declared > body * 64 / 3 + 11) {
    SetError(error, "declared length larger than the input can expand to");
    return false;
  }

  // The fast paths below move whole 8- or 16-byte chunks and may write up to 15 bytes past an
  // element's end: later elements overwrite them, the slack is cut off at the end, and nothing
  // reads output beyond what is already final.
  constexpr size_t kSlack = 16;
  out.resize(size_t{declared} + kSlack);
  char* const base = out.data();
  size_t produced = 0;
  const auto* ip = reinterpret_cast<const uint8_t*>(compressed.data()) + preamble;
  const auto* const end = reinterpret_cast<const uint8_t*>(compressed.data()) + compressed.size();
  while (ip < end) {
    const uint8_t tag = *ip++;
    const size_t available = static_cast<size_t>(end - ip);
    if ((tag & 3) == 0) {
      uint64_t length = (tag >> 2) + 1u;
      if (length <= 16 && available >= 16 && length <= declared - produced) {
        std::memcpy(base + produced, ip, 16);  // short literal: one fixed-size move
        produced += length;
        ip += length;
        continue;
      }
      if (length > 60) {
        const int bytes = static_cast<int>(length) - 60;
        if (available < static_cast<size_t>(bytes)) {
          SetError(error, "truncated literal length");
          return false;
        }
        length = uint64_t{LoadLittleEndian(ip, bytes)} + 1;
        ip += bytes;
      }
      if (length > static_cast<size_t>(end - ip)) {
        SetError(error, "literal runs past the input");
        return false;
      }
      if (length > declared - produced) {
        SetError(error, "literal runs past the declared length");
        return false;
      }
      std::memcpy(base + produced, ip, length);
      produced += length;
      ip += length;
      continue;
    }

    size_t length = 0;
    size_t offset = 0;
    switch (tag & 3) {
      case 1:
        if (available < 1) {
          SetError(error, "truncated copy");
          return false;
        }
        length = 4 + ((tag >> 2) & 7);
        offset = (static_cast<size_t>(tag >> 5) << 8) | ip[0];
        ip += 1;
        break;
      case 2:
        if (available < 2) {
          SetError(error, "truncated copy");
          return false;
        }
        length = (tag >> 2) + 1u;
        offset = ip[0] | (static_cast<size_t>(ip[1]) << 8);
        ip += 2;
        break;
      default:
        if (available < 4) {
          SetError(error, "truncated copy");
          return false;
        }
        length = (tag >> 2) + 1u;
        offset = LoadLittleEndian(ip, 4);
        ip += 4;
        break;
    }
    if (offset == 0 || offset > produced) {
      SetError(error, offset == 0 ? "copy offset 0" : "copy offset before the start");
      return false;
    }
    if (length > declared - produced) {
      SetError(error, "copy runs past the declared length");
      return false;
    }
    // length <= 64 here. Chunks of at most `offset` bytes only read output that is final.
    char* op = base + produced;
    const char* from = op - offset;
    if (offset >= 16) {
      for (size_t i = 0; i < length; i += 16) std::memcpy(op + i, from + i, 16);
    } else if (offset >= 8) {
      for (size_t i = 0; i < length; i += 8) std::memcpy(op + i, from + i, 8);
    } else {
      for (size_t i = 0; i < length; ++i) op[i] = from[i];  // short repeating pattern
    }
    produced += length;
  }
  if (produced != declared) {
    SetError(error, "output shorter than the declared length");
    return false;
  }
  out.resize(declared);
  return true;
}

}  // namespace podstat::remote_write
