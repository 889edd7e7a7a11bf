#!/usr/bin/env bash
# devhost.sh up|down|ssh [CMD...]|info
#   A VPS-like test host: the berth/devhost:bookworm container (systemd as
#   PID 1, nginx, sshd on 127.0.0.1:2222) on the machine's network, with the
#   machine's dockerd reachable through /var/run/docker.sock.
#   up    idempotent: engine + images + SSH key + container, waits until ready
#   down  removes the container
#   ssh   ssh into it as root (optionally run CMD)
#   info  prints DEVHOST_* KEY=VALUE lines
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/berth/devhost"
KEY="$STATE_DIR/id_ed25519"
HOST_KEY="$STATE_DIR/ssh_host_ed25519_key"
KNOWN_HOSTS="$STATE_DIR/known_hosts"
NAME=berth-devhost
IMAGE=berth/devhost:bookworm
ADDRESS=127.0.0.1
SSH_PORT=2222
SSH_USER=root
# Ports the devhost's nginx vhosts will use later; must be free on the machine.
VHOST_PORTS=(18080 18443)
WAIT_SECONDS="${BERTH_DEVHOST_WAIT:-120}"

log() { printf '[devhost] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ssh_opts() {
  printf '%s\n' -i "$KEY" -p "$SSH_PORT" \
    -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 \
    -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$KNOWN_HOSTS" -o LogLevel=ERROR
}

dh_ssh() {
  local opts
  mapfile -t opts < <(ssh_opts)
  # shellcheck disable=SC2029 # the command is meant to run remotely as given
  ssh "${opts[@]}" "$SSH_USER@$ADDRESS" "$@"
}

running() {
  [[ "$(docker inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null || true)" == true ]]
}

# Is anything listening on 127.0.0.1/0.0.0.0:PORT (TCP)?
port_in_use() {
  local hex
  hex=$(printf ':%04X ' "$1")
  awk 'NR > 1 && $4 == "0A" { print $2 }' /proc/net/tcp /proc/net/tcp6 | grep -q -- "${hex% }$"
}

ensure_key() {
  mkdir -p "$STATE_DIR"
  chmod 700 "$STATE_DIR"
  if [[ ! -s "$KEY" ]]; then
    command -v ssh-keygen >/dev/null 2>&1 || die "ssh-keygen missing (apt-get install openssh-client)"
    log "creating SSH key pair $KEY"
    ssh-keygen -q -t ed25519 -N '' -C "berth-devhost@$(hostname)" -f "$KEY"
  fi
  # The file bind-mounted into the container as root's extra authorized keys.
  install -m 0644 "$KEY.pub" "$STATE_DIR/authorized_keys"
  # The local stack (Pulumi.local.yaml) reads the key from the checkout (.berth/ is ignored by
  # git), so it finds this machine's key wherever XDG_CACHE_HOME points.
  install -d -m 0700 "$REPO_ROOT/.berth/devhost"
  install -m 0600 "$KEY" "$REPO_ROOT/.berth/devhost/id_ed25519"
  # sshd's host key is per machine too (bind-mounted), so known_hosts stays
  # valid across image rebuilds and container replacement.
  if [[ ! -s "$HOST_KEY" ]]; then
    log "creating SSH host key $HOST_KEY"
    ssh-keygen -q -t ed25519 -N '' -C "berth-devhost-hostkey" -f "$HOST_KEY"
  fi
  chmod 600 "$HOST_KEY"
  # The local stack checks the devhost's host key on every connection (berth:host.hostKeyFile).
  install -m 0644 "$HOST_KEY.pub" "$REPO_ROOT/.berth/devhost/host_key.pub"
  local pub
  read -r -a pub <"$HOST_KEY.pub"
  printf '[%s]:%s %s %s\n' "$ADDRESS" "$SSH_PORT" "${pub[0]}" "${pub[1]}" >"$KNOWN_HOSTS"
}

wait_ready() {
  local i state=""
  log "waiting for systemd"
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    running || { docker logs --tail 30 "$NAME" >&2 || true; die "container $NAME stopped"; }
    state=$(docker exec "$NAME" systemctl is-system-running 2>/dev/null || true)
    case "$state" in
      running | degraded) break ;;
    esac
    sleep 1
  done
  case "$state" in
    running) log "systemd: running" ;;
    degraded)
      log "systemd: degraded; failed units:"
      docker exec "$NAME" systemctl --failed --no-legend --plain >&2 || true
      ;;
    *) die "systemd not up after ${WAIT_SECONDS}s (state: ${state:-unknown})" ;;
  esac
  log "waiting for sshd on $ADDRESS:$SSH_PORT"
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    if dh_ssh true 2>/dev/null; then break; fi
    sleep 1
  done
  dh_ssh 'nginx -v && docker version --format "docker client {{.Client.Version}}, server {{.Server.Version}}" && systemctl is-active nginx' >&2 \
    || die "ssh check failed (ssh -i $KEY -p $SSH_PORT $SSH_USER@$ADDRESS)"
}

cmd_up() {
  local t0=$SECONDS
  "$REPO_ROOT/scripts/docker-engine.sh" ensure
  "$REPO_ROOT/scripts/images.sh" ensure devhost
  ensure_key
  if running; then
    local img_now img_want
    img_now=$(docker inspect --format '{{.Image}}' "$NAME")
    img_want=$(docker image inspect --format '{{.Id}}' "$IMAGE")
    if [[ "$img_now" != "$img_want" ]]; then
      log "note: $NAME runs an older $IMAGE; run '$0 down && $0 up' to replace it"
    fi
    log "$NAME already running"
  else
    if docker inspect "$NAME" >/dev/null 2>&1; then
      log "removing stopped container $NAME"
      docker rm -f "$NAME" >/dev/null
    fi
    local p
    for p in "$SSH_PORT" "${VHOST_PORTS[@]}"; do
      if port_in_use "$p"; then
        die "port $p is already in use on this machine (needed by the devhost: ssh $SSH_PORT, vhosts ${VHOST_PORTS[*]})"
      fi
    done
    log "starting $NAME"
    docker run -d --name "$NAME" \
      --network host \
      --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
      -v /var/run/docker.sock:/var/run/docker.sock \
      -v "$STATE_DIR/authorized_keys:/etc/ssh/authorized_keys.d/root:ro" \
      -v "$HOST_KEY:/etc/ssh/ssh_host_ed25519_key:ro" \
      -v "$HOST_KEY.pub:/etc/ssh/ssh_host_ed25519_key.pub:ro" \
      --label berth.devhost=1 \
      "$IMAGE" >/dev/null
  fi
  wait_ready
  log "devhost ready in $((SECONDS - t0))s: ssh -i $KEY -p $SSH_PORT $SSH_USER@$ADDRESS"
}

cmd_down() {
  if docker inspect "$NAME" >/dev/null 2>&1; then
    log "removing $NAME"
    docker rm -f "$NAME" >/dev/null
  else
    log "$NAME not present"
  fi
}

cmd_info() {
  printf 'DEVHOST_ADDRESS=%s\n' "$ADDRESS"
  printf 'DEVHOST_SSH_PORT=%s\n' "$SSH_PORT"
  printf 'DEVHOST_USER=%s\n' "$SSH_USER"
  printf 'DEVHOST_KEY=%s\n' "$KEY"
  printf 'DEVHOST_KNOWN_HOSTS=%s\n' "$KNOWN_HOSTS"
  printf 'DEVHOST_HOST_PUBKEY_FILE=%s\n' "$HOST_KEY.pub"
  printf 'DEVHOST_CONTAINER=%s\n' "$NAME"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  ssh)
    shift
    [[ -s "$KEY" ]] || die "no key yet; run '$0 up' first"
    if [[ $# -eq 0 && -t 0 ]]; then
      mapfile -t opts < <(ssh_opts)
      exec ssh -t "${opts[@]}" "$SSH_USER@$ADDRESS"
    fi
    dh_ssh "$@"
    ;;
  info) cmd_info ;;
  *) echo "usage: $0 up|down|ssh [CMD...]|info" >&2; exit 2 ;;
esac
