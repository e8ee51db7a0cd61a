#!/usr/bin/env bash
# Builds podstat's container image from this machine's Debian packages, with no registry, no base
# image and no Dockerfile (`make image` calls it):
#
#   scripts/image/build.sh <podstat binary> <work dir> [--no-load]
#
# The image is one layer holding only what the agent and bpftool execute: the stripped binary,
# /usr/sbin/bpftool (so `kubectl exec ... -- bpftool prog show` works in the pod), the shared
# libraries both load (their ldd closure, copied from the host, with each package's copyright
# file), CA certificates for remote_write over https, and /etc/passwd and /etc/group naming root.
# No shell, no package manager. Everything is owned by 0:0 and nothing in it is written at run
# time, so it runs with a read-only root filesystem.
#
# Output in <work dir>: podstat-image.tar, an OCI image layout archive (oci-layout, index.json,
# blobs/) that also carries Docker's manifest.json, so the one file loads with `docker load`
# (Docker 20.10 reads only manifest.json), `ctr -n k8s.io images import` and `podman load`.
# Tags: podstat:<version> and podstat:latest (IMAGE_NAME=<name> replaces "podstat": the e2e tests
# build theirs as podstat-e2e, leaving `make image`'s alone). Unless --no-load, it is loaded into
# the local Docker (a dockerd must answer; `scripts/docker-test-env.sh daemon` starts one).
#
# Reproducible: file times are the last commit's time, owners and modes are fixed, entries are
# sorted, and the binary is built with PODSTAT_REPRODUCIBLE_PATHS, so the same commit gives the
# same image digest from any clean checkout.
set -euo pipefail

say() { echo "image: $*"; }
die() {
  echo "image: error: $*" >&2
  exit 1
}

[[ $# -ge 2 ]] || die "usage: $0 <podstat binary> <work dir> [--no-load]"
binary=$(readlink -f "$1")
work=$2
load=1
[[ ${3:-} == --no-load ]] && load=0
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
readonly bpftool=/usr/sbin/bpftool
readonly ca_bundle=/etc/ssl/certs/ca-certificates.crt
readonly multiarch=x86_64-linux-gnu
readonly image_name=${IMAGE_NAME:-podstat}
[[ $image_name =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "IMAGE_NAME '$image_name' is not a valid image name"

[[ -x $binary ]] || die "no podstat binary at $1"
[[ -x $bpftool ]] || die "no $bpftool (Debian package bpftool)"
[[ -r $ca_bundle ]] || die "no $ca_bundle (Debian package ca-certificates)"

# "podstat 0.1.0 (020ca48e0009)"
read -r _ version revision < <("$binary" --version)
revision=${revision//[()]/}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "unexpected --version output from $binary"
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$source_dir" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
rootfs=$work/rootfs
blobs=$work/archive/blobs/sha256
mkdir -p "$rootfs" "$blobs"

# Debian's merged-/usr layout: /bin, /sbin, /lib and /lib64 are links into /usr, so the loader
# path compiled into every binary (/lib64/ld-linux-x86-64.so.2) and the library directories
# glibc searches without an ld.so.cache (/lib/<multiarch>, /usr/lib/<multiarch>) all resolve.
mkdir -p "$rootfs"/usr/{bin,sbin,lib/$multiarch,lib64,share/doc} "$rootfs"/etc/ssl/certs
for link in bin sbin lib lib64; do ln -s "usr/$link" "$rootfs/$link"; done
# Mount points the DaemonSet and the compose file bind the host's paths to; proc, sys and dev are
# mounted by the runtime itself. tmp stays empty: the agent writes no file.
mkdir -p "$rootfs"/{proc,sys,dev,tmp,host/proc,host/sys,host/root/run,host/root/var/log/pods}

install -m 0755 "$binary" "$rootfs/usr/bin/podstat"
strip --strip-all "$rootfs/usr/bin/podstat"
install -m 0755 "$bpftool" "$rootfs/usr/sbin/bpftool"
install -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/usr/bin/podstat\nnobody:x:65534:65534:nobody:/:/usr/bin/podstat\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
# glibc's getaddrinfo for remote_write URLs: /etc/hosts, then DNS (the runtime writes both files).
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"

# The package a host file came from (dpkg records merged-/usr files under either spelling).
package_of() {
  local path real
  real=$(readlink -f "$1")
  for path in "$1" "$real" "${real#/usr}" "/usr$real"; do
    dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
  done
  return 1
}

# The shared libraries of both binaries, by the name the loader asks for, content dereferenced.
declare -A packages=([bpftool]=1 [ca-certificates]=1)
while read -r name path; do
  case $name in
  /lib64/ld-linux-x86-64.so.2)
    install -m 0755 "$(readlink -f "$name")" "$rootfs/usr/lib/$multiarch/ld-linux-x86-64.so.2"
    ln -sf "../lib/$multiarch/ld-linux-x86-64.so.2" "$rootfs/usr/lib64/ld-linux-x86-64.so.2"
    path=$name
    ;;
  *) install -m 0644 "$(readlink -f "$path")" "$rootfs/usr/lib/$multiarch/$name" ;;
  esac
  package=$(package_of "$path") || die "no Debian package owns $path"
  packages[$package]=1
done < <(ldd "$binary" "$bpftool" | awk '
  $2 == "=>" && $3 ~ /^\// { print $1, $3 }
  $1 ~ /^\/lib64\/ld-linux/ { print $1, $1 }' | sort -u)

# Licences travel with the binaries they cover.
for package in "${!packages[@]}"; do
  package=${package%%:*}
  copyright=/usr/share/doc/$package/copyright
  [[ -r $copyright ]] || die "no $copyright"
  install -D -m 0644 "$copyright" "$rootfs/usr/share/doc/$package/copyright"
done

# One layer, byte-identical for the same inputs, whatever the caller's umask.
find "$rootfs" -type d -exec chmod 0755 {} +
chmod 0644 "$rootfs"/etc/{passwd,group,nsswitch.conf}
chmod 1777 "$rootfs/tmp"
layer=$work/layer.tar
(cd "$rootfs" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
  tar --create --file="$layer" --sort=name --format=gnu --mtime="@$epoch" --owner=0 --group=0 \
    --numeric-owner --no-acls --no-xattrs --files-from=-)

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
layer_sha=$(sha "$layer")
mv "$layer" "$blobs/$layer_sha"

# The image configuration (OCI image-spec config, which Docker reads as its own).
config=$work/config.json
cat >"$config" <<EOF
{"architecture":"amd64","os":"linux","created":"$created",
"config":{"User":"0:0","Entrypoint":["/usr/bin/podstat"],"Env":["PATH=/usr/sbin:/usr/bin"],
"ExposedPorts":{"9560/tcp":{}},"StopSignal":"SIGTERM",
"Labels":{"org.opencontainers.image.title":"podstat",
"org.opencontainers.image.description":"Per-container sockets, TCP health, network, CPU and memory from eBPF, for Prometheus",
"org.opencontainers.image.version":"$version","org.opencontainers.image.revision":"$revision",
"org.opencontainers.image.created":"$created"}},
"rootfs":{"type":"layers","diff_ids":["sha256:$layer_sha"]},
"history":[{"created":"$created","created_by":"scripts/image/build.sh (podstat $version, $revision)"}]}
EOF
config_sha=$(sha "$config")
config_size=$(size "$config")
mv "$config" "$blobs/$config_sha"

manifest=$work/manifest.oci.json
cat >"$manifest" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config_sha","size":$config_size},
"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer_sha","size":$(size "$blobs/$layer_sha")}]}
EOF
manifest_sha=$(sha "$manifest")
manifest_size=$(size "$manifest")
mv "$manifest" "$blobs/$manifest_sha"

index_entry() {
  printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,' \
    "$manifest_sha" "$manifest_size"
  printf '"annotations":{"io.containerd.image.name":"docker.io/library/%s:%s",' "$image_name" "$1"
  printf '"org.opencontainers.image.ref.name":"%s"}}' "$1"
}
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$work/archive/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}\n' \
  "$(index_entry "$version")" "$(index_entry latest)" >"$work/archive/index.json"
# Docker's own format beside it: Docker before 25 loads only this.
printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s:%s","%s:latest"],"Layers":["blobs/sha256/%s"]}]\n' \
  "$config_sha" "$image_name" "$version" "$image_name" "$layer_sha" >"$work/archive/manifest.json"

archive=$work/podstat-image.tar
find "$work/archive" -type d -exec chmod 0755 {} +
find "$work/archive" -type f -exec chmod 0644 {} +
(cd "$work/archive" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
  tar --create --file="$archive" --no-recursion --format=gnu --mtime="@$epoch" --owner=0 \
    --group=0 --numeric-owner --files-from=-)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
gzipped=$(gzip -9 -n -c "$archive" | wc -c)
say "$image_name:$version (podstat $version, $revision): $archive"
say "  image id sha256:$config_sha, manifest sha256:$manifest_sha"
say "  size: $(mib "$(size "$blobs/$layer_sha")") uncompressed, $(mib "$gzipped") gzip-compressed;" \
  "podstat $(mib "$(size "$rootfs/usr/bin/podstat")"), bpftool $(mib "$(size "$rootfs/usr/sbin/bpftool")")," \
  "$(find "$rootfs/usr/lib/$multiarch" -type f | wc -l) shared libraries" \
  "$(mib "$(du -sb "$rootfs/usr/lib/$multiarch" | cut -f1)")"

if [[ $load == 1 ]]; then
  timeout 10 docker info >/dev/null 2>&1 ||
    die "no dockerd answers, so the image was not loaded (start one: scripts/docker-test-env.sh daemon; or load it yourself: docker load -i $archive)"
  docker load --input "$archive" | sed 's/^/image: docker: /'
  loaded=$(docker image inspect --format '{{.Id}}' "$image_name:$version")
  [[ $loaded == "sha256:$config_sha" ]] || die "docker has $loaded as $image_name:$version, not sha256:$config_sha"
  say "loaded into Docker as $image_name:$version and $image_name:latest"
fi
