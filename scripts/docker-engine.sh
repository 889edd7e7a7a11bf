#!/usr/bin/env bash
# docker-engine.sh ensure|stop
#   ensure: if `docker info` works, do nothing; otherwise install Debian's
#           docker.io (if missing) and start dockerd (vfs, iptables off) in the
#           background, logging and writing its pidfile to the cache dir.
#   stop:   stop only a dockerd this script started (identified by pidfile).
set -euo pipefail

CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/berth/dockerd"
PIDFILE="$CACHE_DIR/dockerd.pid"
LOGFILE="$CACHE_DIR/dockerd.log"
WAIT_SECONDS="${BERTH_DOCKERD_WAIT:-60}"

log() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

docker_ok() { docker info >/dev/null 2>&1; }

apt_has_candidate() {
  local cand
  cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n "$cand" && "$cand" != "(none)" ]]
}

apt_install() {
  # apt_install pkg... : installs missing packages; apt-get update only when
  # some package has no install candidate yet.
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  for p in "${missing[@]}"; do
    if ! apt_has_candidate "$p"; then
      log "apt-get update (no candidate for $p)"
      as_root apt-get update -qq >&2
      break
    fi
  done
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

our_pid() {
  # Prints the pid of the dockerd we started, if it is still alive.
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid=$(<"$PIDFILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/comm" && "$(<"/proc/$pid/comm")" == dockerd ]] || return 1
  printf '%s\n' "$pid"
}

wait_for_docker() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    docker_ok && return 0
    if [[ -n "${1:-}" ]] && ! kill -0 "$1" 2>/dev/null; then
      tail -n 30 "$LOGFILE" >&2 || true
      die "dockerd (pid $1) exited; see $LOGFILE"
    fi
    sleep 0.5
  done
  tail -n 30 "$LOGFILE" >&2 || true
  die "docker info still failing after ${WAIT_SECONDS}s; see $LOGFILE"
}

cmd_ensure() {
  if docker_ok; then
    log "docker engine already running"
    return 0
  fi
  local pid
  if pid=$(our_pid); then
    log "dockerd (pid $pid) started earlier is not answering yet; waiting"
    wait_for_docker "$pid"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
  fi
  command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"
  mkdir -p "$CACHE_DIR"
  log "starting dockerd (vfs, iptables off); log: $LOGFILE"
  # setsid: detach from our process group so it outlives this script.
  setsid dockerd --storage-driver=vfs --iptables=false >>"$LOGFILE" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$PIDFILE"
  wait_for_docker "$pid"
  log "dockerd ready (pid $pid)"
}

cmd_stop() {
  local pid i
  if ! pid=$(our_pid); then
    log "no dockerd started by this script is running"
    rm -f "$PIDFILE"
    return 0
  fi
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd did not exit after 30s; sending SIGKILL"
    kill -KILL "$pid" || true
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

case "${1:-}" in
  ensure) cmd_ensure ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 ensure|stop" >&2; exit 2 ;;
esac
