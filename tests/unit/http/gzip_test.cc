#include "podstat/http/gzip.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "common/gunzip.h"

namespace podstat::http {
namespace {

TEST(AcceptsGzip, Table) {
  const std::pair<const char*, bool> cases[] = {
      {"gzip", true},
      {"GZIP;q=1", true},
      {"gzip;q=1.000", true},
      {"gzip;q=0.001", true},
      {"x-gzip", true},
      {"deflate, gzip;q=0", false},
      {"gzip;q=0.000", false},
      {"gzip; q=0", false},
      {"gzip;Q=0", false},
      {"*", true},
      {"*;q=0", false},
      {"*;q=0, gzip", true},  // the specific entry wins over *
      {"gzip;q=0, *", false},
      {"identity", false},
      {"br;q=1.0, gzip;q=0.8", true},
      {"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
      {"", false},
      {"   ", false},
      {" \t gzip \t ", true},
      {"deflate ,\tgzip ; q = 0.5 ", true},
      {"compress, deflate", false},
      {"gzipx", false},
      {"gzip;q=2", false},  // malformed q: the entry is skipped
      {"gzip;q=abc", false},
      {"gzip;q=0.1234", false},
      {"gzip;q=1.001", false},
      {"gzip;q=", false},
      {"gzip;level=9", true},  // other parameters are ignored
      {",,, gzip ,,", true},
      {";q=1", false},
      {"snappy, gzip, zstd", true},
  };
  for (const auto& [header, expected] : cases) EXPECT_EQ(AcceptsGzip(header), expected) << header;
}

std::string Exposition(size_t containers) {
  std::string text;
  for (size_t i = 0; i < containers; ++i)
    text += "podstat_container_cpu_seconds_total{container_id=\"" + std::to_string(i * 7919) +
            "\",pod=\"web-" + std::to_string(i) + "\"} " + std::to_string(i * 0.25) + "\n";
  return text;
}

TEST(GzipCompress, InflatesToTheInput) {
  std::mt19937 random(42);
  std::string noise(3 << 20, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  const std::string inputs[] = {"", "a", std::string(1, '\0'), Exposition(3000), noise};
  for (const std::string& input : inputs) {
    for (int level : {1, 6, 9}) {
      const std::string compressed = GzipCompress(input, level);
      ASSERT_GE(compressed.size(), 18u);  // header and trailer at least
      EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);
      EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
      EXPECT_EQ(testing::Gunzip(compressed), input)
          << "size " << input.size() << " level " << level;
    }
  }
  const std::string text = Exposition(3000);
  EXPECT_LT(GzipCompress(text).size() * 5, text.size());  // exposition text shrinks a lot
}

TEST(GzipCompress, RefusesBadLevel) { EXPECT_THROW(GzipCompress("x", 42), std::runtime_error); }

// The gzip binary as a second, independent decoder.
TEST(GzipCompress, GzipBinaryDecodes) {
  if (std::system("command -v gzip >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIPPED LOUDLY: no gzip binary (Debian: gzip)";
  char path[] = "/tmp/podstat-gzip-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string input = Exposition(500);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << GzipCompress(input);
  }
  std::FILE* pipe = ::popen(("gzip -dc < " + std::string(path)).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string decoded;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) decoded.append(buffer, n);
  const int status = ::pclose(pipe);
  ::unlink(path);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(decoded, input);
}

}  // namespace
}  // namespace podstat::http
