// EscapeInvalidUtf8 (label values): fixed cases, then a brute-force comparison with an independent
// oracle, glibc's iconv(3) UTF-8 decoder. (glibc's mbrtowc is no oracle: in C.UTF-8 it accepts
// F4 90 80 80, above U+10FFFF, and 5-byte forms; iconv rejects them as Go and Prometheus do.)
#include "podstat/util/strings.h"

#include <gtest/gtest.h>
#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

namespace podstat {
namespace {

TEST(EscapeInvalidUtf8, KeepsValidTextAndEscapesEachInvalidByte) {
  EXPECT_EQ(EscapeInvalidUtf8(""), "");
  EXPECT_EQ(EscapeInvalidUtf8("/kubepods/pod1/docker-abc.scope"),
            "/kubepods/pod1/docker-abc.scope");
  // Control characters, quotes and backslashes are valid UTF-8: the exposition writer escapes
  // what it must. systemd's escapes stay as they are.
  EXPECT_EQ(EscapeInvalidUtf8("a\"b\\c\nd\te\x01"), "a\"b\\c\nd\te\x01");
  EXPECT_EQ(EscapeInvalidUtf8("system-systemd\\x2dcryptsetup.slice"),
            "system-systemd\\x2dcryptsetup.slice");
  EXPECT_EQ(EscapeInvalidUtf8("\xc3\xbc \xe2\x82\xac \xf0\x9d\x84\x9e \xef\xbf\xbd"),
            "\xc3\xbc \xe2\x82\xac \xf0\x9d\x84\x9e \xef\xbf\xbd");  // ü € 𝄞 U+FFFD
  EXPECT_EQ(EscapeInvalidUtf8("x-\xff\xfe"), "x-\\xFF\\xFE");
  EXPECT_EQ(EscapeInvalidUtf8("\x80"), "\\x80");                             // lone trail byte
  EXPECT_EQ(EscapeInvalidUtf8("a\xe2\x82"), "a\\xE2\\x82");                  // truncated €
  EXPECT_EQ(EscapeInvalidUtf8("\xe2\x82z"), "\\xE2\\x82z");                  // cut short
  EXPECT_EQ(EscapeInvalidUtf8("\xed\xa0\x80"), "\\xED\\xA0\\x80");           // surrogate D800
  EXPECT_EQ(EscapeInvalidUtf8("\xc0\xaf"), "\\xC0\\xAF");                    // overlong '/'
  EXPECT_EQ(EscapeInvalidUtf8("\xf4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(EscapeInvalidUtf8("\xe2\xc3\xbc"), "\\xE2\xc3\xbc");  // resumes at the next lead byte
  EXPECT_EQ(EscapeInvalidUtf8(std::string("a\0b\xff", 4)), std::string("a\0b\\xFF", 7));
}

// iconv from UTF-8 to UTF-32: the oracle. One descriptor, reset before each conversion.
class Utf8Oracle {
 public:
  Utf8Oracle() : cd_(::iconv_open("UTF-32LE", "UTF-8")) {}
  ~Utf8Oracle() {
    if (cd_ != reinterpret_cast<iconv_t>(-1)) ::iconv_close(cd_);
  }
  Utf8Oracle(const Utf8Oracle&) = delete;
  Utf8Oracle& operator=(const Utf8Oracle&) = delete;
  bool usable() const { return cd_ != reinterpret_cast<iconv_t>(-1); }

  // Whether all of `text` is well-formed UTF-8; *chars (when given) receives how many code
  // points it holds.
  bool Valid(std::string_view text, size_t* chars = nullptr) {
    ::iconv(cd_, nullptr, nullptr, nullptr, nullptr);
    std::array<char, 4 * 64> out{};
    char* in = const_cast<char*>(text.data());
    size_t in_left = text.size();
    bool ok = true;
    size_t produced = 0;
    while (in_left > 0) {
      char* out_ptr = out.data();
      size_t out_left = out.size();
      const size_t result = ::iconv(cd_, &in, &in_left, &out_ptr, &out_left);
      produced += (out.size() - out_left) / 4;
      if (result != static_cast<size_t>(-1)) continue;
      if (errno == E2BIG) continue;
      ok = false;  // EILSEQ, or EINVAL: an incomplete sequence at the end
      break;
    }
    if (chars) *chars = produced;
    return ok;
  }

 private:
  iconv_t cd_;
};

// An escaper built on the oracle alone: at each position, the one prefix of 1 to 4 bytes that is
// a single valid code point is copied (UTF-8 is prefix-free, so at most one is); with none, the
// byte is escaped and the next one tried. Escaping byte by byte gives the same text as skipping
// Unicode's maximal subparts, because the bytes inside a subpart after its lead are trail bytes,
// and those can never start a sequence.
std::string ReferenceEscape(Utf8Oracle& oracle, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t taken = 0;
    for (size_t k = 1; k <= 4 && i + k <= text.size(); ++k) {
      size_t chars = 0;
      if (oracle.Valid(text.substr(i, k), &chars) && chars == 1) {
        taken = k;
        break;
      }
    }
    if (taken > 0) {
      out.append(text.substr(i, taken));
      i += taken;
      continue;
    }
    const auto byte = static_cast<uint8_t>(text[i]);
    out += "\\x";
    out += kHex[byte >> 4];
    out += kHex[byte & 0xF];
    ++i;
  }
  return out;
}

// Compares one input against the oracle; returns "" or a description of the disagreement.
std::string Check(Utf8Oracle& oracle, std::string_view text) {
  const std::string escaped = EscapeInvalidUtf8(text);
  const bool valid = oracle.Valid(text);
  auto hex = [](std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) {
      char buffer[4];
      std::snprintf(buffer, sizeof buffer, "%02X ", c);
      out += buffer;
    }
    return out;
  };
  if (valid != (escaped == text)) return "validity differs for " + hex(text);
  if (!oracle.Valid(escaped)) return "output is not valid UTF-8 for " + hex(text);
  if (escaped != ReferenceEscape(oracle, text))
    return "differs from the reference for " + hex(text);
  return {};
}

// Every sequence of 1 and 2 bytes, every 3-byte sequence with a 3- or 4-byte lead (E0-FF), and
// every sequence of up to 4 bytes drawn from the edges of each byte class that decides UTF-8
// well-formedness (ASCII; trail 80-8F, 90-9F, A0-BF; C0-C1; C2-DF; E0; E1-EC; ED; EE-EF; F0;
// F1-F3; F4; F5-FF), followed by nothing or by an ASCII byte; and every 2-byte sequence with a
// non-ASCII lead inside ASCII text at 10 offsets. All 2^32 4-byte sequences would
// take minutes; their validity depends on nothing but these classes.
TEST(EscapeInvalidUtf8, AgreesWithIconvOnEveryShortSequence) {
  Utf8Oracle oracle;
  ASSERT_TRUE(oracle.usable()) << "iconv_open(UTF-32LE, UTF-8) failed";
  size_t checked = 0;
  size_t failures = 0;
  std::string first_failures;
  auto check = [&](std::string_view text) {
    ++checked;
    const std::string problem = Check(oracle, text);
    if (problem.empty()) return;
    if (++failures <= 10) first_failures += problem + "\n";
  };

  std::string text;
  for (int a = 0; a < 256; ++a) {
    text.assign(1, static_cast<char>(a));
    check(text);
    for (int b = 0; b < 256; ++b) {
      text.assign({static_cast<char>(a), static_cast<char>(b)});
      check(text);
    }
  }
  for (int a = 0xE0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c = 0; c < 256; ++c) {
        text.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        check(text);
      }
    }
  }
  constexpr std::array<uint8_t, 26> kEdges = {0x00, 0x22, 0x5C, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                                              0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                              0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  for (uint8_t a : kEdges) {
    for (uint8_t b : kEdges) {
      for (uint8_t c : kEdges) {
        for (uint8_t d : kEdges) {
          text.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                       static_cast<char>(d)});
          check(text);
          text += 'z';
          check(text);
        }
      }
    }
  }
  // The same inside longer ASCII text, at every offset of an 8-byte word and across the word
  // boundary, so that the word-at-a-time ASCII scan meets the first non-ASCII byte everywhere.
  const std::string padding = "/kubepods/podA/";
  for (size_t offset = 0; offset <= 9; ++offset) {
    for (int a = 0x80; a < 256; ++a) {
      for (int b = 0; b < 256; ++b) {
        text = padding.substr(0, offset);
        text += static_cast<char>(a);
        text += static_cast<char>(b);
        text += "docker-abc.scope";
        check(text);
      }
    }
  }
  EXPECT_EQ(failures, 0u) << "of " << checked << " sequences; first ones:\n" << first_failures;
  std::printf("checked %zu byte sequences against iconv\n", checked);
}

}  // namespace
// The receiver refuses label values this rejects (Prometheus answers 400 to them too).
TEST(Utf8, IsValidUtf8IsStrict) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xbc"));          // ü
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));      // €
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // 😀
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("abcdefgh\xe2\x82"));  // truncated after the fast path
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));          // bad continuation
}

}  // namespace podstat
