import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderNginxDefaultServer, renderNginxVhost } from "../../renderers/nginx-vhost";
import {
  RenderError,
  renderInstallFileScript,
  renderInstallNginxSiteScript,
  renderInstallSystemdUnitsScript,
  renderRemoveNginxSiteScript,
  renderRemoveSystemdUnitsScript,
} from "../../renderers/remote-scripts";
import { renderSystemdService, renderSystemdTimer } from "../../renderers/systemd-unit";
import { PATH, nginxPrefix, run, selfSignedCert, tempDir } from "./helpers";
import { api, backup, timer } from "./systemd-fixtures";

const INSTALL_FILE = `set -euo pipefail
target='/etc/berth/shop/app.env'
dir='/etc/berth/shop'
if [ ! -d "$dir" ]; then
  install -d -m 0750 "$dir"
fi
tmp=$(mktemp "$dir/.berth-install.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
chmod 0600 "$tmp"
chown 'root:berth' "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
`;

const REMOVE_UNITS = `set -euo pipefail
unit_dir=/etc/systemd/system
units=('berth-backup.timer' 'berth-backup.service')
for unit in "\${units[@]}"; do
  systemctl disable --now "$unit" 2>/dev/null || true
  rm -f "$unit_dir/$unit"
done
systemctl daemon-reload
for unit in "\${units[@]}"; do
  systemctl reset-failed "$unit" 2>/dev/null || true
done
`;

const INSTALL_UNITS = `set -euo pipefail
unit_dir=/etc/systemd/system
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
}
tmp=$(mktemp "$unit_dir/.berth-unit.XXXXXX")
cat >"$tmp" <<'BERTH_UNIT_EOF'
[Service]
ExecStart=/usr/bin/true
BERTH_UNIT_EOF
install_unit 'berth-backup.service'
tmp=$(mktemp "$unit_dir/.berth-unit.XXXXXX")
cat >"$tmp" <<'BERTH_UNIT_EOF'
[Timer]
OnCalendar=daily
BERTH_UNIT_EOF
install_unit 'berth-backup.timer'
echo "berth: \${#changed[@]} unit file(s) changed"
failed=0
declare -A reported=()
report() {
  failed=1
  if [ -n "\${reported[$1]:-}" ]; then return 0; fi
  reported[$1]=1
  echo "berth: $1 $2:" >&2
  systemctl status --no-pager --lines=20 "$1" >&2 || true
}
systemctl daemon-reload
systemctl enable --now 'berth-backup.timer' || report 'berth-backup.timer' "failed to start (systemctl enable --now)"
restart_on_change=('berth-backup.timer')
for unit in "\${restart_on_change[@]}"; do
  if [ -n "\${changed[$unit]:-}" ]; then
    systemctl restart "$unit" || report "$unit" "failed to restart"
  fi
done
enabled=('berth-backup.timer')
sleep 2
for unit in "\${enabled[@]}"; do
  if ! systemctl is-active --quiet "$unit"; then
    report "$unit" "is not active after enable --now"
  fi
done
exit "$failed"
`;

// The reload that waits for nginx's new workers and for the old ones to exit, shared by the install and
// remove scripts and certbot's deploy hook.
const RELOAD_NGINX = `nginx_workers() {
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
}
`;

// The file set changed as one step (put, take, rollback) and the sweep of catch-alls no site needs.
const NGINX_FILES = `placed=()
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
}
`;

const REMOVE_SITE = `set -euo pipefail
conf_dir='/etc/nginx/conf.d'
target='/etc/nginx/conf.d/berth-shop.conf'
hidden='/etc/nginx/conf.d/.berth-shop'
mkdir -p /run/lock
exec 9>/run/lock/berth-nginx.lock
flock -w 300 9
${NGINX_FILES}${RELOAD_NGINX}if [ -e "$target" ]; then
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

const INSTALL_SITE = `set -euo pipefail
conf_dir='/etc/nginx/conf.d'
target='/etc/nginx/conf.d/berth-shop.conf'
hidden='/etc/nginx/conf.d/.berth-shop'
mkdir -p /run/lock
exec 9>/run/lock/berth-nginx.lock
flock -w 300 9
mkdir -p "$conf_dir"
${NGINX_FILES}${RELOAD_NGINX}check_config() {
  local re='(a duplicate default server for 0\\.0\\.0\\.0:([0-9]+) in [^[:space:]]+)' own
  while ! out=$(nginx -t 2>&1); do
    if ! [[ "$out" =~ $re ]]; then return 1; fi
    own="$conf_dir/berth-default.\${BASH_REMATCH[2]}.conf"
    if [ ! -e "$own" ]; then return 1; fi
    take "$own"
    echo "berth: port \${BASH_REMATCH[2]} has another default server, so berth's catch-all is left out of it (nginx -t: \${BASH_REMATCH[1]})" >&2
  done
}
new=$(mktemp '/etc/nginx/conf.d/.berth-shop.new.XXXXXX')
cat >"$new" <<'BERTH_NGINX_SITE_EOF'
server {}
BERTH_NGINX_SITE_EOF
put "$new" "$target"
new=$(mktemp '/etc/nginx/conf.d/.berth-shop.new.XXXXXX')
cat >"$new" <<'BERTH_NGINX_SITE_EOF'
# berth: the default server of port 80, shared by every berth site that listens on it; it turns
# away every name no site serves. Generated by berth; removed with the last berth site on the port.
server {
    listen 80 default_server;
    return 444;
}
BERTH_NGINX_SITE_EOF
put "$new" "$conf_dir/"'berth-default.80.conf'
new=$(mktemp '/etc/nginx/conf.d/.berth-shop.new.XXXXXX')
cat >"$new" <<'BERTH_NGINX_SITE_EOF'
# berth: the default server of port 443, shared by every berth site that listens on it; it turns
# away every name no site serves. Generated by berth; removed with the last berth site on the port.
server {
    listen 443 ssl default_server;
    ssl_reject_handshake on;
    return 444;
}
BERTH_NGINX_SITE_EOF
put "$new" "$conf_dir/"'berth-default.443.conf'
sweep_defaults
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
`;


const unitsSpec = {
  units: [
    { fileName: "berth-backup.service", content: "[Service]\nExecStart=/usr/bin/true\n" },
    { fileName: "berth-backup.timer", content: "[Timer]\nOnCalendar=daily\n" },
  ],
  enable: ["berth-backup.timer"],
  restartOnChange: ["berth-backup.timer"],
};

describe("remote scripts: exact output", () => {
  it.each([
    ["install file", () => renderInstallFileScript({ path: "/etc/berth/shop/app.env", mode: "0600", owner: "root", group: "berth" }), INSTALL_FILE],
    ["remove nginx site", () => renderRemoveNginxSiteScript({ siteName: "shop" }), REMOVE_SITE],
    ["remove systemd units", () => renderRemoveSystemdUnitsScript({ fileNames: ["berth-backup.timer", "berth-backup.service"] }), REMOVE_UNITS],
    ["install systemd units", () => renderInstallSystemdUnitsScript(unitsSpec), INSTALL_UNITS],
    ["install nginx site", () => renderInstallNginxSiteScript({ siteName: "shop", content: "server {}\n", defaultServers: [{ port: 80, tls: false }, { port: 443, tls: true }] }), INSTALL_SITE],
  ] as [string, () => string, string][])("%s", (_name, render, expected) => {
    const script = render();
    expect(script).toBe(expected);
    expect(script.startsWith("set -euo pipefail\n")).toBe(true);
  });

  it("adds the missing final newline to heredoc content and honours confDir", () => {
    const script = renderInstallNginxSiteScript({ siteName: "shop", content: "server {}", defaultServers: [], confDir: "/etc/nginx/sites-enabled" });
    expect(script).toContain("<<'BERTH_NGINX_SITE_EOF'\nserver {}\nBERTH_NGINX_SITE_EOF\n");
    expect(script).toContain("target='/etc/nginx/sites-enabled/berth-shop.conf'\n");
  });
});

describe("remote scripts: rejected values", () => {
  it.each([
    ["install file: relative path", () => renderInstallFileScript({ path: "app.env", mode: "0600", owner: "root", group: "root" }), /^path: must be an absolute path/],
    ["install file: path with quote", () => renderInstallFileScript({ path: "/etc/a'b", mode: "0600", owner: "root", group: "root" }), /^path: /],
    ["install file: mode 8", () => renderInstallFileScript({ path: "/etc/a", mode: "0800", owner: "root", group: "root" }), /^mode: must be octal permission bits/],
    ["install file: mode with setuid", () => renderInstallFileScript({ path: "/etc/a", mode: "4755", owner: "root", group: "root" }), /^mode: /],
    ["install file: owner with ;", () => renderInstallFileScript({ path: "/etc/a", mode: "0600", owner: "root;reboot", group: "root" }), /^owner: must be a user\/group name/],
    ["install file: group with :", () => renderInstallFileScript({ path: "/etc/a", mode: "0600", owner: "root", group: "a:b" }), /^group: /],
    ["nginx site: bad site name", () => renderInstallNginxSiteScript({ siteName: "../x", content: "", defaultServers: [] }), /^siteName: must be a site name/],
    ["nginx site: confDir with space", () => renderInstallNginxSiteScript({ siteName: "x", content: "", defaultServers: [], confDir: "/etc/nginx conf" }), /^confDir: /],
    ["nginx site: content holding the delimiter", () => renderInstallNginxSiteScript({ siteName: "x", content: "a\nBERTH_NGINX_SITE_EOF\nrm -rf /\n", defaultServers: [] }), /^content: must not contain the heredoc delimiter BERTH_NGINX_SITE_EOF/],
    ["nginx site: content with NUL", () => renderInstallNginxSiteScript({ siteName: "x", content: "a\0", defaultServers: [] }), /^content: must not contain NUL/],
    ["nginx site: default server port with a command", () => renderInstallNginxSiteScript({ siteName: "x", content: "", defaultServers: [{ port: "80; reboot" as never, tls: false }] }), /^defaultServers\[0\]\.port: must be an integer from 1 to 65535/],
    ["nginx site: default server tls not a boolean", () => renderInstallNginxSiteScript({ siteName: "x", content: "", defaultServers: [{ port: 80, tls: false }, { port: 443, tls: 1 as never }] }), /^defaultServers\[1\]\.tls: must be true or false/],
    ["nginx site: the same default server port twice", () => renderInstallNginxSiteScript({ siteName: "x", content: "", defaultServers: [{ port: 80, tls: false }, { port: 80, tls: true }] }), /^defaultServers\[1\]\.port: duplicates 80/],
    ["nginx site: default servers not a list", () => renderInstallNginxSiteScript({ siteName: "x", content: "", defaultServers: undefined as never }), /^defaultServers: must be an array/],
    ["remove site: bad site name", () => renderRemoveNginxSiteScript({ siteName: "x y" }), /^siteName: /],
    ["units: file name without suffix", () => renderInstallSystemdUnitsScript({ units: [{ fileName: "backup", content: "" }], enable: [], restartOnChange: [] }), /^units\[0\]\.fileName: must be a unit file name/],
    ["units: duplicate file", () => renderInstallSystemdUnitsScript({ units: [{ fileName: "a.service", content: "" }, { fileName: "a.service", content: "" }], enable: [], restartOnChange: [] }), /^units\[1\]\.fileName: duplicates "a\.service"/],
    ["units: content holding the delimiter", () => renderInstallSystemdUnitsScript({ units: [{ fileName: "a.service", content: "BERTH_UNIT_EOF" }], enable: [], restartOnChange: [] }), /^units\[0\]\.content: must not contain the heredoc delimiter/],
    ["units: enable with $(...)", () => renderInstallSystemdUnitsScript({ units: [], enable: ["$(reboot).service"], restartOnChange: [] }), /^enable\[0\]: /],
    ["units: restartOnChange not among units", () => renderInstallSystemdUnitsScript({ units: [{ fileName: "a.service", content: "" }], enable: [], restartOnChange: ["b.service"] }), /^restartOnChange\[0\]: must be one of the units' file names \(a\.service\)/],
    ["remove units: name with space", () => renderRemoveSystemdUnitsScript({ fileNames: ["a.service b.service"] }), /^fileNames\[0\]: /],
  ] as [string, () => string, RegExp][])("%s", (_name, render, message) => {
    expect(render).toThrow(RenderError);
    expect(render).toThrow(message);
  });

  it("property: arbitrary heredoc content is refused or embedded verbatim between the delimiters", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.array(fc.constantFrom("BERTH_NGINX_SITE_EOF", "x", "'", "$(id)", "", "EOF"), { maxLength: 6 }).map((l) => l.join("\n"))), (content) => {
        let script: string;
        try {
          script = renderInstallNginxSiteScript({ siteName: "shop", content, defaultServers: [] });
        } catch (e) {
          expect(e).toBeInstanceOf(RenderError);
          return;
        }
        const start = script.indexOf("<<'BERTH_NGINX_SITE_EOF'\n") + "<<'BERTH_NGINX_SITE_EOF'\n".length;
        const end = script.indexOf("\nBERTH_NGINX_SITE_EOF\n", start - 1);
        const body = content.endsWith("\n") ? content : `${content}\n`;
        expect(script.slice(start, end + 1)).toBe(body);
      }),
      { numRuns: 200 },
    );
  });
});

/** Every script the components can produce, for shellcheck. */
function allScripts(): [string, string][] {
  const vhost = renderNginxVhost({
    siteName: "shop",
    serverNames: ["example.com"],
    listen: { http: 80, https: 443 },
    tls: { certificatePath: "/etc/berth/tls/fullchain.pem", keyPath: "/etc/berth/tls/privkey.pem" },
    acmeWebroot: "/var/lib/berth/acme",
    upstream: { host: "127.0.0.1", port: 3000 },
    staticRoot: "/srv/shop",
    proxiedPaths: ["/api"],
    clientMaxBodySize: "10m",
    gzip: true,
    hsts: null,
    maintenance: { enabled: true, healthPath: "/healthz" },
  });
  return [
    ["install file", renderInstallFileScript({ path: "/etc/berth/shop/app.env", mode: "600", owner: "berth", group: "berth" })],
    ["install file at /", renderInstallFileScript({ path: "/x", mode: "0644", owner: "root", group: "root" })],
    ["install nginx site (real vhost)", renderInstallNginxSiteScript({ siteName: "shop", content: vhost, defaultServers: [{ port: 80, tls: false }, { port: 443, tls: true }] })],
    ["install nginx site, no default servers", renderInstallNginxSiteScript({ siteName: "shop", content: vhost, defaultServers: [] })],
    ["remove nginx site", renderRemoveNginxSiteScript({ siteName: "shop", confDir: "/etc/nginx/sites-enabled" })],
    [
      "install systemd units (real units)",
      renderInstallSystemdUnitsScript({
        units: [
          { fileName: "berth-api.service", content: renderSystemdService(api) },
          { fileName: "berth-backup.service", content: renderSystemdService(backup) },
          { fileName: "berth-backup.timer", content: renderSystemdTimer(timer) },
        ],
        enable: ["berth-api.service", "berth-backup.timer"],
        restartOnChange: ["berth-api.service", "berth-backup.timer"],
      }),
    ],
    ["install systemd units, nothing to enable", renderInstallSystemdUnitsScript({ units: [{ fileName: "a.service", content: "" }], enable: [], restartOnChange: [] })],
    ["remove systemd units", renderRemoveSystemdUnitsScript({ fileNames: ["berth-backup.timer", "berth-backup.service", "berth-api.service"] })],
    ["remove no systemd units", renderRemoveSystemdUnitsScript({ fileNames: [] })],
  ];
}

describe("remote scripts: shellcheck", () => {
  it.each(allScripts())("shellcheck -s bash: %s", async (_name, script) => {
    const r = await run("shellcheck", ["-s", "bash", "-"], { input: script });
    expect(r.exitCode, `shellcheck:\n${r.stdout}${r.stderr}`).toBe(0);
  });
});

/**
 * A PATH prefix with fake `systemctl` (logs its arguments, reports nginx
 * active unless told otherwise) and an `nginx` that runs the real binary
 * against a throwaway prefix, so the install/remove scripts run for real
 * without touching the machine's nginx.
 */
function fakeHost(opts: { nginxActive: boolean }) {
  const n = nginxPrefix();
  const bin = tempDir("bin");
  const log = join(bin, "systemctl.log");
  writeFileSync(log, "");
  writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> '${log}'\nif [ "$1" = is-active ]; then exit ${opts.nginxActive ? 0 : 3}; fi\nexit 0\n`);
  writeFileSync(join(bin, "nginx"), `#!/bin/sh\nexec ${realNginx} ${n.args.map((a) => `'${a}'`).join(" ")} "$@"\n`);
  chmodSync(join(bin, "systemctl"), 0o755);
  chmodSync(join(bin, "nginx"), 0o755);
  const runScript = (script: string, input?: string) => run("bash", ["-c", script], { input, env: { PATH: `${bin}:${PATH}` } });
  const calls = () => readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
  return { ...n, runScript, calls, clearCalls: () => writeFileSync(log, "") };
}
const realNginx = "/usr/sbin/nginx";

describe("remote scripts: run for real against a throwaway nginx prefix", () => {
  const vhost = (siteName: string, logs: string) =>
    renderNginxVhost({
      siteName,
      serverNames: [`${siteName}.example.com`],
      listen: { http: 8080, https: 8443 },
      tls: null,
      acmeWebroot: null,
      upstream: { host: "127.0.0.1", port: 3000 },
      staticRoot: null,
      proxiedPaths: [],
      clientMaxBodySize: "1m",
      gzip: true,
      hsts: null,
      maintenance: { enabled: false, healthPath: "/healthz" },
      logDir: logs,
    });

  const plainDefault = [{ port: 8080, tls: false }];
  const install = (host: ReturnType<typeof fakeHost>, siteName: string, content: string, defaultServers = plainDefault) =>
    host.runScript(renderInstallNginxSiteScript({ siteName, content, defaultServers, confDir: host.sites }));
  const remove = (host: ReturnType<typeof fakeHost>, siteName: string) => host.runScript(renderRemoveNginxSiteScript({ siteName, confDir: host.sites }));
  const files = (host: ReturnType<typeof fakeHost>) => readdirSync(host.sites).sort();

  it("installs with the port's catch-all, keeps unchanged files, rolls back a broken one, removes both", async () => {
    expect(existsSync(realNginx), `${realNginx} missing`).toBe(true);
    const host = fakeHost({ nginxActive: true });
    const target = join(host.sites, "berth-shop.conf");
    const catchAll = join(host.sites, "berth-default.8080.conf");
    const good = vhost("shop", host.logs);

    let r = await install(host, "shop", good);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(target, "utf8")).toBe(good);
    expect(readFileSync(catchAll, "utf8")).toBe(renderNginxDefaultServer({ port: 8080, tls: false }));
    expect(statSync(target).mode & 0o777).toBe(0o644);
    expect(statSync(catchAll).mode & 0o777).toBe(0o644);
    expect(host.calls()).toEqual(["is-active --quiet nginx", "show -p MainPID --value nginx", "reload nginx"]);

    host.clearCalls();
    r = await install(host, "shop", good);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("unchanged");
    expect(host.calls()).toEqual(["is-active --quiet nginx"]);

    host.clearCalls();
    const broken = good.replace("gzip on;", "gzip maybe;");
    r = await install(host, "shop", broken);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/nginx -t rejected .*berth-shop\.conf; the previous configuration is back in place\.\n.*gzip/s);
    expect(readFileSync(target, "utf8")).toBe(good);
    expect(host.calls()).toEqual([]);
    expect(files(host)).toEqual(["berth-default.8080.conf", "berth-shop.conf"]);

    r = await remove(host, "shop");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`berth: removed ${catchAll}: no berth site listens on port 8080 any more`);
    expect(files(host)).toEqual([]);
    expect(host.calls()).toEqual(["is-active --quiet nginx", "show -p MainPID --value nginx", "reload nginx"]);
    r = await remove(host, "shop");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("already absent");
    expect(files(host)).toEqual([]);
  });

  it("a broken first install leaves no file, catch-all included; an inactive nginx is started, not reloaded", async () => {
    const host = fakeHost({ nginxActive: false });
    const target = join(host.sites, "berth-blog.conf");
    let r = await install(host, "blog", "server { listen nope; }\n");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/listen/);
    expect(files(host)).toEqual([]);

    r = await install(host, "blog", vhost("blog", host.logs));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(target)).toBe(true);
    expect(host.calls()).toEqual(["is-active --quiet nginx", "start nginx"]);
  });

  it("sites on the same port share its catch-all: it stays while one of them listens there, and follows a port change", async () => {
    const host = fakeHost({ nginxActive: true });
    for (const site of ["shop", "blog"]) expect((await install(host, site, vhost(site, host.logs))).exitCode).toBe(0);
    expect(files(host)).toEqual(["berth-blog.conf", "berth-default.8080.conf", "berth-shop.conf"]);

    let r = await remove(host, "shop");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(files(host)).toEqual(["berth-blog.conf", "berth-default.8080.conf"]);

    // The last site moves to 9080: the new port gets a catch-all, the old one's goes with the same install.
    r = await install(host, "blog", vhost("blog", host.logs).replace("listen 8080;", "listen 9080;"), [{ port: 9080, tls: false }]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("no berth site listens on port 8080 any more");
    expect(files(host)).toEqual(["berth-blog.conf", "berth-default.9080.conf"]);
    expect((await host.runScript(`${realNginx} -t ${host.args.map((a) => `'${a}'`).join(" ")}`)).exitCode).toBe(0);
  });

  it("a port whose default server is someone else's keeps it: berth's catch-all is left out there, with a message", async () => {
    const host = fakeHost({ nginxActive: true });
    // What Debian's stock sites-enabled/default does for port 80.
    writeFileSync(join(host.sites, "zz-operator.conf"), "server {\n    listen 8080 default_server;\n    return 404;\n}\n");
    const { cert, key } = await selfSignedCert();
    const tlsVhost = vhost("shop", host.logs).replace("server_tokens off;", `server_tokens off;\n    listen 8443 ssl;\n    ssl_certificate ${cert};\n    ssl_certificate_key ${key};`);
    const defaults = [{ port: 8080, tls: false }, { port: 8443, tls: true }];
    for (let i = 0; i < 2; i++) {
      const r = await install(host, "shop", tlsVhost, defaults);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^berth: port 8080 has another default server, so berth's catch-all is left out of it \(nginx -t: a duplicate default server for 0\.0\.0\.0:8080 in \S+:2\)$/);
      expect(files(host)).toEqual(["berth-default.8443.conf", "berth-shop.conf", "zz-operator.conf"]);
    }
    // Any other failure still rolls everything back.
    const r = await install(host, "shop", tlsVhost.replace("gzip on;", "gzip maybe;"), defaults);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("the previous configuration is back in place");
    expect(files(host)).toEqual(["berth-default.8443.conf", "berth-shop.conf", "zz-operator.conf"]);
    expect(readFileSync(join(host.sites, "berth-shop.conf"), "utf8")).toBe(tlsVhost);
  });

  it("install file: stdin lands atomically with mode, owner and a 0750 parent directory", async () => {
    const dir = join(tempDir("install"), "new", "sub");
    const path = join(dir, "app.env");
    const secret = "DATABASE_URL=\"postgres://u:p'$x@h/db\"\n";
    const script = renderInstallFileScript({ path, mode: "0640", owner: "root", group: "root" });
    expect(script).not.toContain("postgres");
    mkdirSync(join(dir, ".."), { recursive: true });
    let r = await run("bash", ["-c", script], { input: secret });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(secret);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(statSync(dir).mode & 0o777).toBe(0o750);
    r = await run("bash", ["-c", script], { input: "second\n" });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(path, "utf8")).toBe("second\n");
    expect(readdirSync(dir)).toEqual(["app.env"]);
  });
});

describe("remote scripts: systemd units installed into a bind-mounted /etc/systemd/system", () => {
  // A private mount namespace puts a temp dir over /etc/systemd/system, and a fake systemctl records calls,
  // so the script's real file handling runs without touching the machine's units (needs root / CAP_SYS_ADMIN).
  function unitHost() {
    const unitDir = tempDir("systemd");
    const bin = tempDir("bin");
    const log = join(bin, "systemctl.log");
    writeFileSync(log, "");
    writeFileSync(
      join(bin, "systemctl"),
      `#!/bin/sh\necho "$*" >> '${log}'\nif [ "$1" = is-active ] && [ -n "\${FAKE_INACTIVE:-}" ]; then exit 3; fi\nif [ "$1" = enable ] && [ -n "\${FAKE_START_FAILS:-}" ]; then exit 1; fi\nexit 0\n`,
    );
    chmodSync(join(bin, "systemctl"), 0o755);
    const runScript = (script: string, env: Record<string, string> = {}) =>
      run("unshare", ["--mount", "--propagation", "private", "bash", "-c", `mount --bind '${unitDir}' /etc/systemd/system && exec bash -c "$0"`, script], {
        env: { PATH: `${bin}:${PATH}`, ...env },
      });
    const calls = () => {
      const c = readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
      writeFileSync(log, "");
      return c;
    };
    return { unitDir, runScript, calls };
  }

  it("writes changed units only, restarts on change, checks activity, removes", async () => {
    const host = unitHost();
    const script = renderInstallSystemdUnitsScript(unitsSpec);
    let r = await host.runScript(script);
    expect(r.exitCode, `${r.stderr}\n(unshare --mount needs root or CAP_SYS_ADMIN)`).toBe(0);
    expect(r.stdout).toContain("berth: 2 unit file(s) changed");
    expect(readFileSync(join(host.unitDir, "berth-backup.timer"), "utf8")).toBe("[Timer]\nOnCalendar=daily\n");
    expect(statSync(join(host.unitDir, "berth-backup.service")).mode & 0o777).toBe(0o644);
    expect(host.calls()).toEqual(["daemon-reload", "enable --now berth-backup.timer", "restart berth-backup.timer", "is-active --quiet berth-backup.timer"]);

    r = await host.runScript(script);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("berth: 0 unit file(s) changed");
    expect(host.calls()).toEqual(["daemon-reload", "enable --now berth-backup.timer", "is-active --quiet berth-backup.timer"]);

    r = await host.runScript(script, { FAKE_INACTIVE: "1" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("berth: berth-backup.timer is not active after enable --now");
    host.calls();

    // A start systemctl refuses is reported with the status too (once), instead of `set -e` ending the script.
    r = await host.runScript(script, { FAKE_START_FAILS: "1", FAKE_INACTIVE: "1" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("berth: berth-backup.timer failed to start (systemctl enable --now):");
    expect(r.stderr).not.toContain("is not active");
    expect(host.calls()).toEqual([
      "daemon-reload",
      "enable --now berth-backup.timer",
      "status --no-pager --lines=20 berth-backup.timer",
      "is-active --quiet berth-backup.timer",
    ]);

    r = await host.runScript(renderRemoveSystemdUnitsScript({ fileNames: ["berth-backup.timer", "berth-backup.service"] }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(host.unitDir)).toEqual([]);
    expect(host.calls()).toEqual([
      "disable --now berth-backup.timer",
      "disable --now berth-backup.service",
      "daemon-reload",
      "reset-failed berth-backup.timer",
      "reset-failed berth-backup.service",
    ]);
  });
});
