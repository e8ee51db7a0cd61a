#include "podstat/bpf/sock_state_program.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "podstat/bpf/libbpf_util.h"
#include "podstat/skel/sock_state_bpf.skel.h"
#include "podstat/util/fd.h"
#include "podstat/util/file.h"

namespace podstat::bpf {

static_assert(sizeof(ps_tcp_key) == 8, "ps_tcp_key must match the BPF side");
static_assert(sizeof(ps_tcp_counts) ==
                  sizeof(int64_t) *
                      (PS_FAMILY_COUNT * PS_TCP_STATE_SLOTS +
                       int{PS_FAMILY_COUNT} * int{PS_SOCK_KIND_SLOTS} + 1 + PS_TCP_EVENT_COUNT),
              "ps_tcp_counts must have no hidden padding");
static_assert(sizeof(ps_sock_mark) == 16, "ps_sock_mark must match the BPF side");

std::optional<TracepointType> ParseTracepointType(std::string_view text) {
  if (text == "auto") return TracepointType::kAuto;
  if (text == "tp_btf") return TracepointType::kTpBtf;
  if (text == "raw_tp") return TracepointType::kRawTp;
  return std::nullopt;
}

std::string_view TracepointTypeName(TracepointType type) {
  switch (type) {
    case TracepointType::kAuto:
      return "auto";
    case TracepointType::kTpBtf:
      return "tp_btf";
    case TracepointType::kRawTp:
      return "raw_tp";
  }
  return "unknown";
}

namespace {

// libbpf's print callback takes no user data, so the logger it writes to has to live in a static.
// This is the one piece of process-wide state in podstat, forced by libbpf's API.
std::atomic<Logger*> libbpf_logger{nullptr};
// The verifier's verdict on the last program that failed to load on this thread: loads are
// synchronous, so the load that failed reads it back on the same thread (TakeVerifierSummary).
thread_local std::string last_verifier_verdict;

// The verdict in a verifier log: its last line that is not the closing statistics ("processed N
// insns ...", "verification time ...", "stack depth ...").
std::string VerdictOf(std::string_view log) {
  std::string_view verdict;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string_view::npos) end = log.size();
    const std::string_view line = log.substr(start, end - start);
    if (!line.empty() && !line.starts_with("processed ") &&
        !line.starts_with("verification time") && !line.starts_with("stack depth") &&
        !line.starts_with("-- END PROG LOAD LOG")) {
      verdict = line;
    }
    start = end + 1;
  }
  return std::string(verdict.substr(0, 200));
}

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  Logger* logger = libbpf_logger.load();
  va_list copy;
  va_copy(copy, args);
  const int needed = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (needed <= 0) return 0;
  std::string text(static_cast<size_t>(needed) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(needed));
  // libbpf prints a failed load's verifier log in one message between these markers.
  constexpr std::string_view kBegin = "-- BEGIN PROG LOAD LOG --";
  if (const size_t begin = text.find(kBegin); begin != std::string::npos) {
    last_verifier_verdict = VerdictOf(std::string_view(text).substr(begin + kBegin.size()));
  }
  // Everything libbpf says, the verifier's log included, is debug detail: podstat logs its own
  // one-line summary of any failure at warn or error.
  if (!logger || !logger->Enabled(LogLevel::kDebug)) return 0;
  size_t start = 0;
  while (start < text.size()) {  // one record per line keeps the verifier's log readable
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start)
      logger->Write(LogLevel::kDebug, "libbpf", std::string_view(text).substr(start, end - start));
    start = end + 1;
  }
  return needed;
}

}  // namespace

void RouteLibbpfLogs(Logger& logger) {
  libbpf_logger.store(&logger);
  libbpf_set_print(LibbpfPrint);
}

void CaptureLibbpfMessages() { libbpf_set_print(LibbpfPrint); }

std::string LoadFailureDetail() {
  std::string verdict = std::move(last_verifier_verdict);
  last_verifier_verdict.clear();
  return verdict.empty() ? " (verifier log at --log.level=debug)"
                         : " (verifier: \"" + verdict + "\"; its whole log at --log.level=debug)";
}

std::string MissingKernelBtf() {
  if (::access("/sys/kernel/btf/vmlinux", R_OK) == 0) return {};
  // Where libbpf also looks (/boot/vmlinux-<release>, /lib/modules/<release>/...); rare, and only
  // then is the cost of parsing a whole vmlinux paid here.
  if (struct btf* vmlinux = btf__load_vmlinux_btf()) {
    btf__free(vmlinux);
    return {};
  }
  return "no kernel BTF (/sys/kernel/btf/vmlinux is missing, and libbpf found no vmlinux with BTF "
         "in /boot or /lib/modules: a kernel built without CONFIG_DEBUG_INFO_BTF), so podstat's "
         "CO-RE programs cannot be relocated for this kernel";
}

KernelSupport ProbeKernel() {
  KernelSupport support;
  utsname name{};
  if (::uname(&name) == 0) support.release = name.release;
  support.btf = MissingKernelBtf().empty();
  // libbpf cannot probe BPF_PROG_TYPE_TRACING without an attach target, so ask the question that
  // matters: does the kernel's BTF describe this tracepoint (btf_trace_inet_sock_set_state)?
  support.tracing =
      support.btf && libbpf_find_vmlinux_btf_id("inet_sock_set_state", BPF_TRACE_RAW_TP) > 0;
  support.raw_tracepoint = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, nullptr) == 1;
  struct statfs fs {};
  support.bpffs = ::statfs("/sys/fs/bpf", &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
  return support;
}

void SockStateProgram::SkeletonDeleter::operator()(sock_state_bpf* skeleton) const {
  sock_state_bpf__destroy(skeleton);  // detaches links, closes program and map fds
}

namespace {

// Whether the kernel's tcp:tcp_retransmit_skb passes `int err` (a third argument, 6.x), from the
// tracepoint's BTF prototype: btf_trace_<name> is a typedef of a pointer to a function whose first
// parameter is the tracepoint's private data. False without kernel BTF.
bool RetransmitHasErrArgument() {
  struct btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool has_err = false;
  const int id = btf__find_by_name_kind(vmlinux, "btf_trace_tcp_retransmit_skb", BTF_KIND_TYPEDEF);
  if (id > 0) {
    const struct btf_type* type = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
    if (type && btf_is_ptr(type)) type = btf__type_by_id(vmlinux, type->type);
    if (type && btf_is_func_proto(type)) has_err = btf_vlen(type) >= 4;
  }
  btf__free(vmlinux);
  return has_err;
}

// Whether the kernel has the bpf_rdonly_cast kfunc (6.2+), through which cgroup/sock_release
// reads the cgroup a socket was created in from the socket (release_reads_sk_cgroup in
// bpf/sock_state.bpf.c). False without kernel BTF.
bool KernelHasRdonlyCast() {
  struct btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  const bool found = btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
  btf__free(vmlinux);
  return found;
}

using SkeletonPtr = std::unique_ptr<sock_state_bpf, void (*)(sock_state_bpf*)>;

// What one load attempt enables besides its tracepoint flavour.
struct Attempt {
  TracepointType type;
  std::string cgroup_root;  // cgroup/sock_create and sock_release attached here; empty: left out
  bool sk_storage;          // marks in socket-local storage (tp_btf only) or ps_child_socks
  // sock_release takes a socket's cgroup from the socket (bpf_rdonly_cast, 6.2+), so that only
  // accepted children need marks
  bool release_reads_sk_cgroup;
};

// One attempt with exactly one tracepoint flavour enabled, and the cgroup socket programs when
// a cgroup root is given.
SkeletonPtr TryLoad(const Attempt& attempt, uint32_t max_cgroups, std::string* error) {
  const TracepointType type = attempt.type;
  const std::string& cgroup_root = attempt.cgroup_root;
  CaptureLibbpfMessages();
  SkeletonPtr skeleton(sock_state_bpf__open(), sock_state_bpf__destroy);
  if (!skeleton) {
    *error = "opening the BPF object failed: " + LibbpfError(-errno);
    return {nullptr, sock_state_bpf__destroy};
  }
  const bool btf = type == TracepointType::kTpBtf;
  const bool sockets = !cgroup_root.empty();
  const bool storage = sockets && btf && attempt.sk_storage;
  auto& progs = skeleton->progs;
  for (bpf_program* program : {progs.ps_state_tp_btf, progs.ps_retrans_tp_btf,
                               progs.ps_rst_out_tp_btf, progs.ps_rst_in_tp_btf}) {
    bpf_program__set_autoload(program, btf);
  }
  for (bpf_program* program : {progs.ps_state_raw_tp, progs.ps_retrans_raw_tp,
                               progs.ps_rst_out_raw_tp, progs.ps_rst_in_raw_tp}) {
    bpf_program__set_autoload(program, !btf);
  }
  bpf_program__set_autoload(progs.ps_sock_create, sockets);
  bpf_program__set_autoload(progs.ps_sock_release, sockets);
  // Only the marks of the chosen kind are created; the code using the other is never verified.
  bpf_map__set_autocreate(skeleton->maps.ps_sock_marks, storage);
  bpf_map__set_autocreate(skeleton->maps.ps_child_socks, sockets && !storage);
  skeleton->rodata->count_sockets = sockets;
  skeleton->rodata->use_sk_storage = storage;
  skeleton->rodata->retransmit_has_err = RetransmitHasErrArgument();
  skeleton->rodata->release_reads_sk_cgroup = sockets && attempt.release_reads_sk_cgroup;
  if (int err = bpf_map__set_max_entries(skeleton->maps.ps_tcp_states, max_cgroups); err) {
    *error = "sizing ps_tcp_states failed: " + LibbpfError(err);
    return {nullptr, sock_state_bpf__destroy};
  }
  if (int err = sock_state_bpf__load(skeleton.get()); err) {
    *error = "loading the " + std::string(TracepointTypeName(type)) + " programs" +
             (sockets ? std::string(" with cgroup/sock_create and sock_release (marks in ") +
                            (storage ? "socket-local storage" : "ps_child_socks") +
                            (attempt.release_reads_sk_cgroup ? ", cgroups read by bpf_rdonly_cast)"
                                                             : ")")
                      : "") +
             " failed: " + LibbpfError(err) + LoadFailureDetail();
    return {nullptr, sock_state_bpf__destroy};
  }
  // Attaches the tracepoints; the cgroup programs need a cgroup fd and are attached below.
  if (int err = sock_state_bpf__attach(skeleton.get()); err) {
    *error =
        "attaching the " + std::string(TracepointTypeName(type)) +
        " programs to sock:inet_sock_set_state and the tcp tracepoints failed: " + LibbpfError(err);
    return {nullptr, sock_state_bpf__destroy};
  }
  if (sockets) {
    UniqueFd root(::open(cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) {
      *error = "opening the cgroup v2 root " + cgroup_root + ": " + ErrnoMessage(errno);
      return {nullptr, sock_state_bpf__destroy};
    }
    // The links go into the skeleton, which destroys them (detaching) with everything else.
    skeleton->links.ps_sock_create = bpf_program__attach_cgroup(progs.ps_sock_create, root.get());
    if (!skeleton->links.ps_sock_create) {
      *error = "attaching cgroup/sock_create to " + cgroup_root + " failed: " + LibbpfError(-errno);
      return {nullptr, sock_state_bpf__destroy};
    }
    skeleton->links.ps_sock_release = bpf_program__attach_cgroup(progs.ps_sock_release, root.get());
    if (!skeleton->links.ps_sock_release) {
      *error =
          "attaching cgroup/sock_release to " + cgroup_root + " failed: " + LibbpfError(-errno);
      return {nullptr, sock_state_bpf__destroy};
    }
  }
  return skeleton;
}

}  // namespace

std::unique_ptr<SockStateProgram> SockStateProgram::Load(const SockStateOptions& options,
                                                         Logger& logger, std::string* error) {
  if (std::string missing = MissingKernelBtf(); !missing.empty()) {
    *error = std::move(missing);  // every flavour would fail the same way: no attempt to log
    return nullptr;
  }
  std::vector<TracepointType> attempts;
  if (options.tracepoint == TracepointType::kAuto) {
    const KernelSupport support = ProbeKernel();
    if (support.btf && support.tracing) {
      attempts = {TracepointType::kTpBtf, TracepointType::kRawTp};
    } else {
      logger.Info("bpf", "tp_btf unusable here (kernel BTF: ", support.btf ? "yes" : "no",
                  ", BPF_PROG_TYPE_TRACING: ", support.tracing ? "yes" : "no", "); using raw_tp");
      attempts = {TracepointType::kRawTp};
    }
  } else {
    attempts = {options.tracepoint};
  }

  // First with the cgroup socket programs, their marks in socket-local storage (tp_btf on
  // 5.11+), then in ps_child_socks (5.10's tracing programs may not use socket-local storage;
  // raw_tp never can), then without the socket programs (TCP states still from the tracepoint).
  // Each with sock_release reading the socket's cgroup first where the kernel has
  // bpf_rdonly_cast (6.2+: no mark per socket, ~800 ns less per socket()), then without.
  const bool rdonly_cast = !options.cgroup_root.empty() && KernelHasRdonlyCast();
  std::vector<Attempt> tries;
  for (TracepointType type : attempts) {
    if (!options.cgroup_root.empty()) {
      for (const bool storage : {true, false}) {
        if (storage && type != TracepointType::kTpBtf) continue;
        if (rdonly_cast) tries.push_back({type, options.cgroup_root, storage, true});
        tries.push_back({type, options.cgroup_root, storage, false});
      }
    }
    tries.push_back({type, "", false, false});
  }

  std::string reasons;
  for (const Attempt& attempt : tries) {
    const TracepointType type = attempt.type;
    std::string attempt_error;
    auto loaded = TryLoad(attempt, options.max_cgroups, &attempt_error);
    if (!loaded) {
      logger.Warn("bpf", attempt_error);
      if (!reasons.empty()) reasons += "; ";
      reasons += attempt_error;
      continue;
    }
    std::unique_ptr<SockStateProgram> program(new SockStateProgram());
    program->skeleton_.reset(loaded.release());
    program->sockets_attached_ = !attempt.cgroup_root.empty();
    program->marks_in_storage_ =
        program->sockets_attached_ && attempt.sk_storage && type == TracepointType::kTpBtf;
    program->release_reads_socket_cgroup_ =
        program->sockets_attached_ && attempt.release_reads_sk_cgroup;
    program->type_ = type;
    program->max_cgroups_ = options.max_cgroups;
    program->fallback_reasons_ = reasons;
    program->attached_program_ = type == TracepointType::kTpBtf
                                     ? std::string(kSockStatePrograms[0])
                                     : std::string(kSockStatePrograms[1]);
    logger.Info(
        "bpf", "attached ", program->attached_program_,
        " to sock:inet_sock_set_state and tcp:tcp_{retransmit_skb,send_reset,receive_reset}",
        program->sockets_attached_
            ? ", cgroup/sock_create and sock_release to " + attempt.cgroup_root +
                  (program->marks_in_storage_
                       ? (attempt.release_reads_sk_cgroup
                              ? " (socket marks in socket-local storage, for accepted children "
                                "only: sock_release reads each socket's cgroup from the socket)"
                              : " (socket marks in socket-local storage)")
                       : std::string(" (accepted children tracked in ps_child_socks: no "
                                     "socket-local storage for this program type on this "
                                     "kernel; ") +
                             (attempt.release_reads_sk_cgroup
                                  ? "sock_release reads each socket's cgroup from the socket)"
                                  : "sock_release takes a socket off the closing task's "
                                    "cgroup)"))
            : std::string(", no cgroup socket programs (socket kinds come from /proc)"),
        "; ps_tcp_states sized for ", options.max_cgroups, " cgroups");

    if (!options.pin_dir.empty()) {
      program->pins_.Pin(
          options.pin_dir,
          {program->skeleton_->maps.ps_tcp_states, program->skeleton_->maps.ps_stats}, logger);
    }
    return program;
  }
  *error = "no inet_sock_set_state program could be loaded: " + reasons;
  return nullptr;
}

SockStateProgram::~SockStateProgram() = default;

bool SockStateProgram::IsAttached(std::string_view program) const {
  if (program == kSockStatePrograms[0] || program == kSockStatePrograms[1]) {
    return attached_program_ == program;
  }
  if (program == "cgroup_sock_create" || program == "cgroup_sock_release") {
    return sockets_attached_;
  }
  return std::find(kSockStatePrograms.begin(), kSockStatePrograms.end(), program) !=
         kSockStatePrograms.end();  // the TCP event tracepoints load and attach with the state one
}

bool SockStateProgram::ReadTcpStates(std::vector<TcpStateEntry>& out, std::string* error) const {
  const int fd = bpf_map__fd(skeleton_->maps.ps_tcp_states);
  out.clear();

  if (batch_supported_) {
    // BPF_MAP_LOOKUP_BATCH (5.6+): a few syscalls for the whole map instead of two per entry.
    // Buffers sized for a full map, kept across calls: this runs every sample and twice per
    // network namespace during reconciliation.
    const uint32_t capacity = max_cgroups_;
    std::vector<ps_tcp_key>& keys = batch_keys_;
    std::vector<ps_tcp_counts>& values = batch_values_;
    keys.resize(capacity);
    values.resize(capacity);
    ps_tcp_key in_batch{}, out_batch{};
    bool first = true;
    uint32_t total = 0;
    for (;;) {
      uint32_t count = capacity - total;
      if (count == 0) break;
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      const int err =
          bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data() + total,
                               values.data() + total, &count, &opts);
      total += count;
      if (err) {
        if (errno == ENOENT) break;  // the last batch
        if (first && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP)) {
          batch_supported_ = false;
          break;
        }
        *error = "batched lookup of ps_tcp_states failed: " + ErrnoMessage(errno);
        return false;
      }
      in_batch = out_batch;
      first = false;
    }
    if (batch_supported_) {
      out.reserve(total);
      for (uint32_t i = 0; i < total; ++i) out.push_back({keys[i].cgroup_id, values[i]});
      return true;
    }
  }

  ps_tcp_key key{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    TcpStateEntry entry;
    if (bpf_map_lookup_elem(fd, &next, &entry.counts) == 0) {  // may have been deleted meanwhile
      entry.cgroup_id = next.cgroup_id;
      out.push_back(entry);
    }
    key = next;
    previous = &key;
  }
  return true;
}

bool SockStateProgram::DeleteTcpState(uint64_t cgroup_id) const {
  const ps_tcp_key key{cgroup_id};
  return bpf_map_delete_elem(bpf_map__fd(skeleton_->maps.ps_tcp_states), &key) == 0;
}

std::array<uint64_t, PS_DROP_REASON_COUNT> SockStateProgram::ReadDrops() const {
  const int cpus = libbpf_num_possible_cpus();
  const auto sums = SumPerCpuCounters(bpf_map__fd(skeleton_->maps.ps_stats), PS_DROP_REASON_COUNT,
                                      cpus > 0 ? static_cast<size_t>(cpus) : 0);
  std::array<uint64_t, PS_DROP_REASON_COUNT> totals{};
  std::copy(sums.begin(), sums.end(), totals.begin());
  return totals;
}

std::vector<ProgramRunStats> SockStateProgram::ReadRunStats() const {
  return bpf::ReadRunStats(skeleton_->obj);
}

uint64_t SockStateProgram::StateRecursionMisses() const {
  const bpf_program* state = type_ == TracepointType::kTpBtf ? skeleton_->progs.ps_state_tp_btf
                                                             : skeleton_->progs.ps_state_raw_tp;
  const auto stats = bpf::ReadRunStats(state);
  return stats ? stats->recursion_misses : 0;
}

}  // namespace podstat::bpf
