#include "podstat/procfs/pid_stats.h"

#include <array>
#include <limits>
#include <utility>
#include <vector>

#include "podstat/util/strings.h"

namespace podstat::procfs {
namespace {

// The last proc(5) field ParseProcStat needs: rss (24).
constexpr size_t kLastStatField = 24;

std::optional<pid_t> ToPid(std::optional<int64_t> value) {
  if (!value || *value < 0 || *value > std::numeric_limits<pid_t>::max()) return std::nullopt;
  return static_cast<pid_t>(*value);
}

// "  34388 kB" -> 34388 * 1024. Every memory line of status is in kB; anything else is not a
// format this parser knows.
std::optional<uint64_t> ParseKibibytes(std::string_view value) {
  const auto fields = SplitFields(value);
  if (fields.size() != 2 || fields[1] != "kB") return std::nullopt;
  const auto kib = ParseUint64(fields[0]);
  if (!kib || *kib > std::numeric_limits<uint64_t>::max() / 1024) return std::nullopt;
  return *kib * 1024;
}

constexpr std::array<std::pair<std::string_view, uint64_t ProcStatus::*>, 8> kMemoryFields = {{
    {"VmPeak", &ProcStatus::vm_peak_bytes},
    {"VmSize", &ProcStatus::vm_size_bytes},
    {"VmHWM", &ProcStatus::vm_hwm_bytes},
    {"VmRSS", &ProcStatus::vm_rss_bytes},
    {"RssAnon", &ProcStatus::rss_anon_bytes},
    {"RssFile", &ProcStatus::rss_file_bytes},
    {"RssShmem", &ProcStatus::rss_shmem_bytes},
    {"VmSwap", &ProcStatus::vm_swap_bytes},
}};

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  // comm is everything between the first '(' and the last ')': the kernel does not escape it, and
  // nothing after it can contain ')'.
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  if (close + 1 >= text.size() || text[close + 1] != ' ') return std::nullopt;

  ProcStat stat;
  const auto pid = ToPid(ParseInt64(Trim(text.substr(0, open))));
  if (!pid || *pid == 0) return std::nullopt;
  stat.pid = *pid;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));

  // fields[0] is proc(5) field 3 (state).
  const std::vector<std::string_view> fields = SplitFields(text.substr(close + 1), " \n");
  if (fields.size() < kLastStatField - 2) return std::nullopt;
  const auto field = [&fields](size_t number) { return fields[number - 3]; };

  if (field(3).size() != 1) return std::nullopt;
  stat.state = field(3).front();

  const auto ppid = ToPid(ParseInt64(field(4)));
  const auto flags = ParseUint64(field(9));
  const auto utime = ParseUint64(field(14));
  const auto stime = ParseUint64(field(15));
  const auto cutime = ParseInt64(field(16));
  const auto cstime = ParseInt64(field(17));
  const auto num_threads = ParseInt64(field(20));
  const auto starttime = ParseUint64(field(22));
  const auto vsize = ParseUint64(field(23));
  const auto rss = ParseInt64(field(24));
  if (!ppid || !flags || !utime || !stime || !cutime || !cstime || !num_threads || !starttime ||
      !vsize || !rss) {
    return std::nullopt;
  }
  stat.ppid = *ppid;
  stat.flags = *flags;
  stat.utime_ticks = *utime;
  stat.stime_ticks = *stime;
  stat.cutime_ticks = *cutime;
  stat.cstime_ticks = *cstime;
  stat.num_threads = *num_threads;
  stat.starttime_ticks = *starttime;
  stat.vsize_bytes = *vsize;
  stat.rss_pages = *rss;
  return stat;
}

std::optional<ProcStatus> ParseProcStatus(std::string_view text) {
  ProcStatus status;
  bool has_name = false;
  for (std::string_view line : SplitLines(text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);

    if (key == "Name") {
      // "Name:\t<name>": the name itself may start or end with spaces, so strip only the tab.
      if (value.starts_with('\t')) value.remove_prefix(1);
      status.name = std::string(value);
      has_name = true;
      continue;
    }
    value = Trim(value);
    if (key == "State") {
      if (value.empty()) return std::nullopt;
      status.state = value.front();
    } else if (key == "Tgid" || key == "PPid") {
      const auto pid = ToPid(ParseInt64(value));
      if (!pid) return std::nullopt;
      (key == "Tgid" ? status.tgid : status.ppid) = *pid;
    } else if (key == "Threads") {
      const auto threads = ParseUint64(value);
      if (!threads) return std::nullopt;
      status.threads = *threads;
    } else if (key == "Kthread") {
      const auto kthread = ParseUint64(value);
      if (!kthread) return std::nullopt;
      status.kernel_thread = *kthread != 0;
    } else {
      for (const auto& [name, member] : kMemoryFields) {
        if (key != name) continue;
        const auto bytes = ParseKibibytes(value);
        if (!bytes) return std::nullopt;
        status.*member = *bytes;
        if (key == "VmRSS") status.has_memory = true;
        break;
      }
    }
  }
  if (!has_name) return std::nullopt;
  return status;
}

}  // namespace podstat::procfs
