#!/usr/bin/env bash
# Docker environment for podstat's end-to-end tests (tests/e2e).
#
#   docker-test-env.sh start   make sure a dockerd answers and the image podstat-busybox:test exists
#   docker-test-env.sh daemon  make sure a dockerd answers (`make image` loads its image there)
#   docker-test-env.sh stop    stop the dockerd that `start` or `daemon` started (and only that one)
#
# `start` uses a dockerd that is already running when there is one. Otherwise it starts its own and
# records its pid in /run/podstat-test-dockerd.pid; `stop` acts only when that file exists, so a
# dockerd somebody else started (a developer's, another tool's) is never stopped. Both commands
# are idempotent. The test image is built locally from busybox-static with `docker import`, so the
# tests need no registry and no network.
set -euo pipefail

readonly PID_FILE=/run/podstat-test-dockerd.pid
readonly DOCKERD_OWN_PID_FILE=/var/run/docker.pid # dockerd's own, whoever started it
readonly LOG_FILE="${TMPDIR:-/tmp}/podstat-test-dockerd.log"
readonly IMAGE=podstat-busybox:test
# Bumped whenever the image recipe below changes. An image under our tag without this label was
# made by something else (or an older recipe) and may lack applets the tests use: rebuild it.
readonly IMAGE_VERSION_LABEL=podstat.test-image.version
readonly IMAGE_VERSION=1
readonly TEST_LABEL=podstat.test=1
readonly START_TIMEOUT=60
readonly STOP_TIMEOUT=30

say() { echo "docker-test-env: $*"; }
die() {
  echo "docker-test-env: error: $*" >&2
  exit 1
}

docker_works() { timeout 10 docker info >/dev/null 2>&1; }

# True while the process exists and is not a zombie. Once this script has exited, the daemon it
# started is reparented, and a zombie that its new parent has not reaped yet is already dead.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# The pid in pid file $1 if that process is still a live dockerd, else nothing. A stale file (the
# daemon died, the machine rebooted and the pid was reused) must not make us signal a stranger.
dockerd_pid_in() {
  [[ -f $1 ]] || return 0
  local pid
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] && alive "$pid" && echo "$pid"
  return 0
}

# The dockerd this script started, if it still runs.
our_dockerd_pid() { dockerd_pid_in "$PID_FILE"; }

# SIGTERM, then SIGKILL after STOP_TIMEOUT seconds; returns once the process is gone.
stop_pid() {
  local pid=$1 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while alive "$pid"; do
    if ((waited >= STOP_TIMEOUT * 10)); then
      say "dockerd (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# Starts dockerd with the given extra flags and waits for `docker info`. Returns non-zero if the
# daemon exits or does not answer in time (it is then killed, so a retry starts clean), with this
# attempt's log in ATTEMPT_LOG.
ATTEMPT_LOG=
launch_dockerd() {
  # No bridge and no iptables: the tests' containers talk to themselves over loopback only, and
  # the host's firewall and interfaces stay untouched. setsid and the redirections detach the
  # daemon from the caller, so ctest (which waits for its test's stdout to close) returns.
  local flags=(--iptables=false --ip6tables=false --bridge=none "$@")
  say "starting: dockerd ${flags[*]} (log: $LOG_FILE)"
  echo "==== $(date -Is) dockerd ${flags[*]}" >>"$LOG_FILE"
  local first_line
  first_line=$(wc -l <"$LOG_FILE")
  setsid dockerd "${flags[@]}" </dev/null >>"$LOG_FILE" 2>&1 &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  local started=$SECONDS waited=0 failure=
  while ! docker_works; do
    waited=$((SECONDS - started)) # wall time: one `docker info` alone may take up to 10 s
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      failure="dockerd (pid $pid) exited during startup"
      break
    fi
    if ((waited >= START_TIMEOUT)); then
      failure="dockerd (pid $pid) did not answer 'docker info' within ${START_TIMEOUT}s; killed it"
      stop_pid "$pid"
      break
    fi
    sleep 1
  done
  waited=$((SECONDS - started))
  if [[ -n $failure ]]; then
    rm -f "$PID_FILE"
    ATTEMPT_LOG=$(tail -n +"$((first_line + 1))" "$LOG_FILE")
    say "$failure; its last log lines:"
    tail -n 15 <<<"$ATTEMPT_LOG" | sed 's/^/    /'
    return 1
  fi
  say "dockerd (pid $pid) is up after ${waited}s; pid recorded in $PID_FILE"
}

ensure_dockerd() {
  local ours
  ours=$(our_dockerd_pid)
  if docker_works; then
    if [[ -n $ours ]]; then
      say "dockerd already running (started by this script, pid $ours)"
    else
      say "dockerd already running"
    fi
    return
  fi
  command -v dockerd >/dev/null || die "dockerd not found (install the Debian package docker.io)"
  command -v docker >/dev/null || die "docker CLI not found (install the Debian package docker.io)"
  if [[ -n $ours ]]; then
    # Ours, but not answering: wedged, or half started by an interrupted run. Start over.
    say "dockerd pid $ours from $PID_FILE does not answer; restarting it"
    stop_pid "$ours"
  fi
  rm -f "$PID_FILE"

  local theirs
  theirs=$(dockerd_pid_in "$DOCKERD_OWN_PID_FILE")
  if [[ -n $theirs ]]; then
    # Someone else's daemon, perhaps still starting up: wait for it, never touch it.
    say "dockerd pid $theirs (not started by this script) does not answer yet; waiting"
    local started=$SECONDS
    until docker_works; do
      if ((SECONDS - started >= START_TIMEOUT)) || ! alive "$theirs"; then
        die "dockerd pid $theirs (not ours) did not answer 'docker info' within" \
          "$((SECONDS - started))s"
      fi
      sleep 1
    done
    local waited=$((SECONDS - started))
    say "dockerd already running (pid $theirs, answered after ${waited}s)"
    return
  fi
  if [[ -f $DOCKERD_OWN_PID_FILE ]]; then
    # Left behind by a dockerd that was killed; dockerd refuses to start while it exists.
    say "removing stale $DOCKERD_OWN_PID_FILE (pid $(<"$DOCKERD_OWN_PID_FILE") is no live dockerd)"
    rm -f "$DOCKERD_OWN_PID_FILE"
  fi

  launch_dockerd && return
  # overlay2 is the default and works on ext4; vfs (a full copy per layer: slow, but without
  # kernel requirements) is the fallback for a root where overlay cannot be mounted.
  if grep -qiE 'overlay|graphdriver|storage.driver' <<<"$ATTEMPT_LOG"; then
    say "that looks like a storage driver problem: retrying with --storage-driver=vfs"
    launch_dockerd --storage-driver=vfs && return
  else
    # Seen after a dockerd was SIGKILLed: the containerd it managed still holds its state for a
    # few seconds, and the new daemon gives up waiting for its own containerd. Once more, later.
    say "retrying once in 5s"
    sleep 5
    launch_dockerd && return
  fi
  die "could not start dockerd; see $LOG_FILE"
}

ensure_image() {
  local version
  if version=$(docker image inspect --format "{{index .Config.Labels \"$IMAGE_VERSION_LABEL\"}}" \
    "$IMAGE" 2>/dev/null); then
    if [[ $version == "$IMAGE_VERSION" ]]; then
      say "image $IMAGE already present"
      return
    fi
    say "image $IMAGE exists but is not recipe version $IMAGE_VERSION (label '$version'): rebuilding"
  fi
  # The image holds this one file, so it must be the static build (no loader, no libc): Debian's
  # busybox-static installs it as /bin/busybox. The test run below catches a dynamic one.
  local busybox=/bin/busybox
  [[ -x $busybox ]] || die "$busybox not found (install the Debian package busybox-static)"
  local rootfs
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/podstat-busybox-rootfs.XXXXXX")
  # shellcheck disable=SC2064  # expand now: the variable is local
  trap "rm -rf '$rootfs'" EXIT
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp "$busybox" "$rootfs/bin/busybox"
  # Every applet as a symlink, so a test can use any of them (sh, sleep, nc, cat, ...).
  local applet count=0
  for applet in $("$rootfs/bin/busybox" --list); do
    [[ $applet == busybox ]] && continue
    ln -s busybox "$rootfs/bin/$applet"
    count=$((count + 1))
  done
  for applet in sh sleep nc cat netstat; do
    [[ -L $rootfs/bin/$applet ]] || die "$busybox has no '$applet' applet"
  done
  tar -C "$rootfs" -c . |
    docker import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
      --change "LABEL $IMAGE_VERSION_LABEL=$IMAGE_VERSION" \
      --message "podstat e2e test image: busybox-static" - "$IMAGE" >/dev/null ||
    die "docker import of $IMAGE failed"
  rm -rf "$rootfs"
  trap - EXIT
  local out
  if ! out=$(docker run --rm --label "$TEST_LABEL" "$IMAGE" sh -c 'echo ok' 2>&1) || [[ $out != ok ]]; then
    docker rmi "$IMAGE" >/dev/null 2>&1 || true
    die "the freshly built $IMAGE does not run ($busybox not static?): $out"
  fi
  say "built image $IMAGE from $busybox ($count applet symlinks)"
}

remove_test_containers() {
  local ids
  ids=$(docker ps -aq --filter "label=$TEST_LABEL" 2>/dev/null || true)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086  # one id per word
    docker rm -f $ids >/dev/null || say "warning: could not remove some test containers"
    say "removed $(wc -w <<<"$ids") leftover container(s) labelled $TEST_LABEL"
  fi
}

cmd_start() {
  [[ $(id -u) == 0 ]] || die "must run as root (dockerd needs it)"
  ensure_dockerd
  ensure_image
  say "ready: $(docker version --format 'server {{.Server.Version}}' 2>/dev/null || echo '?')," \
    "storage driver $(docker info --format '{{.Driver}}' 2>/dev/null || echo '?')," \
    "cgroup driver $(docker info --format '{{.CgroupDriver}}' 2>/dev/null || echo '?')"
}

cmd_daemon() {
  [[ $(id -u) == 0 ]] || die "must run as root (dockerd needs it)"
  ensure_dockerd
}

cmd_stop() {
  if [[ ! -f $PID_FILE ]]; then
    say "no $PID_FILE: this script did not start the running dockerd (if any); leaving it alone"
    # Containers labelled podstat.test=1 are the tests' own, whoever runs the daemon.
    if docker_works; then remove_test_containers; fi
    return
  fi
  local pid
  pid=$(our_dockerd_pid)
  if [[ -z $pid ]]; then
    say "dockerd from $PID_FILE is no longer running; removing the stale pid file"
    rm -f "$PID_FILE"
    return
  fi
  if docker_works; then remove_test_containers; fi
  say "stopping dockerd (pid $pid)"
  stop_pid "$pid"
  alive "$pid" && die "dockerd (pid $pid) survived SIGKILL"
  rm -f "$PID_FILE"
  say "dockerd stopped"
}

case "${1:-}" in
  start) cmd_start ;;
  daemon) cmd_daemon ;;
  stop) cmd_stop ;;
  *)
    echo "usage: $0 start|daemon|stop" >&2
    exit 2
    ;;
esac
