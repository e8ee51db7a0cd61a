#include "podstat/bpf/program_info.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cstddef>

namespace podstat::bpf {

std::optional<ProgramRunStats> ReadRunStats(const bpf_program* program) {
  if (!bpf_program__autoload(program)) return std::nullopt;
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_program__fd(program), &info, &length) != 0) return std::nullopt;
  const bpf_prog_type type = bpf_program__type(program);
  ProgramRunStats stats;
  stats.name = bpf_program__name(program);
  stats.tracing = type == BPF_PROG_TYPE_TRACING || type == BPF_PROG_TYPE_RAW_TRACEPOINT;
  stats.run_time_ns = info.run_time_ns;
  stats.run_count = info.run_cnt;
  // The kernel writes back how much of the struct it knows: one older than the field (5.12)
  // leaves it out, and a 0 there would be a claim it never made.
  stats.recursion_misses_reported =
      length >= offsetof(bpf_prog_info, recursion_misses) + sizeof(info.recursion_misses);
  stats.recursion_misses = info.recursion_misses;
  return stats;
}

std::vector<ProgramRunStats> ReadRunStats(const bpf_object* object) {
  std::vector<ProgramRunStats> out;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, object) {
    if (auto stats = ReadRunStats(program)) out.push_back(std::move(*stats));
  }
  return out;
}

}  // namespace podstat::bpf
