// The one interface every data source implements, and the sink it writes into.
//
// A collection pass (app::Collector) lists the network namespaces and their owners, then runs
// every active source: once per pass (Collect), once per network namespace (CollectNamespace),
// once per container, pod and the root cgroup (CollectCgroup). A source writes what it reads
// into the Sink, keyed by cgroup id or by network namespace, never by path: resolving ids to
// paths, folding a container's sub-cgroups into it, naming it and summing what several sources
// or cgroups gave one label set is the collector's job, done the same way for every source.
// Sources that must adjust values after that (the BPF CPU source continues cgroup accounting)
// do it in Refine.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "podstat/cgroup/resolver.h"
#include "podstat/metrics/catalogue.h"
#include "podstat/model/snapshot.h"
#include "podstat/procfs/process.h"
#include "podstat/util/host_paths.h"

namespace podstat::sources {

// What the registry says of a source: fixed text, the same in every build and on every node.
struct SourceInfo {
  std::string_view name;         // podstat_source_active{source}
  std::string_view provides;     // what it reads, in a few words (status page, --check, README)
  std::string_view fallback_of;  // the source it stands in for when that one is unavailable
  std::string_view flags;        // the flags that turn it on or off, or ""
  std::span<const metrics::MetricSpec* const> metrics;  // the catalogue entries it writes
};

// A network namespace with a process in it, and the cgroup its numbers are reported on: that of
// its lowest pid (the pod sandbox, the container's init), the root cgroup for the host's.
struct OwnedNamespace {
  procfs::NetworkNamespace ns;
  uint64_t owner_cgroup_id = 0;
};

// A cgroup whose CPU, memory and processes are read: every container's and pod's own cgroup and
// the root. A container's sub-cgroups are not walked: its own numbers are hierarchical.
struct WalkedCgroup {
  uint64_t id = 0;
  std::string path;        // relative to the cgroup v2 root: "/" or "/a/b"
  bool container = false;  // a container (not a pod, not the root)
};

// What every source of one pass sees. References stay valid for the pass.
struct Pass {
  const HostPaths& paths;
  const std::string& cgroup_root;                           // the cgroup v2 mount
  const std::vector<procfs::NetworkNamespace>& namespaces;  // every one listed, by inode
  cgroup::CgroupResolver& resolver;
};

// Reads the files of one network namespace (through its lowest pid), each at most once however
// many sources ask: /proc/<pid>/net/tcp serves both the TCP-state and the socket-count fallbacks.
// Lives for one namespace, so a pass holds one namespace's files at a time.
class NamespaceFiles {
 public:
  NamespaceFiles(const HostPaths& paths, pid_t pid) : paths_(paths), pid_(pid) {}
  // "net/sockstat" -> its text, or nullptr when unreadable (the process exited meanwhile).
  const std::string* Read(const std::string& file);

 private:
  const HostPaths& paths_;
  pid_t pid_;
  std::unordered_map<std::string, std::optional<std::string>> read_;
};

struct NamespaceView {
  const OwnedNamespace& owned;
  NamespaceFiles& files;
};

// Where sources write one pass's data.
class Sink {
 public:
  // The partial stats of the cgroup with this id. What several sources write for one id is
  // merged (model::MergeInto) with what other ids of the same label set gave.
  model::CgroupStats& Cgroup(uint64_t cgroup_id) { return cgroups_[cgroup_id]; }
  // What a network namespace says about itself. It is reported on the namespace's owner; of two
  // namespaces one cgroup owns, the first listed is reported.
  model::NetworkStats& Namespace(uint64_t inode);
  model::Snapshot& snapshot() { return snapshot_; }  // node-wide data and self-metrics

  explicit Sink(model::Snapshot& snapshot) : snapshot_(snapshot) {}
  std::unordered_map<uint64_t, model::CgroupStats>& cgroups() { return cgroups_; }
  std::unordered_map<uint64_t, model::NetworkStats>& namespaces() { return namespaces_; }

 private:
  model::Snapshot& snapshot_;
  std::unordered_map<uint64_t, model::CgroupStats> cgroups_;
  std::unordered_map<uint64_t, model::NetworkStats> namespaces_;
};

// The reported cgroups after resolution, keyed by their `id` label (the escaped folded path).
using ResolvedCgroups = std::map<std::string, model::CgroupStats>;

class Source {
 public:
  virtual ~Source() = default;
  virtual const SourceInfo& info() const = 0;
  // Whether it reads anything (podstat_source_active). An inactive source is not run, but still
  // reports its self-metrics (a program that failed to attach says so).
  virtual bool active() const = 0;
  // What it reads on this node, or why it is off: one line for the log and --check.
  virtual std::string Describe() const = 0;
  // How loudly the start-up log states Describe(): warn when something the flags asked for cannot
  // be read at all on this node.
  virtual bool degraded() const { return false; }
  // Whether it needs CollectCgroup (the collector walks the hierarchy only when one does).
  virtual bool walks_cgroups() const { return false; }

  virtual void Collect(const Pass& /*pass*/, Sink& /*sink*/) {}
  virtual void CollectNamespace(const Pass& /*pass*/, const NamespaceView& /*view*/,
                                Sink& /*sink*/) {}
  virtual void CollectCgroup(const Pass& /*pass*/, const WalkedCgroup& /*cgroup*/, Sink& /*sink*/) {
  }
  // After ids were resolved, folded and summed.
  virtual void Refine(const Pass& /*pass*/, ResolvedCgroups& /*cgroups*/) {}
  // A cgroup id this pass wrote has no directory: true if the source let go of it (it held
  // nothing any more), so it is not counted in podstat_unresolved_cgroups.
  virtual bool ForgetCgroup(uint64_t /*id*/) { return false; }
  // Programs, drops, reconciliation counters: called on every pass, active or not.
  virtual void AddSelfStats(model::SelfStats& /*self*/) {}
};

}  // namespace podstat::sources
