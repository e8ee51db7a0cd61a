#include "docker.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace podstat::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Trim(std::string text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// The last non-empty line: docker may print warnings (on stderr, which RunCommand interleaves)
// before the one line a command is run for.
std::string LastLine(const std::string& output) {
  std::istringstream in(output);
  std::string last;
  for (std::string line; std::getline(in, line);) {
    line = Trim(line);
    if (!line.empty()) last = line;
  }
  return last;
}

bool IsContainerId(std::string_view id) {
  return id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string ReadFileOrThrow(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Mount points of every cgroup hierarchy, v1 and v2 (fields 5 and, after "-", the fstype of
// /proc/self/mountinfo). Mount points with escaped characters do not occur on the hosts we run on.
std::vector<std::string> CgroupMounts() {
  std::vector<std::string> mounts;
  std::istringstream in(ReadFileOrThrow("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::string> field;
    for (std::string f; fields >> f;) field.push_back(f);
    for (size_t i = 5; i + 1 < field.size(); ++i) {
      if (field[i] != "-") continue;
      if (field[i + 1] == "cgroup" || field[i + 1] == "cgroup2") mounts.push_back(field[4]);
      break;
    }
  }
  return mounts;
}

}  // namespace

DockerStatus CheckDocker(std::string* reason) {
  const bool required = std::getenv(kRequireDockerEnv) != nullptr;
  const bool we_started_it = ::access(kDockerdPidFile, F_OK) == 0;
  const DockerStatus unusable =
      required || we_started_it ? DockerStatus::kFail : DockerStatus::kSkip;
  const std::string why_required =
      required ? std::string(" (") + kRequireDockerEnv + " is set: ctest ran the docker fixture)"
      : we_started_it
          ? std::string(" (") + kDockerdPidFile + " exists: docker-test-env.sh started a dockerd)"
          : "";
  CommandResult info;
  try {
    info = RunCommand({"timeout", "30", "docker", "info", "--format", "{{.ServerVersion}}"}, "");
  } catch (const std::exception& e) {
    *reason = std::string("cannot run docker: ") + e.what() + why_required;
    return unusable;
  }
  if (!info.exited_zero() || Trim(info.output).empty()) {
    *reason = "`docker info` failed (" + DescribeWaitStatus(info.wait_status) +
              "): " + Trim(info.output) + why_required;
    return unusable;
  }
  const CommandResult image = RunCommand(
      {"timeout", "30", "docker", "image", "inspect", "--format",
       std::string("{{index .Config.Labels \"") + kTestImageVersionLabel + "\"}}", kTestImage},
      "");
  if (!image.exited_zero()) {
    *reason = std::string("dockerd runs but has no image ") + kTestImage + ": " +
              Trim(image.output) + why_required;
    return unusable;
  }
  if (LastLine(image.output) != kTestImageVersion) {
    *reason = std::string("image ") + kTestImage + " was not built by docker-test-env.sh (label " +
              kTestImageVersionLabel + "='" + LastLine(image.output) + "', want '" +
              kTestImageVersion + "')" + why_required;
    return unusable;
  }
  return DockerStatus::kUsable;
}

std::string Docker(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"timeout", "60", "docker"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = RunCommand(argv, "");
  if (!result.exited_zero()) {
    std::string command;
    for (const std::string& arg : args) command += " " + arg;
    throw std::runtime_error(
        "docker" + command + ": " + DescribeWaitStatus(result.wait_status) +
        (WIFEXITED(result.wait_status) && WEXITSTATUS(result.wait_status) == 124 ? " (timed out)"
                                                                                 : "") +
        ":\n" + result.output);
  }
  return result.output;
}

std::string RandomHex(size_t length) {
  static std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < length; ++i) out.push_back(kDigits[generator() % 16]);
  return out;
}

std::string RandomUuid() {
  std::string hex = RandomHex(32);
  hex[12] = '4';                  // version 4 (random)
  hex[16] = "89ab"[hex[16] % 4];  // RFC 4122 variant
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

std::string CgroupV2PathOf(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/cgroup";
  std::istringstream in(ReadFileOrThrow(path));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  throw std::runtime_error("no cgroup v2 (\"0::\") line in " + path);
}

// ---------------------------------------------------------------------------------------------
// Container

Container::Container(std::string name, const std::vector<std::string>& options,
                     const std::string& script)
    : name_(std::move(name)) {
  std::vector<std::string> args = {"run", "-d", "--label", kTestLabel, "--name", name_};
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {kTestImage, "sh", "-c", script});
  try {
    id_ = LastLine(Docker(args));
    if (!IsContainerId(id_)) {
      throw std::runtime_error("docker run printed '" + id_ + "', not a container id");
    }
    const std::string inspect = LastLine(Docker(
        {"inspect", "--format", "{{.State.Running}} {{.State.Pid}} {{.Config.Image}}", id_}));
    std::istringstream fields(inspect);
    std::string running;
    fields >> running >> pid_ >> image_;
    if (running != "true" || pid_ <= 0) {
      throw std::runtime_error("container " + name_ + " is not running (docker inspect: " +
                               inspect + "); logs:\n" + Docker({"logs", id_}));
    }
    cgroup_ = CgroupV2PathOf(pid_);
  } catch (...) {
    // The destructor will not run: remove by name, which also covers a failed `docker run`
    // that created the container but could not start it.
    RunCommand({"timeout", "60", "docker", "rm", "-f", name_}, "");
    throw;
  }
}

Container::~Container() {
  if (removed_) return;
  try {
    Remove();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot remove container " << name_ << ": " << e.what();
  }
}

void Container::Remove() {
  Docker({"rm", "-f", id_});
  removed_ = true;
}

std::string Container::LogsOrError() const {
  try {
    return Docker({"logs", id_});
  } catch (const std::exception& e) {
    return e.what();
  }
}

void Container::AwaitTcpStates(const TcpStateCounts& want) const {
  const auto deadline = Clock::now() + kConditionTimeout;
  for (;;) {
    const TcpStateCounts got = CountTcpStates(pid_);
    const std::string diff = DiffTcpStates(want, got);
    if (diff.empty()) return;
    if (Clock::now() > deadline) {
      throw std::runtime_error(
          "the workload in container " + name_ + " (pid " + std::to_string(pid_) +
          ") did not reach its TCP states within " + std::to_string(kConditionTimeout.count()) +
          " s (want = intended, got = /proc):\n" + diff + "container output:\n" + LogsOrError());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Container::AwaitFile(const std::string& path) const {
  const std::string root = "/proc/" + std::to_string(pid_) + "/root";
  bool stopped = false;
  const bool appeared = PollUntil(
      [&] {
        if (::access((root + path).c_str(), F_OK) == 0) return true;
        stopped = ::access(root.c_str(), F_OK) != 0;  // the container's init is gone
        return stopped;
      },
      kConditionTimeout, std::chrono::milliseconds(20));
  if (appeared && !stopped) return;
  throw std::runtime_error(
      "the workload in container " + name_ + " (pid " + std::to_string(pid_) + ") " +
      (stopped ? std::string("stopped before it created ") : "did not create ") + path +
      (stopped ? "" : " within " + std::to_string(kConditionTimeout.count()) + " s") +
      "; container output:\n" + LogsOrError());
}

// ---------------------------------------------------------------------------------------------
// CgroupParentCleanup

CgroupParentCleanup::CgroupParentCleanup(std::string parent) {
  // parent, then its ancestors up to (not including) the root: "/a/b/c", "/a/b", "/a".
  std::vector<std::string> chain;
  for (std::string path = std::move(parent); path.size() > 1;) {
    chain.push_back(path);
    path = path.substr(0, path.rfind('/'));
  }
  for (const std::string& mount : CgroupMounts()) {
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string dir = mount + chain[i];
      // The parent itself is ours (its name holds a fresh uid); an ancestor only if docker is
      // about to create it.
      if (i == 0 || !IsDirectory(dir)) to_remove_.push_back({dir, i == 0});
    }
  }
}

CgroupParentCleanup::~CgroupParentCleanup() {
  // The container's own directory may linger for a moment after `docker rm -f` returns.
  const auto deadline = Clock::now() + kConditionTimeout;
  for (const auto& [dir, ours] : to_remove_) {
    while (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      const bool busy = errno == EBUSY || errno == ENOTEMPTY;
      if (busy && !ours) break;  // an ancestor another user's cgroup now lives in: leave it
      if (!busy || Clock::now() > deadline) {
        ADD_FAILURE() << "cannot remove cgroup directory " << dir << ": " << std::strerror(errno);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace podstat::testing
