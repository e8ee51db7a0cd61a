#include "podstat/app/collector.h"

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <unordered_map>

#include "podstat/procfs/process.h"
#include "podstat/util/strings.h"

namespace podstat::app {
namespace {

// The host's (initial) network namespace: that of pid 1, or of kthreadd (pid 2), a kernel thread
// that never leaves the initial namespaces, when pid 1's links are unreadable (some sandboxes
// deny them even to root). Without either, our own namespace is the best guess.
std::optional<uint64_t> HostNetworkNamespace(const HostPaths& paths, Logger& logger) {
  for (pid_t pid : {1, 2}) {
    if (const auto inode = procfs::NetworkNamespaceOf(paths, pid)) return inode;
  }
  const auto own = procfs::NetworkNamespaceOf(paths, ::getpid());
  logger.Warn("collector", "cannot read ", paths.Proc(1, "ns/net"), " or ", paths.Proc(2, "ns/net"),
              "; taking podstat's own network namespace as the host's (TIME_WAIT attribution)");
  return own;
}

}  // namespace

Collector::Collector(Options options, std::vector<std::unique_ptr<sources::Source>> sources,
                     Logger& logger)
    : options_(std::move(options)),
      sources_(std::move(sources)),
      logger_(logger),
      resolver_(options_.cgroup_root) {
  resolver_.Rescan();
  host_netns_ = HostNetworkNamespace(options_.paths, logger_);
}

Collector::~Collector() = default;

std::optional<uint64_t> Collector::CgroupIdOfPath(const std::string& path) const {
  struct stat st {};
  const std::string full = path == "/" ? options_.cgroup_root : options_.cgroup_root + path;
  if (::stat(full.c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

std::vector<sources::OwnedNamespace> Collector::OwnedNamespaces(
    const std::vector<procfs::NetworkNamespace>& namespaces) const {
  std::vector<sources::OwnedNamespace> owned;
  owned.reserve(namespaces.size());
  for (const procfs::NetworkNamespace& ns : namespaces) {
    // The host's namespace is everybody's; its numbers go to the root cgroup.
    std::optional<std::string> owner = std::string("/");
    if (ns.inode != host_netns_) owner = procfs::CgroupV2PathOf(options_.paths, ns.lowest_pid);
    if (!owner) continue;  // the process exited since the namespaces were listed
    const auto id = CgroupIdOfPath(*owner);
    if (!id) continue;
    owned.push_back({ns, *id});
  }
  return owned;
}

std::vector<sources::WalkedCgroup> Collector::WalkedCgroups() const {
  std::vector<sources::WalkedCgroup> walked;
  resolver_.ForEach([&](uint64_t id, const std::string& path) {
    const auto ref = ContainerOf(path);
    if (path != "/" && (!ref || ref->cgroup_path != path)) return;
    walked.push_back({id, path, ref && !ref->container_id.empty()});
  });
  return walked;
}

std::optional<cgroup::ContainerRef> Collector::ContainerOf(const std::string& path) const {
  if (!options_.metadata) return cgroup::ParseContainerPath(path);
  return cgroup::ParseContainerPath(path, [this](const cgroup::ContainerRef& nested) {
    return options_.metadata->ReportsAt(nested);
  });
}

std::pair<std::string, model::ContainerLabels> Collector::Identify(const std::string& path) {
  const auto ref = ContainerOf(path);
  if (!ref) return {path, {}};
  model::ContainerLabels labels;
  labels.container_id = ref->container_id;
  if (options_.metadata) {
    const metadata::ContainerInfo info = options_.metadata->Lookup(*ref);
    labels.namespace_ = info.namespace_;
    labels.pod = info.pod;
    // Kubernetes' container name where there is one, else the runtime's (docker run --name).
    labels.container = info.container.empty() ? info.name : info.container;
    labels.image = info.image;
  }
  return {ref->cgroup_path, std::move(labels)};
}

model::Snapshot Collector::Collect() {
  const auto started = std::chrono::steady_clock::now();
  model::Snapshot snapshot;
  snapshot.taken_at = std::chrono::system_clock::now();

  const std::vector<procfs::NetworkNamespace> namespaces =
      procfs::ListNetworkNamespaces(options_.paths);
  snapshot.self.network_namespaces = namespaces.size();
  const sources::Pass pass{options_.paths, options_.cgroup_root, namespaces, resolver_};
  sources::Sink sink(snapshot);
  std::vector<sources::Source*> active;
  bool walk = false;
  for (const auto& source : sources_) {
    if (!source->active()) continue;
    active.push_back(source.get());
    walk = walk || source->walks_cgroups();
  }

  // Once per pass: the map reads first, so that every id they return existed before the walk
  // below, and resolves from its table without lookups.
  for (sources::Source* source : active) source->Collect(pass, sink);
  // Once per network namespace, its files read at most once whoever asks.
  const std::vector<sources::OwnedNamespace> owned = OwnedNamespaces(namespaces);
  for (const sources::OwnedNamespace& ns : owned) {
    sources::NamespaceFiles files(options_.paths, ns.ns.lowest_pid);
    const sources::NamespaceView view{ns, files};
    for (sources::Source* source : active) source->CollectNamespace(pass, view, sink);
  }
  // Once per container, pod and the root, from one walk of the hierarchy (it also refreshes the
  // resolver's table). Their paths are known from the walk: they need no resolving.
  std::unordered_map<uint64_t, std::string> walked_paths;
  if (walk) {
    resolver_.Rescan();
    for (const sources::WalkedCgroup& cgroup : WalkedCgroups()) {
      for (sources::Source* source : active) source->CollectCgroup(pass, cgroup, sink);
      walked_paths.emplace(cgroup.id, cgroup.path);
    }
  }

  // What a namespace says of itself goes to its owner; of two namespaces one cgroup owns, the
  // first listed.
  for (const sources::OwnedNamespace& ns : owned) {
    const auto it = sink.namespaces().find(ns.ns.inode);
    if (it == sink.namespaces().end()) continue;
    model::CgroupStats& owner = sink.Cgroup(ns.owner_cgroup_id);
    if (!owner.network) owner.network = std::move(it->second);
    sink.namespaces().erase(it);
  }

  // Resolve, drop the departed, and sum cgroups that resolve to the same path. Keyed by the `id`
  // label: the folded path with invalid UTF-8 escaped, which is where a path enters the model
  // (anyone who may create a cgroup picks its name's bytes; one invalid byte would cost the
  // scrape).
  sources::ResolvedCgroups by_path;
  // Escaped labels -> the path that gave them, to notice two paths giving one label: a name that
  // spells \xHH in ASCII beside a sibling with that byte. Only labels with a backslash can.
  std::map<std::string, std::string, std::less<>> escaped_from;
  std::set<std::string> collisions;
  for (auto& [id, stats] : sink.cgroups()) {
    std::optional<std::string> path;
    if (const auto walked = walked_paths.find(id); walked != walked_paths.end()) {
      path = walked->second;
    } else {
      path = resolver_.Resolve(id);
    }
    if (!path) {
      bool forgotten = false;
      for (sources::Source* source : active) forgotten = source->ForgetCgroup(id) || forgotten;
      if (!forgotten) ++snapshot.self.unresolved_cgroups;
      continue;
    }
    auto [folded, labels] = Identify(*path);
    std::string label = EscapeInvalidUtf8(folded);
    if (label.find('\\') != std::string::npos) {
      const auto [it, first] = escaped_from.try_emplace(label, folded);
      if (!first && it->second != folded) collisions.insert(label);
    }
    model::CgroupStats& entry = by_path[label];
    if (entry.path.empty() || folded == *path) entry.cgroup_id = id;  // the container's own
    entry.path = std::move(label);
    entry.labels = std::move(labels);
    model::MergeInto(entry, std::move(stats));
  }
  for (sources::Source* source : active) source->Refine(pass, by_path);

  // Summed as the design says of one label set, but not silently: once per label while it lasts.
  for (const std::string& label : collisions) {
    if (!colliding_ids_.contains(label)) {
      logger_.Warn("collector", "two cgroups both export id=\"", label,
                   "\" (one name spells \\xHH in ASCII where the other has an invalid byte); "
                   "their series are summed");
    }
  }
  colliding_ids_ = std::move(collisions);
  snapshot.cgroups.reserve(by_path.size());
  for (auto& [path, entry] : by_path) snapshot.cgroups.push_back(std::move(entry));
  for (const auto& source : sources_) {
    snapshot.self.sources.push_back({std::string(source->info().name), source->active()});
    source->AddSelfStats(snapshot.self);
  }
  if (options_.metadata) {
    for (auto& [provider, count] : options_.metadata->Errors()) {
      snapshot.self.metadata_errors.push_back({provider, count});
    }
  }
  snapshot.self.collection_duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return snapshot;
}

}  // namespace podstat::app
