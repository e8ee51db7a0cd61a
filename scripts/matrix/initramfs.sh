#!/usr/bin/env bash
# Builds the kernel matrix's initramfs in two parts, which the kernel unpacks one after the other
# (concatenated cpio archives are part of the initramfs format):
#
#   initramfs.sh base BUILD_DIR SOURCE_DIR OUT.cpio.gz
#       busybox, /init (guest-init.sh), podstat, the privileged test binary, bpftool, ss,
#       nsenter, unshare, promtool, iptables and every shared library they load, and the test
#       fixtures. The build's files keep their absolute paths, because the test binary has the
#       podstat binary's and the fixtures' paths compiled in.
#   initramfs.sh modules MODULES_DIR OUT.cpio.gz
#       the modules the guest loads, decompressed (busybox insmod reads plain .ko files), as
#       /modules/<name>.ko in load order, listed in /modules/order.
set -euo pipefail

log() { echo "initramfs: $*" >&2; }

# Modules for sock_diag (seeding and reconciliation need inet_diag + tcp_diag + udp_diag;
# raw_diag lets sock_diag dump raw sockets) and for iptables (the retransmit test drops packets
# with a filter rule), and veth (the hostile-labels test names a veth pair), in dependency order.
# A module the kernel has built in is simply absent.
modules_wanted=(
  net/ipv4/inet_diag net/ipv4/tcp_diag net/ipv4/udp_diag net/ipv4/raw_diag drivers/net/veth
  net/netfilter/x_tables net/netfilter/xt_tcpudp net/ipv4/netfilter/ip_tables
  net/ipv4/netfilter/iptable_filter
  net/ipv6/netfilter/ip6_tables net/ipv6/netfilter/ip6table_filter
)

# Copies a file into the staging tree at the same absolute path (following symlinks).
stage_file() {
  local root=$1 path=$2
  mkdir -p "$root$(dirname "$path")"
  cp -L "$path" "$root$path"
}

# Copies an ELF executable, stripped of debug info, and every library ldd says it loads.
stage_elf() {
  local root=$1 path=$2 lib
  mkdir -p "$root$(dirname "$path")"
  strip --strip-debug -o "$root$path" "$path" 2>/dev/null || cp -L "$path" "$root$path"
  chmod 0755 "$root$path"
  while read -r lib; do
    [ -e "$root$lib" ] || stage_file "$root" "$lib"
  done < <(ldd "$path" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }')
}

cpio_gz() {  # root out: a newc archive of the tree, owned by root, as the kernel expects
  (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) |
    gzip -1 >"$2"
}

build_base() {
  local build=$1 source=$2 out=$3 root tool
  build=$(realpath "$build")
  source=$(realpath "$source")
  root=$(mktemp -d)
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,modules,var/log}
  cp /bin/busybox "$root/bin/busybox"
  # Applets as symlinks, except where a full tool is staged below (util-linux, iproute2).
  install -m 0755 "$source/scripts/matrix/guest-init.sh" "$root/init"
  for tool in "$build/podstat" "$build/tests/podstat_privileged_tests"; do
    [ -x "$tool" ] || { log "missing $tool: build it first"; return 1; }
    stage_elf "$root" "$tool"
  done
  for tool in bpftool ss nsenter unshare ip iptables-legacy ip6tables-legacy; do
    local path
    path=$(command -v "$tool" || true)
    [ -n "$path" ] && stage_elf "$root" "$path"
  done
  # iptables is an alternatives symlink: the guest uses the legacy (x_tables) backend, whose
  # modules are staged, as iptables. Its match and target extensions are dlopened plugins.
  if [ -e "$root/usr/sbin/iptables-legacy" ]; then
    ln -sf iptables-legacy "$root/usr/sbin/iptables"
    ln -sf ip6tables-legacy "$root/usr/sbin/ip6tables"
    local plugins
    plugins=$(dirname "$(realpath "$(ldd /usr/sbin/iptables-legacy | awk '/libxtables/ { print $3 }')")")/xtables
    [ -d "$plugins" ] && mkdir -p "$root$plugins" && cp -a "$plugins/." "$root$plugins/"
  fi
  # promtool is a static Go binary: no libraries, no stripping needed.
  if command -v promtool >/dev/null; then stage_file "$root" "$(command -v promtool)"; fi
  while read -r applet; do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done < <(busybox --list-full)
  mkdir -p "$root$source/tests"
  cp -a "$source/tests/fixtures" "$root$source/tests/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
  cpio_gz "$root" "$out"
  log "base: $(du -h "$out" | cut -f1) ($out)"
}

build_modules() {
  local modules=$1 out=$2 root want file name
  root=$(mktemp -d)
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root/modules"
  : >"$root/modules/order"
  for want in "${modules_wanted[@]}"; do
    file=$(ls "$modules/kernel/$want".ko* 2>/dev/null | head -n 1 || true)
    [ -n "$file" ] || continue
    name=$(basename "$want")
    case "$file" in
      *.ko.xz) xz -dc "$file" >"$root/modules/$name.ko" ;;
      *.ko.zst) zstd -qdc "$file" >"$root/modules/$name.ko" ;;
      *.ko.gz) gzip -dc "$file" >"$root/modules/$name.ko" ;;
      *) cp "$file" "$root/modules/$name.ko" ;;
    esac
    echo "$name" >>"$root/modules/order"
  done
  cpio_gz "$root" "$out"
}

case "${1:-}" in
  base) build_base "$2" "$3" "$4" ;;
  modules) build_modules "$2" "$3" ;;
  *) echo "usage: initramfs.sh base BUILD_DIR SOURCE_DIR OUT | modules MODULES_DIR OUT" >&2; exit 2 ;;
esac
