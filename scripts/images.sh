#!/usr/bin/env bash
# images.sh ensure [NAME...]
#   Builds berth's local images, skipping every image whose `berth.hash` label
#   already matches the hash of its inputs (so a warm run takes seconds).
#   NAMEs (default: all): debian postgres redis demo devhost registry
#   BERTH_IMAGES_FORCE=1 rebuilds everything from scratch (cold run).
#
#   berth/debian:bookworm   debootstrap minbase rootfs, docker-imported
#   berth/postgres:15       Debian postgresql-15, official-image env contract
#   berth/redis:7           Debian redis-server
#   berth-demo:v1|v2|v3     demo app (v3: /api/health never 200)
#   berth/devhost:bookworm  systemd + nginx + sshd(127.0.0.1:2222) + docker CLI
#   berth/registry:2        Debian docker-registry, htpasswd auth (private-registry tests)
#
# Every image is built from TRACKED files only: the build context of images/NAME
# and the demo app's source (demo/) are copied from `git ls-files` (with their
# work-tree content) into a temporary dir, and the `berth.hash` label is the hash
# of that copy. Untracked files and empty folders in the work tree never reach a
# build nor change a hash (they are reported and ignored), so a clean clone
# builds exactly what the author's machine built.
#
# Caches (outside the repo): ${XDG_CACHE_HOME:-$HOME/.cache}/berth/images
#   debian-bookworm-<hash>.tar   rootfs tarball, reimported in seconds after a
#                                dockerd rebuild
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/berth/images"
IMAGES_DIR="$REPO_ROOT/images"
DEMO_DIR="$REPO_ROOT/demo"
SUITE=bookworm
# Bump to force a rebuild of everything.
RECIPE_VERSION=1

BASE_IMAGE="berth/debian:$SUITE"
POSTGRES_IMAGE="berth/postgres:15"
REDIS_IMAGE="berth/redis:7"
DEMO_REPO="berth-demo"
DEMO_VERSIONS=(v1 v2 v3)
DEVHOST_IMAGE="berth/devhost:$SUITE"
REGISTRY_IMAGE="berth/registry:2"

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

sha() { sha256sum | cut -c1-16; }

# Scratch space for the tracked-files copies (made by cmd_ensure, in the main
# shell, as stage_tracked runs in command substitutions); removed on exit.
STAGE_ROOT=""
cleanup_stage() { if [[ -n "$STAGE_ROOT" ]]; then rm -rf "$STAGE_ROOT"; fi; }
trap cleanup_stage EXIT

# stage_tracked DIR -> prints a fresh temp dir holding a copy of the files git
# tracks under DIR (index entries, with their current work-tree content; a
# tracked file deleted from the work tree is left out). Nothing untracked, no
# empty folder. Modes are normalized (0755 if executable, else 0644; dirs 0755)
# so the umask of the checkout does not matter either.
stage_tracked() {
  local dir=$1 dest
  git -C "$REPO_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
    || die "$REPO_ROOT is not a git work tree: images are built from tracked files only"
  [[ -n "$STAGE_ROOT" ]] || die "internal: STAGE_ROOT not set"
  dest=$(mktemp -d "$STAGE_ROOT/ctx.XXXXXX")
  local untracked
  untracked=$(git -C "$dir" ls-files --others --exclude-standard -- . | head -n 5 | tr '\n' ' ')
  if [[ -n "$untracked" ]]; then
    log "note: ignoring untracked files in ${dir#"$REPO_ROOT"/}/ (only tracked files are built): $untracked"
  fi
  local f
  while IFS= read -r -d '' f; do
    if [[ -e "$dir/$f" || -L "$dir/$f" ]]; then printf '%s\0' "$f"; fi
  done < <(git -C "$dir" ls-files -z --cached -- .) \
    | tar -C "$dir" --null --no-recursion -T - -cf - \
    | tar -C "$dest" --no-same-owner -xf -
  [[ -n "$(ls -A "$dest")" ]] || die "no tracked files under ${dir#"$REPO_ROOT"/}/"
  find "$dest" -type d -exec chmod 0755 {} +
  find "$dest" -type f -perm -u+x -exec chmod 0755 {} +
  find "$dest" -type f ! -perm -u+x -exec chmod 0644 {} +
  printf '%s\n' "$dest"
}

# Hash of a staged dir (relative paths, file type, exec bit, contents, symlink
# targets), stable across runs and machines.
dir_hash() {
  local dir=$1
  (
    cd "$dir"
    find . \( -type f -o -type l \) -printf '%y %m %p %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
  ) | sha
}

image_hash() {
  docker image inspect --format '{{ index .Config.Labels "berth.hash" }}' "$1" 2>/dev/null || true
}

# BERTH_IMAGES_FORCE=1 rebuilds everything (including the rootfs tarball).
up_to_date() { [[ "${BERTH_IMAGES_FORCE:-0}" != 1 && "$(image_hash "$1")" == "$2" ]]; }

# --- apt mirror, as the machine already uses it --------------------------------
# Prints "<debian-uri> <debian-security-uri>" read from /etc/apt/sources.list*.
apt_mirrors() {
  if [[ -n "${BERTH_APT_MIRROR:-}" ]]; then
    printf '%s %s\n' "$BERTH_APT_MIRROR" "${BERTH_APT_SECURITY_MIRROR:-}"
    return
  fi
  local files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && files+=("$f")
  done
  ((${#files[@]})) || die "no apt sources found; set BERTH_APT_MIRROR"
  # One-line (.list) "deb URI suite ..." and deb822 "URIs: ..." forms.
  local uris
  uris=$(awk '
    /^[[:space:]]*#/ { next }
    $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }
    tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }
  ' "${files[@]}" | sed 's:/*$::')
  local main sec
  main=$(grep -E '/debian$' <<<"$uris" | head -n1 || true)
  sec=$(grep -E '/debian-security$' <<<"$uris" | head -n1 || true)
  [[ -n "$main" ]] || die "no Debian mirror in /etc/apt/sources.list*; set BERTH_APT_MIRROR"
  printf '%s %s\n' "$main" "$sec"
}

# --- berth/debian:bookworm -----------------------------------------------------
base_hash() {
  printf 'base %s %s %s\n' "$RECIPE_VERSION" "$SUITE" "$(apt_mirrors)" | sha
}

make_rootfs_tarball() {
  local tarball=$1 mirror=$2 secmirror=$3
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 \
      || { as_root apt-get update -qq >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
  }
  local work="$CACHE_DIR/work.rootfs"
  as_root rm -rf "$work"
  mkdir -p "$work"
  log "debootstrap --variant=minbase $SUITE from the machine's mirror (a few minutes)"
  local t0=$SECONDS
  as_root debootstrap --variant=minbase "$SUITE" "$work/root" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed; see $CACHE_DIR/debootstrap.log"; }
  log "debootstrap done in $((SECONDS - t0))s"
  local r="$work/root"
  # apt sources: same mirror as the machine, plus updates and security.
  rm -f "$r/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$SUITE" "$SUITE"
    if [[ -n "$secmirror" ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$secmirror" "$SUITE"
    fi
  } >"$r/etc/apt/sources.list.d/debian.sources"
  # Container-friendly apt defaults (like the official debian image).
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  printf 'Acquire::Languages "none";\n' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$r/etc/apt/apt.conf.d/docker-no-recommends"
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log
  : >"$r/etc/hostname"
  : >"$r/etc/resolv.conf"
  rm -f "$r/etc/machine-id" "$r/var/lib/dbus/machine-id"
  log "writing rootfs tarball"
  tar --numeric-owner --xattrs -C "$r" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  as_root rm -rf "$work"
}

ensure_base() {
  local h
  h=$(base_hash)
  if up_to_date "$BASE_IMAGE" "$h"; then
    log "$BASE_IMAGE up to date ($h)"
    return
  fi
  local mirror secmirror
  read -r mirror secmirror < <(apt_mirrors)
  local tarball="$CACHE_DIR/debian-$SUITE-$h.tar"
  if [[ ! -s "$tarball" || "${BERTH_IMAGES_FORCE:-0}" == 1 ]]; then
    make_rootfs_tarball "$tarball" "$mirror" "$secmirror"
  else
    log "reusing cached rootfs $tarball"
  fi
  log "docker import -> $BASE_IMAGE"
  docker import \
    -c "LABEL berth.hash=$h" \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["bash"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
  # Drop stale tarballs from older recipes.
  find "$CACHE_DIR" -maxdepth 1 -name "debian-$SUITE-*.tar" ! -name "debian-$SUITE-$h.tar" -delete
}

# --- docker build helper -------------------------------------------------------
# With the vfs storage driver every container the legacy builder creates copies
# the whole rootfs (it makes one per Dockerfile instruction), so use BuildKit:
# `docker buildx` if installed, else Debian's docker.io CLI (20.10, BuildKit
# built in) at /usr/bin/docker, else the legacy builder.
build_cmd() {
  if docker buildx version >/dev/null 2>&1; then
    BUILD=(docker buildx build --load)
  elif [[ -x /usr/bin/docker ]] && /usr/bin/docker version --format '{{.Client.Version}}' 2>/dev/null | grep -q '^20\.10'; then
    BUILD=(env DOCKER_BUILDKIT=1 /usr/bin/docker build)
  else
    BUILD=(env DOCKER_BUILDKIT=0 docker build)
  fi
}

# build_image TAG HASH CONTEXT [extra docker build args...]
build_image() {
  local tag=$1 h=$2 ctx=$3
  shift 3
  if up_to_date "$tag" "$h"; then
    log "$tag up to date ($h)"
    return
  fi
  [[ -v BUILD ]] || build_cmd
  log "building $tag ($h) with: ${BUILD[*]}"
  local t0=$SECONDS logf old new
  logf="$CACHE_DIR/build-${tag//[\/:]/_}.log"
  old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  if ! "${BUILD[@]}" --progress=plain --network host --label "berth.hash=$h" -t "$tag" "$@" "$ctx" >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2
    die "docker build $tag failed; see $logf"
  fi
  new=$(docker image inspect --format '{{.Id}}' "$tag")
  # Drop the image this one replaced (vfs stores every layer in full).
  if [[ -n "$old" && "$old" != "$new" ]]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
  log "built $tag in $((SECONDS - t0))s"
}

ensure_postgres() {
  local ctx h
  ctx=$(stage_tracked "$IMAGES_DIR/postgres")
  h=$(printf '%s %s %s\n' "$RECIPE_VERSION" "$(image_hash "$BASE_IMAGE")" "$(dir_hash "$ctx")" | sha)
  build_image "$POSTGRES_IMAGE" "$h" "$ctx"
}

ensure_redis() {
  local ctx h
  ctx=$(stage_tracked "$IMAGES_DIR/redis")
  h=$(printf '%s %s %s\n' "$RECIPE_VERSION" "$(image_hash "$BASE_IMAGE")" "$(dir_hash "$ctx")" | sha)
  build_image "$REDIS_IMAGE" "$h" "$ctx"
}

ensure_devhost() {
  local ctx h
  ctx=$(stage_tracked "$IMAGES_DIR/devhost")
  h=$(printf '%s %s %s\n' "$RECIPE_VERSION" "$(image_hash "$BASE_IMAGE")" "$(dir_hash "$ctx")" | sha)
  build_image "$DEVHOST_IMAGE" "$h" "$ctx"
}

ensure_registry() {
  local ctx h
  ctx=$(stage_tracked "$IMAGES_DIR/registry")
  h=$(printf '%s %s %s\n' "$RECIPE_VERSION" "$(image_hash "$BASE_IMAGE")" "$(dir_hash "$ctx")" | sha)
  build_image "$REGISTRY_IMAGE" "$h" "$ctx"
}

ensure_demo() {
  command -v go >/dev/null 2>&1 || die "go is required to build the demo app"
  local src ctx src_hash ctx_hash goversion base
  src=$(stage_tracked "$DEMO_DIR")
  ctx=$(stage_tracked "$IMAGES_DIR/demo")
  src_hash=$(dir_hash "$src")
  ctx_hash=$(dir_hash "$ctx")
  goversion=$(go env GOVERSION)
  base=$(image_hash "$BASE_IMAGE")
  local v h pending=()
  declare -A hashes=()
  for v in "${DEMO_VERSIONS[@]}"; do
    h=$(printf '%s %s %s %s %s %s\n' "$RECIPE_VERSION" "$base" "$src_hash" "$goversion" "$ctx_hash" "$v" | sha)
    hashes[$v]=$h
    if up_to_date "$DEMO_REPO:$v" "$h"; then
      log "$DEMO_REPO:$v up to date ($h)"
    else
      pending+=("$v")
    fi
  done
  ((${#pending[@]})) || return 0
  local unhealthy
  for v in "${pending[@]}"; do
    log "go build demo ($v) from the tracked files of demo/"
    # GOWORK=off: the staged copy lives outside the repo; no go.work applies.
    (cd "$src" && GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
      -ldflags "-s -w -X main.version=$v" -o "$ctx/demo" .) >&2
    unhealthy=0
    [[ "$v" == v3 ]] && unhealthy=1
    build_image "$DEMO_REPO:$v" "${hashes[$v]}" "$ctx" \
      --build-arg "DEMO_VERSION=$v" --build-arg "DEMO_FORCE_UNHEALTHY=$unhealthy"
  done
}

cmd_ensure() {
  local t0=$SECONDS targets=("$@")
  ((${#targets[@]})) || targets=(debian postgres redis demo devhost registry)
  mkdir -p "$CACHE_DIR"
  STAGE_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/berth-images.XXXXXX")
  docker info >/dev/null 2>&1 || "$REPO_ROOT/scripts/docker-engine.sh" ensure
  ensure_base
  local t
  for t in "${targets[@]}"; do
    case "$t" in
      debian) ;;
      postgres) ensure_postgres ;;
      redis) ensure_redis ;;
      demo) ensure_demo ;;
      devhost) ensure_devhost ;;
      registry) ensure_registry ;;
      *) die "unknown image '$t' (debian postgres redis demo devhost registry)" ;;
    esac
  done
  # Drop our own superseded images (dangling + berth.hash label); ones still
  # used by containers stay.
  local old
  old=$(docker images --filter dangling=true --filter label=berth.hash --quiet)
  if [[ -n "$old" ]]; then
    # shellcheck disable=SC2086 # one image id per word
    docker rmi $old >/dev/null 2>&1 || true
  fi
  log "all images ready in $((SECONDS - t0))s"
}

case "${1:-}" in
  ensure) shift; cmd_ensure "$@" ;;
  *) echo "usage: $0 ensure [debian|postgres|redis|demo|devhost|registry]..." >&2; exit 2 ;;
esac
