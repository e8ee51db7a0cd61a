#include "podstat/sources/source.h"

#include "podstat/util/file.h"

namespace podstat::sources {

const std::string* NamespaceFiles::Read(const std::string& file) {
  auto [it, first] = read_.try_emplace(file);
  if (first) it->second = ReadFile(paths_.Proc(pid_, file));
  return it->second ? &*it->second : nullptr;
}

model::NetworkStats& Sink::Namespace(uint64_t inode) {
  model::NetworkStats& stats = namespaces_[inode];
  stats.netns_inode = inode;
  return stats;
}

}  // namespace podstat::sources
