#!/usr/bin/env bash
# The kernel matrix: boots podstat and its privileged tests on Debian kernels under qemu (TCG; KVM
# is not usable on the development machines), in both cgroup layouts, and prints one row per
# kernel x mode. Exits non-zero when any row fails.
#
#   run.sh BUILD_DIR SOURCE_DIR OUT_DIR CACHE_DIR [ROW...]
#
# A row is SERIES:MODE[:VARIANT]: SERIES from kernels.sh (5.10, 6.1, 6.12, newest), MODE v2 or
# hybrid, VARIANT nobtf (kernel BTF hidden: the agent must fall back to /proc and say why).
# Without rows, the full matrix runs. Guest logs land in OUT_DIR/logs/, the table in
# OUT_DIR/matrix.txt; DOCS=path also writes the generated kernels page there (docs/kernels.md),
# FIXTURES=dir the guests' cgroup and proc files as fixtures (dir/<mode>-<major.minor>-guest/).
# Environment: TEST_FILTER (gtest filter for the guests, default every privileged test),
# GUEST_TIMEOUT (seconds per boot, default 1500), QEMU_MEMORY (MiB, default 2048).
set -euo pipefail

build=$(realpath "${1:?usage: run.sh BUILD_DIR SOURCE_DIR OUT_DIR CACHE_DIR [ROW...]}")
source=$(realpath "${2:?}")
out=${3:?}
cache=${4:?}
shift 4
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(5.10:v2 5.10:hybrid 6.1:v2 6.1:hybrid 6.12:v2 6.12:hybrid
  newest:v2 newest:hybrid newest:v2:nobtf)
test_filter=${TEST_FILTER:-*}
guest_timeout=${GUEST_TIMEOUT:-1500}
memory=${QEMU_MEMORY:-2048}
here=$(dirname "$(realpath "$0")")

mkdir -p "$out/logs" "$out/initrd"
log() { echo "matrix: $*" >&2; }

for tool in qemu-system-x86_64 cpio dpkg-deb curl xz busybox; do
  command -v "$tool" >/dev/null || { log "$tool is missing (make matrix installs it)"; exit 1; }
done

# Kernels: one fetch for every series the rows name.
mapfile -t series < <(printf '%s\n' "${rows[@]}" | cut -d: -f1 | sort -u)
declare -A release version vmlinuz modules
while read -r name rel ver image mods; do
  release[$name]=$rel
  version[$name]=$ver
  vmlinuz[$name]=$image
  modules[$name]=$mods
done < <("$here/kernels.sh" "$cache" "${series[@]}")
for name in "${series[@]}"; do
  [ -n "${release[$name]:-}" ] || { log "no kernel for series $name (see above)"; exit 1; }
done

"$here/initramfs.sh" base "$build" "$source" "$out/initrd/base.cpio.gz"
for name in "${series[@]}"; do
  "$here/initramfs.sh" modules "${modules[$name]}" "$out/initrd/modules-$name.cpio.gz"
done

# One boot. Writes the guest's console to $log_file; returns qemu's exit status.
boot() {
  local name=$1 mode=$2 variant=$3 log_file=$4 conf initrd append
  conf=$(mktemp -d)
  mkdir -p "$conf/etc"
  {
    echo "CGROUP_MODE=$mode"
    echo "HIDE_BTF=$([ "$variant" = nobtf ] && echo 1 || echo 0)"
    echo "LOAD_DIAG=1"
    printf 'TEST_FILTER=%q\n' "$test_filter"
    printf 'BUILD_DIR=%q\n' "$build"
  } >"$conf/etc/podstat-matrix.conf"
  initrd="$out/initrd/boot-$name-$mode${variant:+-$variant}.img"
  (cd "$conf" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$conf.cpio.gz"
  cat "$out/initrd/base.cpio.gz" "$out/initrd/modules-$name.cpio.gz" "$conf.cpio.gz" >"$initrd"
  rm -rf "$conf" "$conf.cpio.gz"
  # no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can time out and
  # panic at boot ("IO-APIC + timer doesn't work!", seen on 7.2 with 5 builds running alongside).
  append="console=ttyS0 panic=-1 loglevel=4 mitigations=off no_timer_check"
  # Pure v2 as a node with systemd's unified layout: no v1 hierarchy can be mounted at all.
  [ "$mode" = v2 ] && append="$append cgroup_no_v1=all"
  # One TCG thread for both vCPUs: with multi-threaded TCG, the kernel's live patching of
  # static keys (int3, then the new bytes) raced with the other vCPU executing the old code and
  # oopsed 6.12 ("Oops: int3" in inet_sk_state_store, as the tests attached and detached
  # programs); on real CPUs the kernel's cross-modifying protocol makes that safe.
  timeout "$guest_timeout" qemu-system-x86_64 -machine q35 -accel tcg,thread=single -cpu max \
    -smp 2 -m "$memory" -nographic -no-reboot -nic none \
    -kernel "${vmlinuz[$name]}" -initrd "$initrd" -append "$append" \
    </dev/null >"$log_file" 2>&1
  local status=$?
  rm -f "$initrd"
  return $status
}

# A file the guest printed (PODSTAT-FILE: <path> <base64>), decoded.
probe_file() { grep -a -m1 "^PODSTAT-FILE: $2 " "$1" | cut -d' ' -f3 | base64 -d 2>/dev/null || true; }
# The value of a metric of the guest's probe cgroup, as the guest's agent reported it.
probe_metric() {
  grep -a "^PODSTAT-MATRIX: probe-metric $2{" "$1" | head -n 1 | awk '{ print $NF }' || true
}
# The value of a "PODSTAT-MATRIX: key value" line (the first one).
marker() { grep -a -m1 "^PODSTAT-MATRIX: $2 " "$1" | cut -d' ' -f3- | tr -d '\r' || true; }
attached() {  # the programs a guest's agent attached, short names
  grep -a '^PODSTAT-MATRIX: metric podstat_bpf_program_attached{' "$1" | tr -d '\r' |
    awk '$NF == 1 { sub(/.*program="/, ""); sub(/".*/, ""); print }' |
    sed -e 's/inet_sock_set_state_/state:/' -e 's/sched_switch_/sched:/' -e 's/cgroup_sock_create/sock_create/' \
      -e 's/cgroup_sock_release/sock_release/' |
    grep -v -e '^tcp_' | xargs | tr ' ' ',' || true
}

rows_file="$out/rows.tsv"
: >"$rows_file"
failed=0
for row in "${rows[@]}"; do
  IFS=: read -r name mode variant <<<"$row"
  tag="$name-$mode${variant:+-$variant}"
  log_file="$out/logs/$tag.log"
  log "booting ${release[$name]} ($mode${variant:+, $variant}) ..."
  started=$(date +%s)
  status=0
  boot "$name" "$mode" "$variant" "$log_file" || status=$?
  seconds=$(($(date +%s) - started))
  tr -d '\r' <"$log_file" >"$log_file.tmp" && mv "$log_file.tmp" "$log_file"
  passed=$(grep -a -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log_file" || true)
  failures=$(grep -a -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log_file" || true)
  skipped=$(grep -a -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log_file" || true)
  verifier=$(grep -a '^PODSTAT-MATRIX: agent-log .*level=warn component=bpf' "$log_file" | head -n 1 |
    sed -e 's/.*msg="//' -e 's/"$//' | cut -c1-110 || true)
  problems=()
  [ "$status" = 0 ] || problems+=("qemu exit $status$([ "$status" = 124 ] && echo ' (timeout)')")
  [ -n "$(marker "$log_file" done)" ] || grep -aq '^PODSTAT-MATRIX: done' "$log_file" || problems+=("guest did not finish")
  [ "$failures" = 0 ] || problems+=("$failures tests failed")
  [ "$(marker "$log_file" agent-ready)" = 1 ] || problems+=("agent never served /metrics")
  [ "$(marker "$log_file" kernel-warnings)" = 0 ] || problems+=("kernel warnings in dmesg")
  check=$(marker "$log_file" check-exit)
  nodiag=$(marker "$log_file" check-nodiag-exit)
  if [ "$variant" = nobtf ]; then
    [ "$check" != 0 ] || problems+=("--check exit 0 without BTF")
    grep -aq 'metric podstat_source_active{source="proc_tcp_tables"} 1' "$log_file" ||
      problems+=("no /proc fallback without BTF")
    grep -aq 'agent-log .*level=warn component=sources msg="no kernel BTF' "$log_file" ||
      problems+=("the agent did not say it has no kernel BTF")
  else
    [ "$check" = 0 ] || problems+=("--check exit $check")
    [ "$nodiag" != 0 ] || problems+=("--check exit 0 without sock_diag modules")
  fi
  # Memory wherever the kernel and layout have a memory controller: the probe cgroup's usage and
  # limit as podstat reports them against its own files, read right after the scrape (the probe
  # is idle by then: equal within 2 %).
  memory_controller=$(marker "$log_file" memory-controller)
  if [ "$memory_controller" != none ]; then
    if [ "$memory_controller" = v2 ]; then usage_file=v2/memory.current; else usage_file=v1/memory.usage_in_bytes; fi
    file_usage=$(probe_file "$log_file" "$usage_file" | tr -d '\n')
    agent_usage=$(probe_metric "$log_file" container_memory_usage_bytes)
    agent_limit=$(probe_metric "$log_file" container_spec_memory_limit_bytes)
    if [ -z "$agent_usage" ] || [ -z "$file_usage" ]; then
      problems+=("no container_memory_usage_bytes for the probe cgroup")
    elif ! awk -v a="$agent_usage" -v f="$file_usage" 'BEGIN { d = a - f; if (d < 0) d = -d; exit !(d <= 0.02 * f) }'; then
      problems+=("probe memory: podstat $agent_usage, $usage_file $file_usage")
    fi
    [ "$agent_limit" = 268435456 ] || problems+=("probe limit: podstat ${agent_limit:-none}, set 268435456")
  fi
  if [ -n "${FIXTURES:-}" ] && [ -z "$variant" ]; then
    # The guest's own cgroup and proc files, kept as parser fixtures (tests/fixtures/cgroup).
    fixture="$FIXTURES/$mode-$(echo "${release[$name]}" | cut -d. -f1,2)-guest"
    rm -rf "$fixture"
    { grep -a '^PODSTAT-FILE: ' "$log_file" || true; } | while read -r _ path data; do
      mkdir -p "$fixture/$(dirname "$path")"
      echo "$data" | base64 -d >"$fixture/$path"
    done
    log "fixtures from the guest in $fixture"
  fi
  verdict=ok
  [ ${#problems[@]} -eq 0 ] || { verdict="FAIL: $(IFS=';'; echo "${problems[*]}")"; failed=1; }
  programs=$(attached "$log_file")
  # Fields apart by the ASCII unit separator: a non-blank IFS keeps empty fields in `read`.
  printf '%s\x1f' "$name" "${release[$name]}" "$mode${variant:+ $variant}" "${programs:--}" \
    "$passed" "$failures" "$skipped" "$check/$nodiag" "$seconds" "${verifier:--}" "$verdict" \
    >>"$rows_file"
  echo "$tag" >>"$rows_file"
  log "$tag: $verdict ($passed passed, $failures failed, $skipped skipped, ${seconds}s)"
done

{
  printf '%-21s %-10s %-50s %-9s %-5s %-5s %s\n' kernel mode programs tests check secs result
  while IFS=$'\x1f' read -r _ rel mode programs passed failures skipped check seconds verifier verdict _; do
    printf '%-21s %-10s %-50s %-9s %-5s %-5s %s\n' "$rel" "$mode" "$programs" \
      "$passed/$failures/$skipped" "$check" "$seconds" "$verdict"
    [ "$verifier" = - ] || printf '%-21s   bpf: %s\n' "" "$verifier"
  done <"$rows_file"
} | tee "$out/matrix.txt"
echo "programs: what the agent attached; tests: passed/failed/skipped; check: --check's exit with/without sock_diag" \
  | tee -a "$out/matrix.txt"
echo "guest logs: $out/logs/" | tee -a "$out/matrix.txt"

if [ -n "${DOCS:-}" ]; then
  "$here/kernels-doc.sh" "$rows_file" "$out/logs" >"$DOCS"
  log "wrote $DOCS"
fi
exit $failed
