#!/bin/busybox sh
# /init of a kernel-matrix guest (scripts/matrix/run.sh boots it under qemu). Sets the machine up
# the way a node would be, from nothing: no bpffs, no tracefs (the agent and the tests must mount
# what they need), cgroups in the mode asked for. Then it runs podstat --check, the privileged
# tests and one agent scrape, and prints every result as a "PODSTAT-MATRIX: <key> <value>" line
# on the console, which the host reads back. /etc/podstat-matrix.conf (a per-boot cpio) sets:
#   CGROUP_MODE  v2 (cgroup2 alone at /sys/fs/cgroup, controllers enabled at the root as systemd
#                does) or hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified, no
#                controllers on it: the layout of the development host)
#   HIDE_BTF     1: an empty tmpfs over /sys/kernel/btf, as on a kernel without DEBUG_INFO_BTF
#   LOAD_DIAG    0: leave the sock_diag modules out (inet_diag, tcp_diag, udp_diag, raw_diag)
#   TEST_FILTER  gtest filter for the privileged tests ("-" runs none)
#   BUILD_DIR    where podstat and the test binary are (their build paths, kept as they are)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
. /etc/podstat-matrix.conf

say() { echo "PODSTAT-MATRIX: $*"; }
say kernel "$(uname -r)"
say mode "$CGROUP_MODE"

case "$CGROUP_MODE" in
  v2)
    mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
    for controller in $(cat /sys/fs/cgroup/cgroup.controllers); do
      echo "+$controller" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
    done
    say v2-controllers "$(cat /sys/fs/cgroup/cgroup.subtree_control)"
    grep -qw memory /sys/fs/cgroup/cgroup.subtree_control && memory=v2 || memory=none
    ;;
  hybrid)
    mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
    v1=""
    # Every v1 controller the kernel offers, each on its own hierarchy; kernels built without
    # CONFIG_MEMCG_V1 / CONFIG_CPUSETS_V1 (6.12+) refuse those two, which is what such a node has.
    for controller in $(awk 'NR > 1 && $4 == 1 { print $1 }' /proc/cgroups); do
      mkdir -p "/sys/fs/cgroup/$controller"
      if mount -t cgroup -o "$controller" cgroup "/sys/fs/cgroup/$controller" 2>/dev/null; then
        v1="$v1 $controller"
      else
        rmdir "/sys/fs/cgroup/$controller"
      fi
    done
    mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/unified
    mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
    mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
    say v1-controllers "${v1# }"
    # As systemd's hybrid mode: controllers stay on v1, none is enabled on the v2 hierarchy.
    case " $v1 " in *" memory "*) memory=v1 ;; *) memory=none ;; esac
    say v2-controllers "$(cat /sys/fs/cgroup/unified/cgroup.controllers)"
    ;;
esac

say memory-controller "$memory"
ip link set lo up
if [ "${HIDE_BTF:-0}" = 1 ]; then
  mount -t tmpfs -o ro,mode=755 tmpfs /sys/kernel/btf
fi
say btf "$([ -r /sys/kernel/btf/vmlinux ] && echo yes || echo no)"
say preempt "$(uname -v)"
say mounts-before "$(awk '$3 == "bpf" || $3 == "tracefs" { print $2 }' /proc/mounts | xargs)"
podstat="$BUILD_DIR/podstat"

# --check before the sock_diag modules are loaded (busybox modprobe cannot autoload them here):
# the agent could not seed sockets that predate it, so --check must say so and fail.
say check-nodiag-begin
"$podstat" --check 2>&1
say check-nodiag-exit $?

if [ "${LOAD_DIAG:-1}" = 1 ]; then
  for module in $(cat /modules/order); do
    insmod "/modules/$module.ko" 2>/dev/null || say insmod-failed "$module"
  done
fi
say modules "$(cut -d' ' -f1 /proc/modules | sort | xargs)"

say check-begin
"$podstat" --check 2>&1
say check-exit $?

if [ "$TEST_FILTER" != "-" ]; then
  say tests-begin
  # gtest prints "[       OK ]", "[  FAILED  ]" and "[  SKIPPED ]" per test; the host counts them.
  (cd /tmp && "$BUILD_DIR/tests/podstat_privileged_tests" --gtest_color=no \
    --gtest_filter="$TEST_FILTER" 2>&1)
  say tests-exit $?
fi

# One agent run: which programs it attached, which sources it chose, what it logged at warn.
# A process in a cgroup of its own (at the same path in every hierarchy, as Docker makes them)
# gives the agent a container-like cgroup to report memory and CPU for.
sleep 100000 &
probe=$!
for hierarchy in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -f "$hierarchy/cgroup.procs" ] || continue
  mkdir -p "$hierarchy/matrix-probe" && echo $probe >"$hierarchy/matrix-probe/cgroup.procs"
done
say agent-begin
"$podstat" --web.listen-address=127.0.0.1:9560 --log.level=info >/tmp/agent.log 2>&1 &
agent=$!
ready=0
for _ in $(seq 1 600); do
  if wget -q -O /tmp/metrics http://127.0.0.1:9560/metrics 2>/dev/null; then ready=1; break; fi
  kill -0 $agent 2>/dev/null || break
  usleep 100000
done
kill $agent 2>/dev/null
wait $agent 2>/dev/null
say agent-ready $ready
sed 's/^/PODSTAT-MATRIX: agent-log /' /tmp/agent.log
grep -E '^(podstat_bpf_program_attached|podstat_source_active|node_memory_available_bytes|podstat_bpf_program_recursion_misses_total)' /tmp/metrics | sed 's/^/PODSTAT-MATRIX: metric /'
say series "$(grep -vc '^#' /tmp/metrics)"
say memory-series "$(grep -c '^container_memory_usage_bytes{.*id="/matrix-probe"' /tmp/metrics)"
kill $probe
say mounts-after "$(awk '$3 == "bpf" || $3 == "tracefs" { print $2 }' /proc/mounts | xargs)"
say kernel-warnings "$(dmesg | grep -cE 'BUG:|Oops|WARNING:|Call Trace')"
dmesg | grep -E -A3 'BUG:|Oops|WARNING:' | head -40 | sed 's/^/PODSTAT-MATRIX: dmesg /'
say done
sync
poweroff -f
