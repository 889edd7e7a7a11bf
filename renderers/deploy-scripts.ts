/**
 * Scripts for the deploy sequence of a release: database backup before the image changes, the
 * release phase (migrations) in a one-off container, and the health gate before nginx switches.
 * Pure: spec in, bash out. Secrets only ever arrive on stdin.
 */
import { checkSiteName } from "./nginx-vhost";
import { shellQuote } from "./shell";
import { POSIX_NAME, POSIX_NAME_ALLOWED, RenderError, array, fsPath, intInRange, matchString, show, urlPath } from "./validate";

export { RenderError } from "./validate";

const LABEL = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOCKER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface BackupScriptSpec {
  /** Site name; the Postgres container is found by its `berth.site` / `berth.addon=postgres` labels. */
  siteName: string;
  /** Database name and user inside the container. */
  database: string;
  user: string;
  /** Directory on the host for the dumps, e.g. `/var/backups/berth/<site>`. */
  directory: string;
  /** Dumps kept; older ones are deleted after a successful dump. */
  keep: number;
}

/**
 * `/usr/local/sbin/berth-<site>-backup <label>`: a `pg_dump -Fc` of the site's database into
 * `<directory>/<UTC timestamp>-<label>.dump`, written to a temp file and renamed only when complete,
 * then retention. Run before every image change (label = the new tag) and daily by a timer.
 */
export function renderBackupScript(spec: BackupScriptSpec): string {
  const site = checkSiteName("siteName", spec.siteName);
  const db = matchString("database", spec.database, POSIX_NAME, POSIX_NAME_ALLOWED);
  const user = matchString("user", spec.user, POSIX_NAME, POSIX_NAME_ALLOWED);
  const dir = fsPath("directory", spec.directory);
  const keep = intInRange("keep", spec.keep, 1, 1000);
  return `#!/bin/bash
# Installed by berth: backs up the ${site} database. Usage: $0 <label>
set -euo pipefail
label=\${1:?usage: $0 <label>}
if ! [[ $label =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "berth-backup: label must be a tag-like word" >&2
  exit 2
fi
dir=${shellQuote(dir)}
install -d -m 0700 "$dir"
container=$(docker ps -q --filter label=berth.site=${shellQuote(site)} --filter label=berth.addon=postgres | head -n 1)
if [ -z "$container" ]; then
  echo "berth-backup: no running postgres container for site ${site}" >&2
  exit 1
fi
name="$(date -u +%Y%m%dT%H%M%SZ)-$label.dump"
tmp=$(mktemp "$dir/.partial.XXXXXX")
trap 'rm -f "$tmp"' EXIT
docker exec "$container" pg_dump -Fc -U ${shellQuote(user)} -d ${shellQuote(db)} > "$tmp"
# An empty file is not a dump: pg_dump -Fc always writes a header.
[ -s "$tmp" ]
chmod 0600 "$tmp"
mv -f "$tmp" "$dir/$name"
trap - EXIT
ls -1t "$dir"/*.dump | tail -n +$((${keep} + 1)) | xargs -r rm -f --
echo "berth-backup: $dir/$name ($(stat -c %s "$dir/$name") bytes)"
`;
}

export interface DatabaseLoginScriptSpec {
  /** Site name; the Postgres container is found by its `berth.site` / `berth.addon=postgres` labels. */
  siteName: string;
  /** The owner role (`POSTGRES_USER`): owns the database and its objects, local connections only. */
  owner: string;
}

const POSTGRES_CONTAINER = (site: string) =>
  `$(docker ps -q --filter label=berth.site=${shellQuote(site)} --filter label=berth.addon=postgres | head -n 1)`;

/**
 * Runs the SQL on stdin in the site's Postgres as the owner, over the container's local socket
 * (trusted), waiting first for a server that may still be starting after a replace. The SQL carries
 * the password (`renderDatabaseLoginSql`); the script carries none.
 */
export function renderDatabaseLoginScript(spec: DatabaseLoginScriptSpec): string {
  const site = checkSiteName("siteName", spec.siteName);
  const owner = matchString("owner", spec.owner, POSIX_NAME, POSIX_NAME_ALLOWED);
  return `set -euo pipefail
container=""
for _ in $(seq 1 60); do
  container=${POSTGRES_CONTAINER(site)}
  # Over TCP: the image's first-start initialisation runs a server on the socket only, then stops it.
  if [ -n "$container" ] && docker exec "$container" pg_isready -q -h 127.0.0.1 -U ${shellQuote(owner)} -d postgres; then break; fi
  sleep 1
done
if [ -z "$container" ]; then
  echo "berth: no running postgres container for site ${site}" >&2
  exit 1
fi
docker exec -i "$container" psql -v ON_ERROR_STOP=1 -q -U ${shellQuote(owner)} -d postgres
echo "berth: database login ready"
`;
}

/**
 * The login role the app connects as, with the password in state: created, or given that password
 * again when it exists (a retained volume after destroy and up, a refactor). Each rotation is a new
 * login role, so the running release keeps connecting with its own password until it is gone,
 * and the role of the release before is dropped only then (`renderDropDatabaseLoginScript`).
 * Sessions take the owner role, so whatever a migration creates belongs to the owner, and any later
 * login can use it. The password is letters and digits only.
 */
export function renderDatabaseLoginSql(owner: string, login: string, password: string): string {
  const o = matchString("owner", owner, POSIX_NAME, POSIX_NAME_ALLOWED);
  const l = matchString("login", login, POSIX_NAME, POSIX_NAME_ALLOWED);
  // The message never shows the value: it is a secret.
  if (!/^[A-Za-z0-9]{16,128}$/.test(password)) throw new RenderError("password", "must be 16 to 128 letters and digits");
  return `DO $berth$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${l}') THEN
    ALTER ROLE "${l}" WITH LOGIN PASSWORD '${password}';
  ELSE
    CREATE ROLE "${l}" WITH LOGIN PASSWORD '${password}';
  END IF;
END
$berth$;
GRANT "${o}" TO "${l}";
ALTER ROLE "${l}" SET role = '${o}';
`;
}

/**
 * Drops a login role once nothing uses it: its sessions end, anything it came to own goes to the
 * owner (nothing should: sessions run as the owner), then the role goes. Succeeds when the role or
 * the container is already gone (a destroyed site).
 */
export function renderDropDatabaseLoginScript(spec: DatabaseLoginScriptSpec & { login: string; database: string }): string {
  const site = checkSiteName("siteName", spec.siteName);
  const owner = matchString("owner", spec.owner, POSIX_NAME, POSIX_NAME_ALLOWED);
  const login = matchString("login", spec.login, POSIX_NAME, POSIX_NAME_ALLOWED);
  // Ownership is per database: the app's objects are in its own, not in `postgres`.
  const database = matchString("database", spec.database, POSIX_NAME, POSIX_NAME_ALLOWED);
  const sql = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${login}';
DO $berth$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${login}') THEN
    REASSIGN OWNED BY "${login}" TO "${owner}";
    DROP OWNED BY "${login}";
    DROP ROLE "${login}";
  END IF;
END
$berth$;
`;
  return `set -euo pipefail
container=${POSTGRES_CONTAINER(site)}
if [ -z "$container" ]; then
  echo "berth: no running postgres container for site ${site}; login ${login} goes with it"
  exit 0
fi
docker exec -i "$container" psql -v ON_ERROR_STOP=1 -q -U ${shellQuote(owner)} -d ${shellQuote(database)} <<'BERTH_SQL_EOF'
${sql}BERTH_SQL_EOF
echo "berth: database login ${login} dropped"
`;
}

export interface RestoreDrillScriptSpec {
  siteName: string;
  user: string;
  directory: string;
}

/**
 * `/usr/local/sbin/berth-<site>-restore-drill [dump]`: restores a dump (the latest by default) into
 * a fresh scratch database beside the live one, prints its tables with row counts, and drops it
 * unless `--keep` is given. The quarterly restore drill of seed 000 as one command.
 */
export function renderRestoreDrillScript(spec: RestoreDrillScriptSpec): string {
  const site = checkSiteName("siteName", spec.siteName);
  const user = matchString("user", spec.user, POSIX_NAME, POSIX_NAME_ALLOWED);
  const dir = fsPath("directory", spec.directory);
  return `#!/bin/bash
# Installed by berth: restores a ${site} backup into a scratch database. Usage: $0 [--keep] [dump]
set -euo pipefail
keep=0
if [ "\${1:-}" = "--keep" ]; then keep=1; shift; fi
dump=\${1:-$(ls -1t ${shellQuote(dir)}/*.dump 2>/dev/null | head -n 1 || true)}
if [ -z "$dump" ] || [ ! -s "$dump" ]; then
  echo "berth-restore-drill: no dump found in ${dir}" >&2
  exit 1
fi
container=$(docker ps -q --filter label=berth.site=${shellQuote(site)} --filter label=berth.addon=postgres | head -n 1)
if [ -z "$container" ]; then
  echo "berth-restore-drill: no running postgres container for site ${site}" >&2
  exit 1
fi
scratch="restore_drill_$(date -u +%Y%m%d%H%M%S)"
psql() { docker exec -i "$container" psql -v ON_ERROR_STOP=1 -U ${shellQuote(user)} "$@"; }
psql -d postgres -qc "CREATE DATABASE $scratch"
if [ "$keep" = 0 ]; then trap 'psql -d postgres -qc "DROP DATABASE IF EXISTS $scratch" >/dev/null' EXIT; fi
docker exec -i "$container" pg_restore --no-owner --exit-on-error -U ${shellQuote(user)} -d "$scratch" < "$dump"
echo "berth-restore-drill: restored $dump into $scratch"
# Row counts per table: what a drill compares against production.
psql -d "$scratch" -At -c "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1" |
  while read -r table; do
    echo "$table $(psql -d "$scratch" -At -c "SELECT count(*) FROM public.$table" </dev/null)"
  done
if [ "$keep" = 1 ]; then echo "berth-restore-drill: kept database $scratch"; fi
`;
}

export interface ReleaseScriptSpec {
  /** The image to run, by id (the release being deployed). */
  imageId: string;
  /** Docker network of the app, so the release reaches the database. */
  network: string;
  /** The release command, e.g. `["npx", "prisma", "migrate", "deploy"]`. */
  command: string[];
  /** Labels for the one-off container, so it is recognisable in `docker ps -a` while it runs. */
  labels: Record<string, string>;
}

/**
 * Runs the release phase once: a one-off container of the new image with the app's environment
 * (read from stdin as a Docker env file, so no secret is in the script), removed when it exits.
 * A non-zero exit fails the deploy before the new version takes traffic.
 */
export function renderReleaseScript(spec: ReleaseScriptSpec): string {
  const image = matchString("imageId", spec.imageId, IMAGE_ID, "an image id (sha256:<64 hex>)");
  const network = matchString("network", spec.network, DOCKER_NAME, "a Docker network name");
  const command = array<string>("command", spec.command, 1).map((arg, i) => {
    if (typeof arg !== "string" || /[\0\n\r]/.test(arg)) throw new RenderError(`command[${i}]`, `must be a single-line string, got ${show(arg)}`);
    return shellQuote(arg);
  });
  const labels = Object.entries(spec.labels).map(([k, v]) => {
    matchString("labels", k, /^[a-z0-9.-]{1,64}$/, "a label key");
    return `--label ${shellQuote(`${k}=${matchString(`labels.${k}`, v, LABEL, "a label value")}`)}`;
  });
  return `set -euo pipefail
env_file=$(mktemp)
trap 'rm -f "$env_file"' EXIT
chmod 0600 "$env_file"
cat > "$env_file"
echo "berth: release phase in ${image.slice(0, 19)}: ${spec.command.join(" ").replace(/[^A-Za-z0-9 _./:=@-]/g, "?")}"
docker run --rm --network ${shellQuote(network)} --env-file "$env_file" ${labels.join(" ")} --entrypoint '' ${image} ${command.join(" ")}
`;
}

/**
 * The `update` of a Command that must run once per image (the release phase, the pre-deploy
 * backup). The command provider runs `update`, or else `create` again, on any input change that
 * is not a replacement: a new environment or a rotated SSH key would re-run migrations and take
 * an extra backup. A new image replaces these Commands, which runs `create`.
 */
export function renderOncePerImageUpdate(what: "release phase" | "pre-deploy backup"): string {
  return `echo "berth: the ${what} runs once per image; this change does not run it again"\n`;
}

/** A Docker `--env-file`: `KEY=value` lines, taken literally by Docker (no quotes, no escapes). */
export function renderDockerEnvFile(vars: Record<string, string>): string {
  return Object.keys(vars)
    .sort()
    .map((key) => {
      matchString(`key ${show(key)}`, key, ENV_KEY, "a variable name ([A-Za-z_][A-Za-z0-9_]*)");
      const value: unknown = vars[key];
      // Named by key only: the value may be a secret.
      if (typeof value !== "string") throw new RenderError(key, `value must be a string, got ${typeof value}`);
      if (/[\0\r\n]/.test(value)) throw new RenderError(key, "value must not contain NUL, carriage return or newline characters");
      return `${key}=${value}\n`;
    })
    .join("");
}

export interface HealthGateSpec {
  /** Host port of the new container. */
  port: number;
  /** Health path, e.g. `/api/health`. */
  path: string;
  /** Seconds between polls. */
  intervalSeconds: number;
  /** Seconds before the gate gives up and fails the deploy. */
  timeoutSeconds: number;
}

/**
 * Polls the new release on its own loopback port until its health path answers 200, or fails the
 * deploy with the last answer. nginx switches only after this passes.
 */
export function renderHealthGateScript(spec: HealthGateSpec): string {
  const port = intInRange("port", spec.port, 1, 65535);
  const path = urlPath("path", spec.path);
  const interval = intInRange("intervalSeconds", spec.intervalSeconds, 1, 60);
  const timeout = intInRange("timeoutSeconds", spec.timeoutSeconds, 1, 3600);
  return `set -euo pipefail
url=http://127.0.0.1:${port}${path}
body=$(mktemp)
trap 'rm -f "$body"' EXIT
deadline=$(( $(date +%s) + ${timeout} ))
while :; do
  # Emptied first: curl leaves the file alone when it gets no answer, and a stale body would mislead.
  : >"$body"
  code=$(curl -s -o "$body" -w '%{http_code}' --max-time ${Math.min(interval * 5, 10)} "$url" || true)
  if [ "$code" = 200 ]; then
    echo "berth: health gate passed: $url"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "berth: health gate failed: $url did not answer 200 within ${timeout}s (last: HTTP \${code:-none} $(head -c 300 "$body"))" >&2
    exit 1
  fi
  sleep ${interval}
done
`;
}

/**
 * Loopback ports berth publishes app web containers on. Below Linux's default ephemeral range
 * (32768-60999, `net.ipv4.ip_local_port_range`), so an outgoing connection's source port never
 * holds one, and above the range services usually listen on.
 */
export const APP_PORT_RANGE = { from: 20000, to: 29999 } as const;

/** Where port reservations live on the host: one file per release, holding its port. */
export const PORT_RESERVATIONS_DIR = "/var/lib/berth/ports";

export interface ReservePortSpec {
  /** Names the reservation file; unique per release of a site (site, tag and a fingerprint of the container's inputs). */
  key: string;
  /**
   * Range the port is taken from.
   * @default APP_PORT_RANGE
   */
  range?: { from: number; to: number };
}

const RESERVATION_KEY = /^[a-z0-9][a-z0-9_.-]{0,127}$/;

function reservationFile(key: unknown): string {
  return `${PORT_RESERVATIONS_DIR}/${matchString("key", key, RESERVATION_KEY, "a reservation key ([a-z0-9][a-z0-9_.-]{0,127})")}.port`;
}

/**
 * Picks a free loopback port for one release's web container and prints it. The container is then
 * published on exactly that port, so Docker keeps it across every restart of the container, of the
 * daemon and of the server; a port Docker assigns itself changes on each start and would leave
 * nginx proxying to nothing. Free means: nothing listens on it (read from /proc, so no ss or
 * netstat is needed), no container on the host binds it (stopped ones included, as they take their
 * port back when they start) and no other release reserved it in the last day (the window between
 * this script and the container's create, when two sites deploy at once). Run under a lock.
 */
export function renderReservePortScript(spec: ReservePortSpec): string {
  const file = reservationFile(spec.key);
  const from = intInRange("range.from", spec.range?.from ?? APP_PORT_RANGE.from, 1024, 65535);
  const to = intInRange("range.to", spec.range?.to ?? APP_PORT_RANGE.to, from, 65535);
  return `set -euo pipefail
dir=${shellQuote(PORT_RESERVATIONS_DIR)}
mine=${shellQuote(file)}
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock -w 120 9
declare -A taken=()
for table in /proc/net/tcp /proc/net/tcp6; do
  [ -r "$table" ] || continue
  # Columns: sl local_address rem_address st ...; state 0A is LISTEN, the port is the hex after the last ':'.
  while read -r _ local _ state _; do
    if [ "$state" = 0A ]; then taken[$((16#\${local##*:}))]=1; fi
  done < <(tail -n +2 "$table")
done
ids=$(docker ps -aq)
# A container removed between the listing and the inspect makes inspect fail; the others still print.
for port in $(echo "$ids" | xargs -r docker inspect --format '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostPort}} {{end}}{{end}}' 2>/dev/null || true); do
  taken[$port]=1
done
while IFS= read -r other; do
  [ "$other" = "$mine" ] && continue
  port=$(cat "$other" 2>/dev/null || true)
  case "$port" in ''|*[!0-9]*) ;; *) taken[$port]=1 ;; esac
done < <(find "$dir" -maxdepth 1 -name '*.port' -mmin -1440)
for ((port = ${from}; port <= ${to}; port++)); do
  if [ -z "\${taken[$port]:-}" ]; then
    printf '%s\\n' "$port" > "$mine.new"
    mv -f "$mine.new" "$mine"
    printf '%s\\n' "$port"
    exit 0
  fi
done
echo "berth: no free loopback port in ${from}-${to} for the new release" >&2
exit 1
`;
}

/** Drops a release's port reservation once its resource is deleted. */
export function renderReleasePortScript(spec: Pick<ReservePortSpec, "key">): string {
  return `rm -f ${shellQuote(reservationFile(spec.key))}\n`;
}

export interface ReleaseCleanupSpec {
  /** Site name: containers carry its `berth.site` label. */
  siteName: string;
  /** The site's Docker network: only containers on it are this stack's. */
  network: string;
  /** Full ids (64 hex) of the release that now serves: kept. */
  keep: string[];
  /** Seconds a container gets to finish its work before it is killed, as Pulumi's delete gives it. */
  stopTimeoutSeconds: number;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;

/**
 * Runs after the switch: stops and removes every app container of the site (web, workers, release
 * one-offs) that is not the release now serving. Those are the release just replaced, which Pulumi
 * would delete a moment later (its delete ignores a container already gone), and containers no
 * state knows: made by an `up` that was killed between creating them and recording them, which
 * nothing else would ever remove — a worker among them would go on taking jobs.
 */
export function renderReleaseCleanupScript(spec: ReleaseCleanupSpec): string {
  const site = checkSiteName("siteName", spec.siteName);
  const network = matchString("network", spec.network, DOCKER_NAME, "a Docker network name");
  const keep = array<string>("keep", spec.keep, 1).map((id, i) => matchString(`keep[${i}]`, id, CONTAINER_ID, "a full container id (64 hex)"));
  const timeout = intInRange("stopTimeoutSeconds", spec.stopTimeoutSeconds, 1, 600);
  return `set -euo pipefail
keep=' ${keep.join(" ")} '
stale=()
for id in $(docker ps -aq --no-trunc --filter label=berth.site=${shellQuote(site)} --filter label=berth.process --filter network=${shellQuote(network)}); do
  case "$keep" in *" $id "*) ;; *) stale+=("$id") ;; esac
done
if [ \${#stale[@]} -eq 0 ]; then
  echo "berth: no container of an earlier release is left"
  exit 0
fi
# As Pulumi's delete does it: SIGTERM, then the stop timeout, so work in progress can finish.
docker stop -t ${timeout} "\${stale[@]}" >/dev/null
docker rm -f "\${stale[@]}" >/dev/null
echo "berth: removed \${#stale[@]} container(s) of earlier or interrupted releases"
`;
}
