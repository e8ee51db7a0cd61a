#include "podstat/bpf/task_cpu_program.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "podstat/bpf/libbpf_util.h"
#include "podstat/skel/task_cpu_bpf.skel.h"
#include "podstat/util/file.h"
#include "podstat/util/host_paths.h"
#include "podstat/util/strings.h"

namespace podstat::bpf {

static_assert(sizeof(ps_task_key) == 4, "ps_task_key must match the BPF side");
static_assert(sizeof(ps_task_times) == 24, "ps_task_times must have no hidden padding");
static_assert(sizeof(ps_cpu_cgroup_key) == 8, "ps_cpu_cgroup_key must match the BPF side");
static_assert(sizeof(ps_cgroup_cpu) == 16, "ps_cgroup_cpu must have no hidden padding");
// Per-CPU map values reach userspace as one value per possible CPU, each rounded up to 8 bytes;
// this one is a multiple of 8 already, so an array of structs is the exact layout.
static_assert(sizeof(ps_cgroup_cpu) % 8 == 0);

namespace {

// The scheduler tracepoints the object attaches to; a flavour is loaded for all or none.
constexpr const char* kTracepoints[] = {"sched_switch", "sched_wakeup_new"};

// Keys per batched lookup of ps_cpu_cgroups. Each key brings one value per possible CPU, so the
// buffer is bounded by this rather than by --bpf.max-cgroups (8192 cgroups x 128 CPUs x 16 bytes
// would be 16 MB).
constexpr uint32_t kBatchKeys = 256;

// kernel.pid_max: every thread id is below it.
std::optional<uint32_t> ReadPidMax(const std::string& procfs, std::string* error) {
  const std::string path = HostPaths::Join(procfs, "sys/kernel/pid_max");
  int error_number = 0;
  const std::optional<std::string> text = ReadFile(path, &error_number);
  if (!text) {
    *error = "reading " + path + " failed: " + ErrnoMessage(error_number);
    return std::nullopt;
  }
  const std::optional<uint64_t> value = ParseUint64(Trim(*text));
  if (!value || *value == 0 || *value > UINT32_MAX) {
    *error = path + " holds no valid pid_max: '" + std::string(Trim(*text)) + "'";
    return std::nullopt;
  }
  return static_cast<uint32_t>(*value);
}

using Skeleton = std::unique_ptr<task_cpu_bpf, void (*)(task_cpu_bpf*)>;

// One attempt with exactly one program flavour enabled.
Skeleton TryLoad(TracepointType type, uint32_t max_tasks, uint32_t max_cgroups,
                 std::string* error) {
  CaptureLibbpfMessages();
  Skeleton skeleton(task_cpu_bpf__open(), task_cpu_bpf__destroy);
  if (!skeleton) {
    *error = "opening the BPF object failed: " + LibbpfError(-errno);
    return {nullptr, task_cpu_bpf__destroy};
  }
  const bool btf = type == TracepointType::kTpBtf;
  auto& progs = skeleton->progs;
  for (bpf_program* program : {progs.ps_switch_tp_btf, progs.ps_wakeup_new_tp_btf})
    bpf_program__set_autoload(program, btf);
  for (bpf_program* program : {progs.ps_switch_raw_tp, progs.ps_wakeup_new_raw_tp})
    bpf_program__set_autoload(program, !btf);
  if (int err = bpf_map__set_max_entries(skeleton->maps.ps_cpu_tasks, max_tasks); err) {
    *error = "sizing ps_cpu_tasks failed: " + LibbpfError(err);
    return {nullptr, task_cpu_bpf__destroy};
  }
  if (int err = bpf_map__set_max_entries(skeleton->maps.ps_cpu_cgroups, max_cgroups); err) {
    *error = "sizing ps_cpu_cgroups failed: " + LibbpfError(err);
    return {nullptr, task_cpu_bpf__destroy};
  }
  if (int err = task_cpu_bpf__load(skeleton.get()); err) {
    *error = "loading the " + std::string(TracepointTypeName(type)) +
             " scheduler programs failed: " + LibbpfError(err) + LoadFailureDetail();
    return {nullptr, task_cpu_bpf__destroy};
  }
  if (int err = task_cpu_bpf__attach(skeleton.get()); err) {
    *error = "attaching the " + std::string(TracepointTypeName(type)) +
             " scheduler programs failed: " + LibbpfError(err);
    return {nullptr, task_cpu_bpf__destroy};
  }
  return skeleton;
}

}  // namespace

bool SchedTracepointsHaveBtf() {
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) return false;
  // libbpf cannot probe BPF_PROG_TYPE_TRACING without an attach target, so ask whether the
  // kernel's BTF describes each tracepoint (btf_trace_<name>).
  return std::all_of(std::begin(kTracepoints), std::end(kTracepoints), [](const char* name) {
    return libbpf_find_vmlinux_btf_id(name, BPF_TRACE_RAW_TP) > 0;
  });
}

bool KernelKeepsRunDelay() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool found = false;
  const int id = btf__find_by_name_kind(vmlinux, "task_struct", BTF_KIND_STRUCT);
  if (id > 0) {
    const btf_type* type = btf__type_by_id(vmlinux, id);
    const btf_member* member = btf_members(type);
    for (int i = 0; i < btf_vlen(type) && !found; ++i, ++member) {
      found = std::string_view(btf__name_by_offset(vmlinux, member->name_off)) == "sched_info";
    }
  }
  btf__free(vmlinux);
  return found;
}

void TaskCpuProgram::SkeletonDeleter::operator()(task_cpu_bpf* skeleton) const {
  task_cpu_bpf__destroy(skeleton);  // detaches links, closes program and map fds
}

std::unique_ptr<TaskCpuProgram> TaskCpuProgram::Load(const TaskCpuOptions& options, Logger& logger,
                                                     std::string* error) {
  if (std::string missing = MissingKernelBtf(); !missing.empty()) {
    *error = std::move(missing);
    return nullptr;
  }
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) {
    *error = "cannot count the possible CPUs: " + LibbpfError(cpus);
    return nullptr;
  }
  std::string pid_max_error;
  const std::optional<uint32_t> pid_max = ReadPidMax(options.procfs, &pid_max_error);
  uint32_t max_tasks = options.max_tasks;
  if (pid_max) {
    max_tasks = std::min(*pid_max, options.max_tasks);
  } else {
    logger.Warn("bpf", pid_max_error, "; sizing ps_cpu_tasks for ", max_tasks, " threads");
  }
  max_tasks = std::max<uint32_t>(max_tasks, 1);
  const uint32_t max_cgroups = std::max<uint32_t>(options.max_cgroups, 1);

  std::vector<TracepointType> attempts;
  if (options.tracepoint == TracepointType::kAuto) {
    if (SchedTracepointsHaveBtf()) {
      attempts = {TracepointType::kTpBtf, TracepointType::kRawTp};
    } else {
      logger.Info("bpf",
                  "tp_btf unusable for the scheduler tracepoints here (no kernel BTF, or it "
                  "lacks one of them); using raw_tp");
      attempts = {TracepointType::kRawTp};
    }
  } else {
    attempts = {options.tracepoint};
  }

  std::string reasons;
  for (TracepointType type : attempts) {
    std::string attempt_error;
    Skeleton loaded = TryLoad(type, max_tasks, max_cgroups, &attempt_error);
    if (!loaded) {
      logger.Warn("bpf", attempt_error);
      if (!reasons.empty()) reasons += "; ";
      reasons += attempt_error;
      continue;
    }
    std::unique_ptr<TaskCpuProgram> program(new TaskCpuProgram());
    program->skeleton_.reset(loaded.release());
    program->type_ = type;
    program->max_tasks_ = max_tasks;
    program->max_cgroups_ = max_cgroups;
    program->possible_cpus_ = static_cast<uint32_t>(cpus);
    program->runqueue_wait_supported_ = KernelKeepsRunDelay();
    program->attached_program_ =
        std::string(type == TracepointType::kTpBtf ? kPrograms[0] : kPrograms[1]);
    logger.Info("bpf", "attached ", TracepointTypeName(type),
                " programs to sched_switch and sched_wakeup_new; ps_cpu_tasks sized for ",
                max_tasks, " threads (pid_max ", pid_max ? std::to_string(*pid_max) : "unknown",
                ", cap ", options.max_tasks, "), ps_cpu_cgroups for ", max_cgroups, " cgroups");
    if (!program->runqueue_wait_supported_) {
      logger.Warn("bpf",
                  "this kernel keeps no per-thread run-queue wait (no task_struct.sched_info: "
                  "CONFIG_SCHED_INFO is off); run-queue wait will read 0");
    }

    if (!options.pin_dir.empty()) {
      const auto& maps = program->skeleton_->maps;
      program->pins_.Pin(options.pin_dir,
                         {maps.ps_cpu_tasks, maps.ps_cpu_cgroups, maps.ps_cpu_stats}, logger);
    }
    return program;
  }
  *error = "no scheduler programs could be loaded: " + reasons;
  return nullptr;
}

TaskCpuProgram::~TaskCpuProgram() = default;

bool TaskCpuProgram::ReadCgroupTotals(std::vector<CgroupCpuTotals>& out, std::string* error) const {
  const int fd = bpf_map__fd(skeleton_->maps.ps_cpu_cgroups);
  const size_t cpus = possible_cpus_;
  out.clear();
  auto add = [&](uint64_t cgroup_id, const ps_cgroup_cpu* per_cpu) {
    CgroupCpuTotals totals{cgroup_id, 0, 0};
    for (size_t cpu = 0; cpu < cpus; ++cpu) {
      totals.on_cpu_ns += per_cpu[cpu].on_cpu_ns;
      totals.runqueue_wait_ns += per_cpu[cpu].runqueue_wait_ns;
    }
    out.push_back(totals);
  };

  std::vector<ps_cpu_cgroup_key>& keys = batch_keys_;
  std::vector<ps_cgroup_cpu>& values = batch_values_;
  if (batch_supported_) {
    // BPF_MAP_LOOKUP_BATCH (5.6+): one syscall per kBatchKeys cgroups instead of two per cgroup.
    keys.resize(kBatchKeys);
    values.resize(kBatchKeys * cpus);
    ps_cpu_cgroup_key in_batch{}, out_batch{};
    bool first = true;
    for (;;) {
      uint32_t count = kBatchKeys;
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      const int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(),
                                           values.data(), &count, &opts);
      const int saved_errno = errno;
      if (err && saved_errno != ENOENT) {
        if (first &&
            (saved_errno == EINVAL || saved_errno == ENOTSUP || saved_errno == EOPNOTSUPP)) {
          batch_supported_ = false;
          out.clear();
          break;
        }
        *error = "batched lookup of ps_cpu_cgroups failed: " + ErrnoMessage(saved_errno);
        return false;
      }
      for (uint32_t i = 0; i < count; ++i) add(keys[i].cgroup_id, &values[i * cpus]);
      if (err) break;  // ENOENT: that was the last batch
      in_batch = out_batch;
      first = false;
    }
    if (batch_supported_) return true;
  }

  values.resize(cpus);
  ps_cpu_cgroup_key key{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, values.data()) == 0)  // may have been deleted meanwhile
      add(next.cgroup_id, values.data());
    key = next;
    previous = &key;
  }
  return true;
}

bool TaskCpuProgram::DeleteCgroup(uint64_t cgroup_id) const {
  const ps_cpu_cgroup_key key{cgroup_id};
  return bpf_map_delete_elem(bpf_map__fd(skeleton_->maps.ps_cpu_cgroups), &key) == 0;
}

std::array<uint64_t, PS_CPU_DROP_REASON_COUNT> TaskCpuProgram::ReadDrops() const {
  const auto sums = SumPerCpuCounters(bpf_map__fd(skeleton_->maps.ps_cpu_stats),
                                      PS_CPU_DROP_REASON_COUNT, possible_cpus_);
  std::array<uint64_t, PS_CPU_DROP_REASON_COUNT> totals{};
  std::copy(sums.begin(), sums.end(), totals.begin());
  return totals;
}

std::vector<uint32_t> TaskCpuProgram::ListTasks() const {
  const int fd = bpf_map__fd(skeleton_->maps.ps_cpu_tasks);
  std::vector<uint32_t> tids;
  ps_task_key key{}, next{};
  const void* previous = nullptr;
  // Bounded: a key deleted under us restarts the walk from the first key.
  while (tids.size() <= max_tasks_ && bpf_map_get_next_key(fd, previous, &next) == 0) {
    tids.push_back(next.tid);
    key = next;
    previous = &key;
  }
  return tids;
}

std::vector<TaskCpuProgram::ProgramRunStats> TaskCpuProgram::ReadRunStats() const {
  return bpf::ReadRunStats(skeleton_->obj);
}

}  // namespace podstat::bpf
