#!/usr/bin/env bash
# Installs what podstat needs to build, run and test, from Debian 12's packages, and only what is
# missing (so a prepared machine pays one dpkg query). Run as root; `make run` and `make test`
# call it. With --build-only, the test tools (promtool, Docker, busybox, Chromium) are skipped; with
# --matrix, the kernel matrix's tools (qemu, cpio) are added to them (`make matrix`).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev   # CO-RE BPF objects and skeletons
  prometheus-cpp-dev nlohmann-json3-dev                  # the old exposition (test oracle, bench), JSON
  libboost-dev                                           # Beast + Asio: the HTTP listeners
  libgtest-dev googletest                                # unit and privileged tests
  libcurl4-openssl-dev                                   # the remote_write sender's HTTP(S) client
  libcap-dev                                             # dropping capabilities after attach
  libicu-dev                                             # UTF-8 validation of label values
  libre2-dev                                             # the receiver's allow-list regexes
  libyaml-cpp-dev                                        # --web.config.file (exporter-toolkit YAML)
  libcli11-dev                                           # command-line flags and --help
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # the CRI client
  libssl-dev libcrypt-dev                                # TLS, SHA-256 and base64; bcrypt (crypt_r)
  iproute2 curl ca-certificates
)
if [[ "${1:-}" != "--build-only" ]]; then
  packages+=(prometheus)                  # promtool, to lint the exposition in tests
  packages+=(apache2-utils)               # htpasswd: bcrypt hashes made by another implementation
  packages+=(openssl)                     # the openssl CLI: throw-away certificates for TLS tests
  packages+=(docker.io busybox-static)    # real containers for the e2e tests (tests/e2e)
  packages+=(docker-compose)              # deploy/docker/compose.yaml brought up in a test
  packages+=(iptables)                    # packet loss for the TCP retransmit tests (no netem here)
  packages+=(util-linux)                  # unshare: the agent in a private cgroup namespace
  packages+=(chromium)                    # headless: renders the status page at / in a test
  # node + npm for tests/deploy (schema validation with kubernetes-models, js-yaml), unless a
  # node is already installed (this machine's image has Node.js 20 from elsewhere).
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
fi
if [[ "${1:-}" == "--matrix" ]]; then
  # Debian kernels booted under TCG, an initramfs built with cpio, modules unpacked with xz/zstd.
  packages+=(qemu-system-x86 cpio xz-utils zstd)
fi

# tests/deploy's npm packages, pinned by its package-lock.json, installed with npm ci when
# node_modules is missing or older than the lock file.
install_node_modules() {
  [[ "${1:-}" == "--build-only" ]] && return 0
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/deploy"
  if [[ -d $dir/node_modules && $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]]; then
    return 0
  fi
  echo "install-deps: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  # kubectl is not a Debian package: the deploy tests need it for `kubectl kustomize`.
  command -v kubectl >/dev/null 2>&1 ||
    echo "install-deps: WARNING: no kubectl on PATH: the deploy_manifests test will fail" >&2
}

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_node_modules "${1:-}"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}) and not root: install them with apt-get" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
apt-get "${apt_opts[@]}" update -qq
# --no-install-recommends: the prometheus package would otherwise pull in node-exporter and more.
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts the prometheus service on install where an init system runs; podstat's tests
# start their own instances, so stop the packaged one if it came up.
if command -v systemctl >/dev/null 2>&1; then
  [[ " ${missing[*]} " == *" prometheus "* ]] && { systemctl disable --now prometheus >/dev/null 2>&1 || true; }
fi
# dockerd is started by the tests themselves (scripts/docker-test-env.sh) and stopped only if
# they started it, so nothing here starts it.
install_node_modules "${1:-}"
