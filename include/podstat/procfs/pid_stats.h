// Pure parsers for /proc/<pid>/stat and /proc/<pid>/status (proc(5)), no I/O.
//
// stat is one line of space-separated fields, but field 2, comm, is the process name in
// parentheses and may itself contain spaces and parentheses ("(my (weird) proc)"), so splitting
// the whole line on spaces is wrong. comm runs from the FIRST '(' to the LAST ')'; the fields
// after it never contain ')' and are taken by position.
//
// status is "Key:\tvalue" lines. Its fields are looked up by name, never by line number: the set
// and order of lines differ between kernel versions (Umask:, Kthread: and others were added over
// time), and kernel threads and zombies have no Vm*/Rss* lines at all.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace podstat::procfs {

// PF_KTHREAD in ProcStat::flags (include/linux/sched.h).
inline constexpr uint64_t kProcessFlagKernelThread = 0x00200000;

// The fields of /proc/<pid>/stat the agent uses. Field numbers are proc(5)'s, 1-based.
struct ProcStat {
  pid_t pid = 0;                 // (1)
  std::string comm;              // (2) raw, unescaped: may contain spaces, parentheses, '\n'
  char state = '?';              // (3) R, S, D, Z, T, t, X, I, ...
  pid_t ppid = 0;                // (4)
  uint64_t flags = 0;            // (9) PF_* bits, see kProcessFlagKernelThread
  uint64_t utime_ticks = 0;      // (14) user CPU time, in clock ticks (sysconf(_SC_CLK_TCK))
  uint64_t stime_ticks = 0;      // (15) system CPU time, in clock ticks
  int64_t cutime_ticks = 0;      // (16) user time of waited-for children, in clock ticks
  int64_t cstime_ticks = 0;      // (17) system time of waited-for children, in clock ticks
  int64_t num_threads = 0;       // (20)
  uint64_t starttime_ticks = 0;  // (22) start time after boot, in clock ticks
  uint64_t vsize_bytes = 0;      // (23)
  int64_t rss_pages = 0;         // (24) resident pages; inaccurate by design, see proc(5)
};

// nullopt on malformed text: no "pid (comm)" head, fewer fields than rss (24), or a non-numeric
// field among those above.
std::optional<ProcStat> ParseProcStat(std::string_view text);

// The fields of /proc/<pid>/status the agent uses, kB values converted to bytes.
struct ProcStatus {
  std::string name;  // "Name:", as the kernel escapes it ('\n' -> "\\n", '\\' -> "\\\\")
  char state = '?';  // first character of "State:"
  pid_t tgid = 0;
  pid_t ppid = 0;
  uint64_t threads = 0;
  // "Kthread: 1". Only recent kernels print the line; on older ones this stays false and
  // ProcStat::flags & kProcessFlagKernelThread is the way to tell.
  bool kernel_thread = false;
  // Whether the memory lines below were present ("VmRSS:" seen). Kernel threads and zombies have
  // no mm and no Vm*/Rss* lines: then every *_bytes field is 0 and this is false.
  bool has_memory = false;
  uint64_t vm_peak_bytes = 0;    // VmPeak
  uint64_t vm_size_bytes = 0;    // VmSize: virtual size (top's VIRT)
  uint64_t vm_hwm_bytes = 0;     // VmHWM: peak resident
  uint64_t vm_rss_bytes = 0;     // VmRSS: resident (top's RES) = RssAnon + RssFile + RssShmem
  uint64_t rss_anon_bytes = 0;   // RssAnon
  uint64_t rss_file_bytes = 0;   // RssFile (top's SHR is RssFile + RssShmem)
  uint64_t rss_shmem_bytes = 0;  // RssShmem
  uint64_t vm_swap_bytes = 0;    // VmSwap
};

// nullopt when there is no "Name:" line or when a known field's value does not parse (a memory
// field not in kB, a non-numeric count). Unknown lines are ignored, known ones may come in any
// order.
std::optional<ProcStatus> ParseProcStatus(std::string_view text);

}  // namespace podstat::procfs
