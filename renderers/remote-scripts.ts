/**
 * Bash scripts run as root on the host by @pulumi/command's remote.Command.
 * Every script starts with `set -euo pipefail`, can be re-run any number of
 * times with the same result, and never contains secrets: secret content is
 * passed on stdin (remote.Command's `stdin`), so it stays out of the command
 * text that Pulumi shows in previews and keeps in state. Non-secret content
 * (vhosts, unit files) is embedded with quoted heredocs so `pulumi preview`
 * shows a readable diff. The scripts assume bash is the login shell of the
 * SSH user (Debian's root), as remote.Command hands the text to that shell.
 */
import { checkSiteName, renderNginxDefaultServer, type NginxDefaultServerSpec } from "./nginx-vhost";
import { shellQuote } from "./shell";
import { POSIX_NAME, POSIX_NAME_ALLOWED, RenderError, array, fsPath, matchString, show } from "./validate";

export { RenderError } from "./validate";

/** Installs stdin as a file, atomically. */
export interface InstallFileScriptSpec {
  /** Absolute destination path. Its directory is created (mode 0750) if missing. */
  path: string;
  /** Octal permission bits, e.g. `"0600"` (`^0?[0-7]{3}$`). */
  mode: string;
  /** Owning user, `^[a-z_][a-z0-9_-]{0,31}$`; must exist on the host. */
  owner: string;
  /** Owning group, same pattern; must exist on the host. */
  group: string;
}

/** Installs one berth nginx site file, checked by `nginx -t` before nginx reloads. */
export interface InstallNginxSiteScriptSpec {
  /** Site name (same rules as NginxVhostSpec.siteName); the file is `<confDir>/berth-<siteName>.conf`. */
  siteName: string;
  /** The vhost text (from renderNginxVhost). Written with a trailing newline. */
  content: string;
  /**
   * The catch-all default server of each port the vhost listens on (`nginxDefaultServers(spec)`),
   * one port at most once; each is `<confDir>/berth-default.<port>.conf`, shared with every other
   * berth site on that port.
   */
  defaultServers: NginxDefaultServerSpec[];
  /**
   * Directory nginx includes `*.conf` from.
   * @default "/etc/nginx/conf.d"
   */
  confDir?: string;
}

/** Removes one berth nginx site file, and the catch-alls no berth site needs any more. */
export interface RemoveNginxSiteScriptSpec {
  /** Site name; removes `<confDir>/berth-<siteName>.conf`. */
  siteName: string;
  /** @default "/etc/nginx/conf.d" */
  confDir?: string;
}

/** One unit file to install in /etc/systemd/system. */
export interface UnitFile {
  /** File name with suffix, e.g. `berth-backup.timer` (`^[a-z0-9][a-z0-9_.@-]{0,63}\.(service|timer|socket|path|target)$`). */
  fileName: string;
  /** Unit text (from renderSystemdService/renderSystemdTimer). Written with a trailing newline. */
  content: string;
}

/** Installs unit files and (re)starts what needs it. */
export interface InstallSystemdUnitsScriptSpec {
  /** Unit files to write; a file is only replaced when its content changed. */
  units: UnitFile[];
  /**
   * Units to `systemctl enable --now`, then require to be active. List
   * long-running services and timers; never the oneshot service a timer
   * activates (enabling starts it, runs the job inline, and it is inactive
   * afterwards, which this script reports as a failure).
   */
  enable: string[];
  /**
   * Units to `systemctl restart` when their own file changed in this run
   * (each must be one of `units`). A changed oneshot service needs no entry:
   * its timer runs the new file next time. Changing a timer file needs its
   * entry here for the new schedule to take effect.
   */
  restartOnChange: string[];
}

/** Disables and removes unit files. */
export interface RemoveSystemdUnitsScriptSpec {
  /** File names with suffix; missing or never-loaded units are fine. */
  fileNames: string[];
}

const DEFAULT_CONF_DIR = "/etc/nginx/conf.d";
const UNIT_DIR = "/etc/systemd/system";
const LOCK_DIR = "/run/lock";
const UNIT_FILE = /^[a-z0-9][a-z0-9_.@-]{0,63}\.(service|timer|socket|path|target)$/;
const MODE = /^0?[0-7]{3}$/;

function unitFile(field: string, value: unknown): string {
  return matchString(field, value, UNIT_FILE, "a unit file name such as app.service or backup.timer (pattern ^[a-z0-9][a-z0-9_.@-]{0,63}\\.(service|timer|socket|path|target)$)");
}

/**
 * Quoted heredoc (`<<'DELIM'`): bash expands nothing inside, so the only way
 * content can escape is a line equal to the delimiter; that is refused.
 */
function heredoc(field: string, content: unknown, delimiter: string, redirect: string): string {
  if (typeof content !== "string") throw new RenderError(field, `must be a string, got ${show(content)}`);
  if (content.includes("\0")) throw new RenderError(field, "must not contain NUL characters");
  if (content.includes(delimiter)) throw new RenderError(field, `must not contain the heredoc delimiter ${delimiter}`);
  const body = content.endsWith("\n") ? content : `${content}\n`;
  return `cat >${redirect} <<'${delimiter}'\n${body}${delimiter}`;
}

/**
 * stdin → `path`: written to a mktemp file in the destination directory (same
 * filesystem, so the final `mv -f` is an atomic rename), with mode and owner
 * set before the rename so the file never exists with looser permissions.
 */
export function renderInstallFileScript(spec: InstallFileScriptSpec): string {
  const path = fsPath("path", spec.path);
  if (path.endsWith("/")) throw new RenderError("path", `must name a file, not a directory, got ${show(path)}`);
  const mode = matchString("mode", spec.mode, MODE, 'octal permission bits such as "0600" or "640" (pattern ^0?[0-7]{3}$)');
  const owner = matchString("owner", spec.owner, POSIX_NAME, POSIX_NAME_ALLOWED);
  const group = matchString("group", spec.group, POSIX_NAME, POSIX_NAME_ALLOWED);
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  return `set -euo pipefail
target=${shellQuote(path)}
dir=${shellQuote(dir)}
if [ ! -d "$dir" ]; then
  install -d -m 0750 "$dir"
fi
tmp=$(mktemp "$dir/.berth-install.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
chmod ${mode} "$tmp"
chown ${shellQuote(`${owner}:${group}`)} "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
`;
}

/** A service's EnvironmentFile, installed from stdin. */
export interface InstallEnvFileScriptSpec {
  /** Absolute path of the env file (mode 0600, root:root). */
  path: string;
  /** The service that reads it, with suffix, e.g. `api.service`. */
  service: string;
}

/**
 * Installs a service's EnvironmentFile from stdin, then restarts the service if it is running: a
 * running service reads its environment only at start. A restart that fails fails the script, so
 * an environment that breaks the service fails the deploy.
 */
export function renderInstallEnvFileScript(spec: InstallEnvFileScriptSpec): string {
  const unit = shellQuote(unitFile("service", spec.service));
  return `${renderInstallFileScript({ path: spec.path, mode: "0600", owner: "root", group: "root" })}if systemctl is-active --quiet ${unit}; then
  systemctl restart ${unit}
fi
`;
}

// Shared by install and remove: one nginx config change at a time on a host.
function nginxLock(): string {
  return `mkdir -p ${LOCK_DIR}
exec 9>${LOCK_DIR}/berth-nginx.lock
flock -w 300 9`;
}

/**
 * The `reload_nginx` shell function (with its helper `nginx_workers`), for every berth script that
 * reloads nginx: the site install and remove scripts and certbot's deploy hook. Bash.
 *
 * `systemctl reload nginx` returns once the master has the signal. The master then reads the
 * configuration, starts a new worker generation, sleeps 100 ms, and only then tells the old workers
 * to quit. Until each old worker has taken that signal it keeps accepting connections, and every
 * request it accepted, before or after, is served with the old configuration: the old upstream. The
 * first sight of a new worker comes before all of that ends, at least 100 ms before on an idle host
 * and longer on a busy one, and a release stopped then (as Pulumi stops the old one right after the
 * switch) fails whatever the old workers still send it with 502. So the function returns only when a
 * new generation runs and every worker from before the reload has exited; after that nothing can
 * reach the old release through nginx, idle upstream keepalive connections included (they belong to
 * the old workers and close with them).
 *
 * The wait is bounded at 30 s. A worker still there by then has long stopped accepting; it holds
 * long-lived connections (a websocket, a slow download) that no wait would see finish, and that
 * end with the old release whatever nginx does, so the function says so on stderr and succeeds
 * rather than fail every deploy of an app with open websockets. /proc is read directly: a minimal
 * host may lack procps.
 */
export function renderNginxReloadFunction(): string {
  return `nginx_workers() {
  local master=$1 stat pid ppid rest
  for stat in /proc/[0-9]*/stat; do
    # A process may exit between the glob and the read.
    read -r pid _ _ ppid rest 2>/dev/null < "$stat" || continue
    if [ "$ppid" = "$master" ]; then echo "$pid"; fi
  done
}
reload_nginx() {
  local master before pid state ppid left started=""
  master=$(systemctl show -p MainPID --value nginx)
  if [ -z "$master" ] || [ "$master" = 0 ]; then
    # Not run by systemd: nothing to watch, so no wait.
    systemctl reload nginx
    return 0
  fi
  before=" $(nginx_workers "$master" | tr '\\n' ' ') "
  systemctl reload nginx
  for _ in $(seq 1 100); do
    for pid in $(nginx_workers "$master"); do
      case "$before" in *" $pid "*) ;; *) started=1 ;; esac
    done
    if [ -n "$started" ]; then break; fi
    sleep 0.1
  done
  if [ -z "$started" ]; then
    echo "berth: nginx took the reload signal but started no new workers within 10 s" >&2
    return 1
  fi
  for _ in $(seq 1 300); do
    left=""
    for pid in $before; do
      # Gone, reaped (a zombie is gone too), or the pid reused by a process that is no worker of this master.
      read -r _ _ state ppid _ 2>/dev/null < "/proc/$pid/stat" || continue
      if [ "$state" != Z ] && [ "$ppid" = "$master" ]; then left="$left $pid"; fi
    done
    if [ -z "$left" ]; then return 0; fi
    sleep 0.1
  done
  echo "berth: nginx workers$left from before the reload still run after 30 s; they hold long-lived connections (websockets, slow downloads) to the previous configuration's upstream, which end when that release stops" >&2
  return 0
}`;
}

// Temp and backup files start with `.` and do not end in `.conf`: nginx's include globs (glob(3)) skip
// dotfiles, so neither `conf.d/*.conf` nor Debian's `sites-enabled/*` ever loads them.
function siteFile(spec: { siteName: unknown; confDir?: unknown }): { confDir: string; target: string; hidden: string } {
  const siteName = checkSiteName("siteName", spec.siteName);
  const confDir = spec.confDir === undefined ? DEFAULT_CONF_DIR : fsPath("confDir", spec.confDir);
  return { confDir, target: `${confDir}/berth-${siteName}.conf`, hidden: `${confDir}/.berth-${siteName}` };
}

/**
 * The catch-all of a port is `<confDir>/berth-default.<port>.conf`. The dot keeps it apart from every
 * site file, `berth-<site>.conf`: a site name has no dot.
 */
function defaultServerFile(port: number): string {
  return `berth-default.${port}.conf`;
}

/**
 * Shell functions that change a set of files in `$conf_dir` as one step: `put` and `take` keep what
 * they replace or remove, `rollback` undoes every change (last first, so a file changed twice ends as
 * it began), and the EXIT trap drops the kept copies. `sweep_defaults` takes away the catch-all of
 * every port no berth site file listens on any more. `$hidden` prefixes the temp files.
 */
function nginxFileFunctions(): string {
  return `placed=()
kept=()
new=""
cleanup() {
  local f
  for f in "\${kept[@]}"; do if [ -n "$f" ]; then rm -f "$f"; fi; done
  if [ -n "$new" ]; then rm -f "$new"; fi
}
trap cleanup EXIT
keep() {
  local copy=""
  if [ -e "$1" ]; then
    copy=$(mktemp "$hidden.old.XXXXXX")
    cp -p "$1" "$copy"
  fi
  placed+=("$1")
  kept+=("$copy")
}
put() {
  if [ -f "$2" ] && cmp -s "$1" "$2"; then
    rm -f "$1"
  else
    keep "$2"
    chmod 0644 "$1"
    mv -f "$1" "$2"
  fi
  new=""
}
take() {
  keep "$1"
  rm -f "$1"
}
rollback() {
  local i
  for ((i = \${#placed[@]} - 1; i >= 0; i--)); do
    if [ -n "\${kept[$i]}" ]; then
      mv -f "\${kept[$i]}" "\${placed[$i]}"
      kept[i]=""
    else
      rm -f "\${placed[$i]}"
    fi
  done
}
site_listens() {
  local f
  for f in "$conf_dir"/berth-*.conf; do
    case "\${f##*/}" in berth-default.*) continue ;; esac
    if [ -f "$f" ] && grep -Eq "^[[:space:]]*listen[[:space:]]+$1[[:space:];]" "$f"; then return 0; fi
  done
  return 1
}
sweep_defaults() {
  local f port
  for f in "$conf_dir"/berth-default.*.conf; do
    [ -e "$f" ] || continue
    port=\${f##*/berth-default.}
    port=\${port%.conf}
    case "$port" in '' | *[!0-9]*) continue ;; esac
    if ! site_listens "$port"; then
      take "$f"
      echo "berth: removed $f: no berth site listens on port $port any more"
    fi
  done
}`;
}

/**
 * Puts the vhost and its ports' catch-alls in place and reloads nginx, or leaves nginx exactly as
 * it was: under a lock, each file that changes is kept aside, `nginx -t` checks the whole config
 * with the new files, and on failure every file comes back as it was and the script exits 1 with
 * nginx's message, so the deploy fails while nginx keeps serving the old config.
 *
 * The catch-alls (see renderNginxDefaultServer) are shared: one file per port, written by every
 * site that listens on the port (the same text, so only the first writes it) and removed, by this
 * script or the remove script, once no berth site file listens on that port. One file per port
 * rather than one per site because nginx allows one `default_server` per address and port; one
 * per port rather than one for all ports so that adding or removing a site touches only its own
 * ports, whatever ports other sites use. A port whose default server is not berth's (Debian's
 * stock `sites-enabled/default` claims port 80) is left to that server: `nginx -t` names the
 * duplicate, berth's catch-all for that port is left out, and the script says so on stderr.
 */
export function renderInstallNginxSiteScript(spec: InstallNginxSiteScriptSpec): string {
  const { confDir, target, hidden } = siteFile(spec);
  const defaults = array<NginxDefaultServerSpec>("defaultServers", spec.defaultServers).map((d, i) => {
    const text = (() => {
      try {
        return renderNginxDefaultServer(d);
      } catch (e) {
        throw e instanceof RenderError ? new RenderError(`defaultServers[${i}].${e.field}`, e.reason) : e;
      }
    })();
    return { port: d.port, text };
  });
  defaults.forEach((d, i) => {
    if (defaults.findIndex((o) => o.port === d.port) !== i) throw new RenderError(`defaultServers[${i}].port`, `duplicates ${d.port}`);
  });
  const stage = (content: string, field: string, file: string) =>
    `new=$(mktemp ${shellQuote(`${hidden}.new.XXXXXX`)})\n${heredoc(field, content, "BERTH_NGINX_SITE_EOF", '"$new"')}\nput "$new" ${file}`;
  const parts = [
    `set -euo pipefail
conf_dir=${shellQuote(confDir)}
target=${shellQuote(target)}
hidden=${shellQuote(hidden)}
${nginxLock()}
mkdir -p "$conf_dir"
${nginxFileFunctions()}
${renderNginxReloadFunction()}
check_config() {
  local re='(a duplicate default server for 0\\.0\\.0\\.0:([0-9]+) in [^[:space:]]+)' own
  while ! out=$(nginx -t 2>&1); do
    if ! [[ "$out" =~ $re ]]; then return 1; fi
    own="$conf_dir/berth-default.\${BASH_REMATCH[2]}.conf"
    if [ ! -e "$own" ]; then return 1; fi
    take "$own"
    echo "berth: port \${BASH_REMATCH[2]} has another default server, so berth's catch-all is left out of it (nginx -t: \${BASH_REMATCH[1]})" >&2
  done
}`,
    stage(spec.content, "content", '"$target"'),
    ...defaults.map((d, i) => stage(d.text, `defaultServers[${i}]`, `"$conf_dir/"${shellQuote(defaultServerFile(d.port))}`)),
    `sweep_defaults
if [ "\${#placed[@]}" -eq 0 ]; then
  echo "berth: $target unchanged"
  if ! systemctl is-active --quiet nginx; then systemctl start nginx; fi
  exit 0
fi
if ! check_config; then
  rollback
  printf 'berth: nginx -t rejected %s; the previous configuration is back in place.\\n%s\\n' "$target" "$out" >&2
  exit 1
fi
if systemctl is-active --quiet nginx; then
  reload_nginx
else
  systemctl start nginx
fi
echo "berth: installed $target"
`,
  ];
  return parts.join("\n");
}

/**
 * Removes the site file, and the catch-all of each port no berth site listens on any more, checks
 * the config and reloads; succeeds if the file is already gone. With the last berth site on a port
 * its catch-all goes too, so a host without berth sites has no berth file in nginx's config, and a
 * port berth no longer uses is free for another default server.
 */
export function renderRemoveNginxSiteScript(spec: RemoveNginxSiteScriptSpec): string {
  const { confDir, target, hidden } = siteFile(spec);
  return `set -euo pipefail
conf_dir=${shellQuote(confDir)}
target=${shellQuote(target)}
hidden=${shellQuote(hidden)}
${nginxLock()}
${nginxFileFunctions()}
${renderNginxReloadFunction()}
if [ -e "$target" ]; then
  take "$target"
else
  echo "berth: $target already absent"
fi
sweep_defaults
if [ "\${#placed[@]}" -eq 0 ]; then exit 0; fi
if ! out=$(nginx -t 2>&1); then
  rollback
  printf 'berth: nginx -t fails without %s; it was put back.\\n%s\\n' "$target" "$out" >&2
  exit 1
fi
if systemctl is-active --quiet nginx; then
  reload_nginx
fi
echo "berth: removed $target"
`;
}

/**
 * Writes changed unit files (temp file + atomic `mv`), reloads systemd,
 * enables and starts `enable`, restarts the `restartOnChange` units whose
 * file changed, then fails if any `enable` unit is not active. The check
 * waits 2 s first so a service that crashes right after exec is caught.
 * Every failure (a start or restart systemctl refuses, or a unit not active)
 * exits 1 with the unit's `systemctl status` on stderr.
 */
export function renderInstallSystemdUnitsScript(spec: InstallSystemdUnitsScriptSpec): string {
  const units = array<UnitFile>("units", spec.units).map((u, i) => {
    if (typeof u !== "object" || u === null) throw new RenderError(`units[${i}]`, "must be an object with fileName and content");
    return { fileName: unitFile(`units[${i}].fileName`, u.fileName), content: u.content };
  });
  const names = units.map((u) => u.fileName);
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i) throw new RenderError(`units[${i}].fileName`, `duplicates ${show(n)}`);
  });
  const enable = array<unknown>("enable", spec.enable).map((u, i) => unitFile(`enable[${i}]`, u));
  const restart = array<unknown>("restartOnChange", spec.restartOnChange).map((u, i) => {
    const name = unitFile(`restartOnChange[${i}]`, u);
    if (!names.includes(name)) throw new RenderError(`restartOnChange[${i}]`, `must be one of the units' file names (${names.join(", ") || "none given"}), got ${show(name)}`);
    return name;
  });
  const parts: string[] = [
    `set -euo pipefail
unit_dir=${UNIT_DIR}
declare -A changed=()
tmp=""
trap 'if [ -n "$tmp" ]; then rm -f "$tmp"; fi' EXIT
install_unit() {
  local name=$1
  if [ -f "$unit_dir/$name" ] && cmp -s "$tmp" "$unit_dir/$name"; then
    rm -f "$tmp"
  else
    chmod 0644 "$tmp"
    mv -f "$tmp" "$unit_dir/$name"
    changed[$name]=1
    echo "berth: wrote $unit_dir/$name"
  fi
  tmp=""
}`,
  ];
  units.forEach((u, i) => {
    parts.push(`tmp=$(mktemp "$unit_dir/.berth-unit.XXXXXX")
${heredoc(`units[${i}].content`, u.content, "BERTH_UNIT_EOF", '"$tmp"')}
install_unit ${shellQuote(u.fileName)}`);
  });
  parts.push('echo "berth: ${#changed[@]} unit file(s) changed"');
  const starts = enable.length > 0 || restart.length > 0;
  if (starts) {
    // A start that fails outright (Type=exec and a missing binary, a bad User=) makes systemctl
    // exit non-zero with only "see systemctl status"; under `set -e` that was the script's last
    // word. Each failure is reported with the unit's status instead, once per unit.
    parts.push(`failed=0
declare -A reported=()
report() {
  failed=1
  if [ -n "\${reported[$1]:-}" ]; then return 0; fi
  reported[$1]=1
  echo "berth: $1 $2:" >&2
  systemctl status --no-pager --lines=20 "$1" >&2 || true
}`);
  }
  parts.push("systemctl daemon-reload");
  for (const u of enable) parts.push(`systemctl enable --now ${shellQuote(u)} || report ${shellQuote(u)} "failed to start (systemctl enable --now)"`);
  if (restart.length > 0) {
    parts.push(`restart_on_change=(${restart.map(shellQuote).join(" ")})
for unit in "\${restart_on_change[@]}"; do
  if [ -n "\${changed[$unit]:-}" ]; then
    systemctl restart "$unit" || report "$unit" "failed to restart"
  fi
done`);
  }
  if (enable.length > 0) {
    parts.push(`enabled=(${enable.map(shellQuote).join(" ")})
sleep 2
for unit in "\${enabled[@]}"; do
  if ! systemctl is-active --quiet "$unit"; then
    report "$unit" "is not active after enable --now"
  fi
done`);
  }
  if (starts) parts.push('exit "$failed"');
  return parts.join("\n") + "\n";
}

/** Stops, disables and deletes unit files; units that are missing or not loaded are skipped quietly. */
export function renderRemoveSystemdUnitsScript(spec: RemoveSystemdUnitsScriptSpec): string {
  const files = array<unknown>("fileNames", spec.fileNames).map((u, i) => unitFile(`fileNames[${i}]`, u));
  return `set -euo pipefail
unit_dir=${UNIT_DIR}
units=(${files.map(shellQuote).join(" ")})
for unit in "\${units[@]}"; do
  systemctl disable --now "$unit" 2>/dev/null || true
  rm -f "$unit_dir/$unit"
done
systemctl daemon-reload
for unit in "\${units[@]}"; do
  systemctl reset-failed "$unit" 2>/dev/null || true
done
`;
}
