// Pinning on a host without a bpf filesystem: MapPins (through a real loader, TaskCpuProgram)
// mounts one at /sys/fs/bpf itself, and when it cannot, warns and loads unpinned. Each case runs
// in a forked child with its own mount namespace, where /sys/fs/bpf is first unmounted, so the
// test neither depends on what the host has mounted nor changes it.
#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "podstat/bpf/libbpf_util.h"
#include "podstat/bpf/task_cpu_program.h"
#include "podstat/util/log.h"
#include "support/privileges.h"

namespace podstat::bpf {
namespace {

bool IsBpffs(const char* path) {
  struct statfs fs {};
  return ::statfs(path, &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

// A Logger whose records can be read back.
class CapturedLog {
 public:
  CapturedLog() : file_(::open_memstream(&buffer_, &size_)), logger_(LogLevel::kDebug, file_) {
    if (!file_) throw std::runtime_error("open_memstream failed");
  }
  ~CapturedLog() {
    std::fclose(file_);
    std::free(buffer_);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  Logger& logger() { return logger_; }
  std::string Text() {
    std::fflush(file_);
    return std::string(buffer_, size_);
  }

 private:
  char* buffer_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
  Logger logger_;
};

// Runs `body` in a forked child inside a new, private mount namespace with no bpf filesystem at
// /sys/fs/bpf, after `prepare` (if any) has changed that namespace further. The child's answer is
// "ok" or what went wrong; returned as is. Only safe while the test process is single-threaded,
// which a gtest process is between tests.
std::string InFreshMountNamespace(const std::function<void()>& prepare,
                                  const std::function<std::string()>& body) {
  int result[2];
  if (::pipe2(result, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::close(result[0]);
    std::string out;
    try {
      if (::unshare(CLONE_NEWNS) != 0)
        throw std::runtime_error(std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno));
      // Nothing done here propagates back to the host's mounts.
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        throw std::runtime_error(std::string("making / private: ") + std::strerror(errno));
      for (int i = 0; i < 100 && IsBpffs("/sys/fs/bpf"); ++i) {
        if (::umount2("/sys/fs/bpf", MNT_DETACH) != 0)
          throw std::runtime_error(std::string("umount /sys/fs/bpf: ") + std::strerror(errno));
      }
      if (IsBpffs("/sys/fs/bpf"))
        throw std::runtime_error("/sys/fs/bpf is still a bpf filesystem after 100 unmounts");
      if (prepare) prepare();
      out = body();
    } catch (const std::exception& e) {
      out = std::string("child: ") + e.what();
    }
    const bool sent =
        ::write(result[1], out.data(), out.size()) == static_cast<ssize_t>(out.size());
    ::_exit(sent ? 0 : 1);
  }
  ::close(result[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(result[0], buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  ::close(result[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "the child died (status " + std::to_string(status) + "): " + out;
  }
  return out;
}

// The first line of `text` that contains `needle`, or "".
std::string LineWith(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  if (at == std::string::npos) return {};
  const size_t begin = text.rfind('\n', at);
  const size_t end = text.find('\n', at);
  return text.substr(begin == std::string::npos ? 0 : begin + 1,
                     end == std::string::npos ? std::string::npos
                                              : end - (begin == std::string::npos ? 0 : begin + 1));
}

std::string PinDir() { return "/sys/fs/bpf/podstat-test-bpffs-" + std::to_string(::getpid()); }

TEST(BpffsPrivilegedTest, PinningMountsABpfFilesystemWhenNoneIsMounted) {
  PODSTAT_REQUIRE_PRIVILEGES();
  const std::string answer = InFreshMountNamespace(nullptr, [] {
    CapturedLog log;
    TaskCpuOptions options;
    options.pin_dir = PinDir();
    std::string error;
    auto program = TaskCpuProgram::Load(options, log.logger(), &error);
    if (!program) return "load failed: " + error;
    std::string problems;
    if (!IsBpffs("/sys/fs/bpf")) problems += "no bpf filesystem at /sys/fs/bpf after Load; ";
    // 0700 as asked for (the root of a bpf filesystem also carries the sticky bit).
    struct stat st {};
    if (::stat("/sys/fs/bpf", &st) != 0 || (st.st_mode & 0777) != 0700) {
      char mode[16];
      std::snprintf(mode, sizeof mode, "%o", st.st_mode & 07777);
      problems += std::string("/sys/fs/bpf has mode ") + mode + ", not 0700; ";
    }
    const std::string pin = options.pin_dir + "/ps_cpu_cgroups";
    const int fd = bpf_obj_get(pin.c_str());
    if (fd < 0) {
      problems += "bpf_obj_get " + pin + ": " + std::strerror(errno) + "; ";
    } else {
      ::close(fd);
    }
    const std::string text = log.Text();
    const std::string line = LineWith(text, "mounted a bpf filesystem at /sys/fs/bpf");
    if (line.find("level=info") == std::string::npos ||
        line.find("none was mounted") == std::string::npos) {
      problems += "no info record saying the bpf filesystem was mounted and why; ";
    }
    program.reset();
    if (::access(options.pin_dir.c_str(), F_OK) == 0) problems += options.pin_dir + " left; ";
    return problems.empty() ? std::string("ok") : problems + "log:\n" + text;
  });
  EXPECT_EQ(answer, "ok");
}

// A second loader finds the mount the first one made and does not stack another on it.
TEST(BpffsPrivilegedTest, ASecondLoaderUsesTheMountTheFirstMade) {
  PODSTAT_REQUIRE_PRIVILEGES();
  const std::string answer = InFreshMountNamespace(nullptr, [] {
    CapturedLog log;
    if (!EnsureBpffsForPins(PinDir(), log.logger())) return "first call failed:\n" + log.Text();
    const std::string first = log.Text();
    if (!EnsureBpffsForPins(PinDir() + "-second", log.logger()))
      return "second call failed:\n" + log.Text();
    const std::string both = log.Text();
    if (both.size() != first.size()) return "the second call logged:\n" + both.substr(first.size());
    // Exactly one bpf mount on /sys/fs/bpf in this namespace.
    std::FILE* mounts = std::fopen("/proc/self/mounts", "r");
    if (!mounts) return std::string("cannot read /proc/self/mounts");
    int count = 0;
    char device[256], target[256], type[64];
    while (std::fscanf(mounts, "%255s %255s %63s %*[^\n]", device, target, type) == 3) {
      if (std::string(target) == "/sys/fs/bpf" && std::string(type) == "bpf") ++count;
    }
    std::fclose(mounts);
    return count == 1 ? std::string("ok")
                      : std::to_string(count) + " bpf mounts on /sys/fs/bpf, want 1";
  });
  EXPECT_EQ(answer, "ok");
}

// Mounting fails (here /sys/fs/bpf does not exist: an empty tmpfs hides /sys/fs): a warning says
// so, and the program loads and runs unpinned.
TEST(BpffsPrivilegedTest, WhenMountingFailsItWarnsAndLoadsUnpinned) {
  PODSTAT_REQUIRE_PRIVILEGES();
  const std::string answer = InFreshMountNamespace(
      [] {
        if (::mount("tmpfs", "/sys/fs", "tmpfs", 0, "mode=0755") != 0)
          throw std::runtime_error(std::string("tmpfs on /sys/fs: ") + std::strerror(errno));
      },
      [] {
        CapturedLog log;
        TaskCpuOptions options;
        options.pin_dir = PinDir();
        std::string error;
        auto program = TaskCpuProgram::Load(options, log.logger(), &error);
        if (!program) return "load failed (it must go on unpinned): " + error;
        const std::string text = log.Text();
        std::string problems;
        const std::string line = LineWith(text, "no bpf filesystem at /sys/fs/bpf");
        if (line.find("level=warn") == std::string::npos ||
            line.find("mounting one failed") == std::string::npos ||
            line.find("maps stay unpinned") == std::string::npos) {
          problems += "no warning that mounting failed and maps stay unpinned; ";
        }
        if (text.find("msg=\"pinned ") != std::string::npos) problems += "something was pinned; ";
        if (IsBpffs("/sys/fs/bpf")) problems += "a bpf filesystem is mounted anyway; ";
        return problems.empty() ? std::string("ok") : problems + "log:\n" + text;
      });
  EXPECT_EQ(answer, "ok");
}

// A pin directory elsewhere, not on a bpf filesystem: nothing is mounted there, a warning names it.
TEST(BpffsPrivilegedTest, APinDirectoryOutsideSysFsBpfIsNotMountedOver) {
  PODSTAT_REQUIRE_PRIVILEGES();
  char dir[] = "/tmp/podstat-test-pins-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr) << std::strerror(errno);
  CapturedLog log;
  EXPECT_FALSE(EnsureBpffsForPins(std::string(dir) + "/podstat", log.logger()));
  const std::string text = log.Text();
  EXPECT_NE(text.find("level=warn"), std::string::npos) << text;
  EXPECT_NE(text.find(std::string(dir) + " is not on a bpf filesystem"), std::string::npos) << text;
  EXPECT_FALSE(IsBpffs(dir));
  EXPECT_EQ(::rmdir(dir), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace podstat::bpf
