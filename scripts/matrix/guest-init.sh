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
# /tmp and /run stay the initramfs's own (RAM already, and writable): a tmpfs over /tmp would hide
# the build tree when it lives there (a checkout under /tmp: the binaries keep their build paths).
mkdir -p /tmp /run
chmod 1777 /tmp
. /etc/podstat-matrix.conf

say() { echo "PODSTAT-MATRIX: $*"; }
# Every mounted cgroup hierarchy (v1 controllers, name=systemd, cgroup2).
hierarchies() { awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts; }
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
  # One process per test, each under a deadline, as ctest runs them: a test that hangs fails
  # alone ("[  FAILED  ] <name> (timeout)") instead of taking the rest of the guest with it.
  # gtest prints "[       OK ]", "[  FAILED  ]" and "[  SKIPPED ]" per test; the host counts them.
  tests="$BUILD_DIR/tests/podstat_privileged_tests"
  suite=""
  for name in $("$tests" --gtest_list_tests --gtest_filter="$TEST_FILTER" | awk '
      /^[^ ]/ { suite = $1; next } { print suite $1 }'); do
    started=$(date +%s)
    (cd /tmp && timeout 300 "$tests" --gtest_color=no --gtest_filter="$name" 2>&1)
    status=$?
    if [ $status -ne 0 ] && [ $status -ne 1 ]; then
      echo "[  FAILED  ] $name ($(( ($(date +%s) - started) * 1000 )) ms)"
      say test-died "$name status $status"
    fi
  done
  say tests-exit 0
fi

# One agent run: which programs it attached, which sources it chose, what it logged at warn.
# A shell in a Docker-shaped cgroup (/docker/<id>, at the same path in every hierarchy, as Docker
# makes them: podstat reads memory and CPU for containers, pods and the root),
# limited to 256 MiB, holding ~4 MB of anonymous memory and an 8 MiB tmpfs file, gives the agent
# a container-like cgroup to report memory and CPU for; its files are the ground truth.
probe_cgroup=docker/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
mkfifo /tmp/probe-go
sh -c 'read _ </tmp/probe-go; x=$(head -c 4000000 /dev/zero | tr "\0" a)
       dd if=/dev/zero of=/dev/shm/probe bs=1M count=8 2>/dev/null; : >/tmp/probe-ready
       while :; do sleep 100000; done' &
probe=$!
for hierarchy in $(hierarchies); do
  mkdir -p "$hierarchy/${probe_cgroup%/*}"
  # v2 passes a controller down one level at a time: /docker must enable what its children get.
  for controller in $(cat "$hierarchy/cgroup.subtree_control" 2>/dev/null); do
    echo "+$controller" >"$hierarchy/${probe_cgroup%/*}/cgroup.subtree_control" 2>/dev/null
  done
  mkdir -p "$hierarchy/$probe_cgroup" && echo $probe >"$hierarchy/$probe_cgroup/cgroup.procs"
  echo 268435456 >"$hierarchy/$probe_cgroup/memory.max" 2>/dev/null
  echo 268435456 >"$hierarchy/$probe_cgroup/memory.limit_in_bytes" 2>/dev/null
done
echo go >/tmp/probe-go
for _ in $(seq 1 600); do [ -e /tmp/probe-ready ] && break; usleep 100000; done
v2_root=/sys/fs/cgroup
[ "$CGROUP_MODE" = hybrid ] && v2_root=/sys/fs/cgroup/unified
probe_files=""
for f in cgroup.controllers memory.current memory.stat memory.max memory.events memory.peak \
  memory.swap.current cpu.stat cpu.pressure memory.pressure io.pressure io.stat; do
  [ -e "$v2_root/$probe_cgroup/$f" ] && probe_files="$probe_files $f"
done
say cgroup-v2-files "${probe_files# }"
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
say memory-series "$(grep -c '^container_memory_usage_bytes{.*id="/'"$probe_cgroup"'"' /tmp/metrics)"
grep -E '^container_(memory_usage_bytes|memory_rss|memory_working_set_bytes|spec_memory_limit_bytes|cpu_usage_seconds_total)\{.*id="/'"$probe_cgroup"'"' \
  /tmp/metrics | sed 's/^/PODSTAT-MATRIX: probe-metric /'
# The probe's own files as they are now, for the host to compare and to keep as fixtures.
for f in $probe_files; do
  echo "PODSTAT-FILE: v2/$f $(base64 -w0 <"$v2_root/$probe_cgroup/$f")"
done
if [ -d /sys/fs/cgroup/memory/$probe_cgroup ]; then
  for f in memory.usage_in_bytes memory.stat memory.limit_in_bytes memory.oom_control \
    memory.max_usage_in_bytes; do
    [ -e "/sys/fs/cgroup/memory/$probe_cgroup/$f" ] &&
      echo "PODSTAT-FILE: v1/$f $(base64 -w0 <"/sys/fs/cgroup/memory/$probe_cgroup/$f")"
  done
fi
# A second container cgroup, limited to 16 MiB, whose shell asks for 40 MB: an OOM kill, for the
# memory.events / memory.oom_control fixtures.
oom_cgroup=docker/0000000000000000000000000000000000000000000000000000000000000001
for hierarchy in $(hierarchies); do
  mkdir -p "$hierarchy/$oom_cgroup"
  echo 16777216 >"$hierarchy/$oom_cgroup/memory.max" 2>/dev/null
  echo 16777216 >"$hierarchy/$oom_cgroup/memory.limit_in_bytes" 2>/dev/null
done
sh -c 'for hierarchy in '"$(hierarchies | xargs)"'; do
         echo $$ >"$hierarchy/'"$oom_cgroup"'/cgroup.procs"
       done
       x=$(head -c 40000000 /dev/zero | tr "\0" a)'
say oom-probe-exit $?
for f in memory.events memory.max memory.current; do
  [ -e "$v2_root/$oom_cgroup/$f" ] && echo "PODSTAT-FILE: v2-oom/$f $(base64 -w0 <"$v2_root/$oom_cgroup/$f")"
done
if [ -d "/sys/fs/cgroup/memory/$oom_cgroup" ]; then
  for f in memory.oom_control memory.limit_in_bytes memory.failcnt; do
    echo "PODSTAT-FILE: v1-oom/$f $(base64 -w0 <"/sys/fs/cgroup/memory/$oom_cgroup/$f")"
  done
fi
echo "PODSTAT-FILE: root/cgroup.controllers $(base64 -w0 <"$v2_root/cgroup.controllers")"
echo "PODSTAT-FILE: root/cgroup.subtree_control $(base64 -w0 <"$v2_root/cgroup.subtree_control")"
echo "PODSTAT-FILE: proc/meminfo $(base64 -w0 </proc/meminfo)"
kill $probe
say mounts-after "$(awk '$3 == "bpf" || $3 == "tracefs" { print $2 }' /proc/mounts | xargs)"
# Oopses, BUGs and WARNs; not the OOM killer's report (the OOM test causes one, with a stack).
say kernel-warnings "$(dmesg | grep -cE 'BUG:|Oops|WARNING:|general protection fault')"
dmesg | grep -E -A3 'BUG:|Oops|WARNING:' | head -40 | sed 's/^/PODSTAT-MATRIX: dmesg /'
say done
sync
poweroff -f
