// The snappy *block* format (never the framed/stream format), as remote_write 1.0 requires.
// Written by hand: the format is small (google/snappy format_description.txt) and owning the
// decoder lets us bound every length against hostile input before allocating anything.
//
// A block is: the uncompressed length as a little-endian base-128 varint (at most 32 bits), then
// elements, each starting with a tag byte whose low two bits select the kind:
//   00 literal   length-1 in the upper six bits (0..59), or 60..63 = 1..4 little-endian length
//                bytes follow holding length-1; then the literal bytes.
//   01 copy      length 4..11 in bits 2..4, offset 0..2047: bits 5..7 high, next byte low.
//   10 copy      length 1..64 in the upper six bits (length-1), 2-byte little-endian offset.
//   11 copy      same with a 4-byte offset.
// A copy repeats `length` bytes starting `offset` bytes back in the output; it may overlap itself
// (offset < length repeats a pattern).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace podstat::remote_write {

// Compresses input into one snappy block. Real compression: 64 KiB fragments, a hash table of
// 4-byte sequences, copies for every match of 4 bytes or more (the same greedy scheme as the
// reference encoders, so the output of a given input is reproducible and pinned by tests).
std::string SnappyCompress(std::string_view input);
// Same, into out (replaced), reusing its capacity: a sender compressing request after request
// then stops allocating (and page-faulting) a fresh buffer each time.
void SnappyCompress(std::string_view input, std::string& out);

// The uncompressed length a block declares, or nullopt when the preamble is malformed.
std::optional<size_t> SnappyUncompressedLength(std::string_view compressed);

// Decompresses one block. Returns nullopt with a short reason in *error (when error is non-null)
// on any malformation: bad preamble, truncated element, copy offset 0 or before the start, output
// longer or shorter than declared. A declared length above max_output, or above what the input
// could possibly expand to (a 3-byte copy yields at most 64 bytes), is rejected before anything is
// allocated, so a tiny "decompression bomb" costs nothing.
std::optional<std::string> SnappyUncompress(std::string_view compressed, size_t max_output,
                                            std::string* error);
// Same, into out (replaced; unspecified on failure), reusing its capacity.
bool SnappyUncompress(std::string_view compressed, size_t max_output, std::string& out,
                      std::string* error);

}  // namespace podstat::remote_write
