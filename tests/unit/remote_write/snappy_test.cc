#include "podstat/remote_write/snappy.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace podstat::remote_write {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

std::string MustUncompress(std::string_view compressed, size_t max = 1 << 24) {
  std::string error;
  auto out = SnappyUncompress(compressed, max, &error);
  EXPECT_TRUE(out.has_value()) << error;
  return out.value_or("<error>");
}

std::string UncompressError(std::string_view compressed, size_t max = 1 << 24) {
  std::string error;
  auto out = SnappyUncompress(compressed, max, &error);
  EXPECT_FALSE(out.has_value());
  return error;
}

// ---- golden bytes, derived by hand from format_description.txt ----

TEST(SnappyGolden, EmptyInputIsJustTheZeroLength) {
  EXPECT_EQ(SnappyCompress(""), Bytes({0x00}));
  EXPECT_EQ(MustUncompress(Bytes({0x00})), "");
}

TEST(SnappyGolden, ShortInputIsOneLiteral) {
  // Length 3, then a literal tag: (3-1) << 2 = 0x08.
  EXPECT_EQ(SnappyCompress("abc"), Bytes({0x03, 0x08, 'a', 'b', 'c'}));
  EXPECT_EQ(MustUncompress(Bytes({0x03, 0x08, 'a', 'b', 'c'})), "abc");
}

TEST(SnappyGolden, RunBecomesLiteralPlusOverlappingCopy) {
  // 20 x 'a': length 0x14; literal "a" (tag 0x00); copy offset 1 length 19. 19 >= 12 needs the
  // 2-byte-offset form: tag (19-1) << 2 | 2 = 0x4a, offset 0x0001 little-endian.
  const std::string input(20, 'a');
  const std::string golden = Bytes({0x14, 0x00, 'a', 0x4a, 0x01, 0x00});
  EXPECT_EQ(SnappyCompress(input), golden);
  EXPECT_EQ(MustUncompress(golden), input);
}

TEST(SnappyGolden, RepeatedBlockBecomesLiteralPlusCopy) {
  // "abcdefgh" x 4: the first 8 bytes are a literal (tag (8-1) << 2 = 0x1c); at position 8 the 4
  // bytes "abcd" match position 0 and the match runs to the end: copy offset 8 length 24, tag
  // (24-1) << 2 | 2 = 0x5e, offset 0x0008.
  std::string input;
  for (int i = 0; i < 4; ++i) input += "abcdefgh";
  std::string golden = Bytes({0x20, 0x1c});
  golden += "abcdefgh";
  golden += Bytes({0x5e, 0x08, 0x00});
  EXPECT_EQ(SnappyCompress(input), golden);
  EXPECT_EQ(MustUncompress(golden), input);
}

TEST(SnappyGolden, LongMatchIsSplitIntoCopiesOfAtMost64) {
  // 70 x 'x': literal "x", then a 69-byte match at offset 1: one 64-byte copy (tag 63 << 2 | 2 =
  // 0xfe, offset 0x0001) and a 1-byte-offset copy of the remaining 5 (tag 1 | (5-4) << 2 = 0x05,
  // offset 0x01).
  const std::string input(70, 'x');
  const std::string golden = Bytes({70, 0x00, 'x', 0xfe, 0x01, 0x00, 0x05, 0x01});
  EXPECT_EQ(SnappyCompress(input), golden);
  EXPECT_EQ(MustUncompress(golden), input);
}

TEST(SnappyGolden, DecodesEveryElementKind) {
  // "abcd" literal, copy-1 (tag 01: length 4 + 1 = 5 in bits 2..4, offset 4 -> "abcda"),
  // copy-2 (length 2, offset 9 -> "ab"), copy-4 (length 3, offset 3 -> "dab"... from output).
  std::string compressed = Bytes({0, 0x0c, 'a', 'b', 'c', 'd'});
  compressed += Bytes({0x01 | (1 << 2), 0x04});           // copy-1: length 5, offset 4
  compressed += Bytes({0x02 | (1 << 2), 0x09, 0x00});     // copy-2: length 2, offset 9
  compressed += Bytes({0x03 | (2 << 2), 0x03, 0, 0, 0});  // copy-4: length 3, offset 3
  const std::string expected = "abcdabcdaabaab";
  compressed[0] = static_cast<char>(expected.size());
  EXPECT_EQ(MustUncompress(compressed), expected);
}

TEST(SnappyGolden, DecodesLongLiteralLengthForms) {
  // Tag 60 << 2: one length byte (length-1) follows; tag 61 << 2: two bytes.
  const std::string seventy(70, 'x');
  std::string one = Bytes({70, 60 << 2, 69}) + seventy;
  EXPECT_EQ(MustUncompress(one), seventy);
  const std::string big(300, 'y');
  std::string two = Bytes({0xac, 0x02, 61 << 2, 0x2b, 0x01}) + big;  // 300 = 0x12c; 299 = 0x12b
  EXPECT_EQ(MustUncompress(two), big);
}

TEST(SnappyGolden, EncoderUsesLongLiteralForm) {
  // Bytes 0..99 hold no repeated 4-byte sequence: one literal of 100, tag 60 << 2 = 0xf0 and
  // length-1 = 99 in one byte.
  std::string input;
  for (int i = 0; i < 100; ++i) input.push_back(static_cast<char>(i));
  EXPECT_EQ(SnappyCompress(input), Bytes({100, 0xf0, 99}) + input);
}

// ---- round trips ----

TEST(SnappyRoundTrip, RandomAndRepetitiveInputs) {
  std::mt19937_64 rng(42);
  for (size_t size : {1u, 15u, 16u, 17u, 100u, 4096u, 65535u, 65536u, 65537u, 200000u}) {
    std::string random(size, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    EXPECT_EQ(MustUncompress(SnappyCompress(random)), random) << size;

    std::string text;
    while (text.size() < size)
      text += "container_memory_usage_bytes{pod=\"nginx-" + std::to_string(rng() % 50) + "\"} ";
    text.resize(size);
    EXPECT_EQ(MustUncompress(SnappyCompress(text)), text) << size;
  }
}

TEST(SnappyRoundTrip, CompressesRepetitiveText) {
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "container_memory_usage_bytes{namespace=\"default\",pod=\"nginx-" +
            std::to_string(i % 7) + "\"} 229376\n";
  const std::string compressed = SnappyCompress(text);
  EXPECT_LT(compressed.size() * 5, text.size()) << "not real compression";
  EXPECT_EQ(MustUncompress(compressed), text);
}

TEST(SnappyRoundTrip, IncompressibleInputGrowsOnlySlightly) {
  std::mt19937_64 rng(7);
  std::string random(100000, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  EXPECT_LE(SnappyCompress(random).size(), random.size() + random.size() / 6 + 32);
}

// ---- hostile input ----

TEST(SnappyHostile, RejectsBadPreamble) {
  EXPECT_EQ(UncompressError(""), "bad length preamble");
  EXPECT_EQ(UncompressError(Bytes({0x80})), "bad length preamble");  // truncated varint
  // Six-byte varint, and a five-byte one above 32 bits.
  EXPECT_EQ(UncompressError(Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01})), "bad length preamble");
  EXPECT_EQ(UncompressError(Bytes({0xff, 0xff, 0xff, 0xff, 0x1f})), "bad length preamble");
}

TEST(SnappyHostile, RejectsHugeDeclaredLengthBeforeAllocating) {
  // Declares 4 GiB - 1 with nothing behind it: over the cap.
  EXPECT_EQ(UncompressError(Bytes({0xff, 0xff, 0xff, 0xff, 0x0f}), 1 << 20),
            "declared length over the limit");
  // Within the cap but impossible for 3 bytes of input (max 64 bytes out per 3 in).
  EXPECT_EQ(UncompressError(Bytes({0x80, 0x80, 0x40, 0x00, 'a', 0xfe}), 1 << 24),
            "declared length larger than the input can expand to");
}

TEST(SnappyHostile, RejectsTruncatedElements) {
  EXPECT_EQ(UncompressError(Bytes({0x05, 0x10, 'a', 'b'})), "literal runs past the input");
  EXPECT_EQ(UncompressError(Bytes({0x05, 60 << 2})), "truncated literal length");
  EXPECT_EQ(UncompressError(Bytes({0x05, 0x00, 'a', 0x01})), "truncated copy");
  EXPECT_EQ(UncompressError(Bytes({0x05, 0x00, 'a', 0x02, 0x01})), "truncated copy");
  EXPECT_EQ(UncompressError(Bytes({0x05, 0x00, 'a', 0x03, 0x01, 0, 0})), "truncated copy");
}

TEST(SnappyHostile, RejectsWrongLengths) {
  // Declared 5, produced 1.
  EXPECT_EQ(UncompressError(Bytes({0x05, 0x00, 'a'})), "output shorter than the declared length");
  // Declared 1, literal of 2.
  EXPECT_EQ(UncompressError(Bytes({0x01, 0x04, 'a', 'b'})),
            "literal runs past the declared length");
  // Declared 3, literal 1 + copy 4.
  EXPECT_EQ(UncompressError(Bytes({0x03, 0x00, 'a', 0x01, 0x01})),
            "copy runs past the declared length");
  // Literal length with 4 length bytes = 4 GiB: must not wrap around.
  EXPECT_EQ(UncompressError(Bytes({0x05, 63 << 2, 0xff, 0xff, 0xff, 0xff, 'a'})),
            "literal runs past the input");
}

TEST(SnappyHostile, RejectsBadCopyOffsets) {
  EXPECT_EQ(UncompressError(Bytes({0x08, 0x00, 'a', 0x01, 0x00})), "copy offset 0");
  EXPECT_EQ(UncompressError(Bytes({0x08, 0x00, 'a', 0x01, 0x02})), "copy offset before the start");
  EXPECT_EQ(UncompressError(Bytes({0x05, 0x06, 0x02, 0x00})), "copy offset before the start");
}

TEST(SnappyHostile, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20000; ++i) {
    std::string garbage(rng() % 64, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    std::string error;
    auto out = SnappyUncompress(garbage, 1 << 16, &error);
    if (out) {
      EXPECT_EQ(out->size(), *SnappyUncompressedLength(garbage));
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
}

}  // namespace
}  // namespace podstat::remote_write
