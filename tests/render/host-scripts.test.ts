import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  renderCertbotDeployHook,
  renderCertbotScript,
  renderHostBootstrapScript,
  renderOriginCsrScript,
  renderSelfSignedScript,
  type CertbotSpec,
  type SelfSignedSpec,
} from "../../renderers/host-scripts";
import { renderNginxReloadFunction } from "../../renderers/remote-scripts";
import { PATH, requireBinaries, run, tempDir } from "./helpers";
import { expectRejection, shapeProperty, type FieldCase } from "./script-properties";

beforeAll(() => requireBinaries("host-scripts", ["bash", "sh", "openssl", "shellcheck"]));

const TLS = { certificatePath: "/etc/berth/shop/tls/fullchain.pem", keyPath: "/etc/berth/shop/tls/privkey.pem" };
const SELF_SIGNED_SPEC: SelfSignedSpec = { ...TLS, hostnames: ["example.com", "*.example.com"], validityDays: 365, onlyIfMissing: false };
const CERTBOT_SPEC: CertbotSpec = {
  siteName: "shop",
  hostnames: ["example.com", "www.example.com"],
  email: "ops@example.com",
  acmeServer: "https://acme-v02.api.letsencrypt.org/directory",
  webroot: "/var/www/berth-acme/shop",
  ...TLS,
};

const BOOTSTRAP_INSTALL = `set -euo pipefail
missing=()
for pair in curl:curl docker:docker.io; do
  command -v "\${pair%%:*}" >/dev/null 2>&1 || missing+=("\${pair#*:}")
done
if [ "\${#missing[@]}" -gt 0 ]; then
  echo "berth: installing \${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "\${missing[@]}" >/dev/null
fi
install -d -m 0750 '/etc/berth/shop' '/etc/berth/shop/tls' '/var/lib/berth/shop'
install -d -m 0755 '/var/www/berth-acme/shop'
systemctl enable --now nginx >/dev/null 2>&1 || systemctl start nginx
systemctl is-active --quiet nginx
echo "berth: host ready"
`;

const BOOTSTRAP_CHECK = `set -euo pipefail
missing=()
for pair in certbot:certbot; do
  command -v "\${pair%%:*}" >/dev/null 2>&1 || missing+=("\${pair#*:}")
done
if [ "\${#missing[@]}" -gt 0 ]; then
  echo "berth: the host lacks \${missing[*]}; install them or set berth:host.installPackages: true" >&2
  exit 1
fi
install -d -m 0750 '/etc/berth/shop' '/etc/berth/shop/tls' '/var/lib/berth/shop'
install -d -m 0755 '/var/www/berth-acme/shop'
systemctl enable --now nginx >/dev/null 2>&1 || systemctl start nginx
systemctl is-active --quiet nginx
echo "berth: host ready"
`;

const SELF_SIGNED = `set -euo pipefail
[ -s '/etc/berth/shop/tls/fullchain.pem' ] && [ -s '/etc/berth/shop/tls/privkey.pem' ] && [ "$(cat '/etc/berth/shop/tls/fullchain.pem.names' 2>/dev/null)" = 'DNS:example.com,DNS:*.example.com' ] && { echo "berth: certificate current"; exit 0; }
d=$(dirname '/etc/berth/shop/tls/fullchain.pem'); [ -d "$d" ] || install -d -m 0750 "$d"
d=$(dirname '/etc/berth/shop/tls/privkey.pem'); [ -d "$d" ] || install -d -m 0750 "$d"
tmp=$(mktemp -d "$(dirname '/etc/berth/shop/tls/privkey.pem')/.selfsigned.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 365 -subj '/CN=example.com' -addext 'subjectAltName=DNS:example.com,DNS:*.example.com' -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/openssl.log" || { cat "$tmp/openssl.log" >&2; exit 1; }
chmod 0644 "$tmp/cert.pem"
mv -f "$tmp/key.pem" '/etc/berth/shop/tls/privkey.pem'
mv -f "$tmp/cert.pem" '/etc/berth/shop/tls/fullchain.pem'
printf '%s' 'DNS:example.com,DNS:*.example.com' > '/etc/berth/shop/tls/fullchain.pem.names'
systemctl reload nginx 2>/dev/null || true
echo "berth: self-signed certificate for DNS:example.com,DNS:*.example.com"
`;

const PLACEHOLDER = `set -euo pipefail
[ -s '/etc/berth/shop/tls/fullchain.pem' ] && [ -s '/etc/berth/shop/tls/privkey.pem' ] && { echo "berth: certificate present"; exit 0; }
d=$(dirname '/etc/berth/shop/tls/fullchain.pem'); [ -d "$d" ] || install -d -m 0750 "$d"
d=$(dirname '/etc/berth/shop/tls/privkey.pem'); [ -d "$d" ] || install -d -m 0750 "$d"
tmp=$(mktemp -d "$(dirname '/etc/berth/shop/tls/privkey.pem')/.selfsigned.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 7 -subj '/CN=wildcard.example.com' -addext 'subjectAltName=DNS:*.example.com' -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/openssl.log" || { cat "$tmp/openssl.log" >&2; exit 1; }
chmod 0644 "$tmp/cert.pem"
mv -f "$tmp/key.pem" '/etc/berth/shop/tls/privkey.pem'
mv -f "$tmp/cert.pem" '/etc/berth/shop/tls/fullchain.pem'
printf '%s' 'DNS:*.example.com' > '/etc/berth/shop/tls/fullchain.pem.names'
systemctl reload nginx 2>/dev/null || true
echo "berth: self-signed certificate for DNS:*.example.com"
`;

const ORIGIN_CSR = `set -euo pipefail
d=$(dirname '/etc/berth/shop/tls/privkey.pem'); [ -d "$d" ] || install -d -m 0750 "$d"
if [ ! -s '/etc/berth/shop/tls/privkey.pem' ]; then rm -f '/etc/berth/shop/tls/privkey.pem.new'; if ! out=$(umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '/etc/berth/shop/tls/privkey.pem.new' 2>&1); then echo "$out" >&2; exit 1; fi; mv -f '/etc/berth/shop/tls/privkey.pem.new' '/etc/berth/shop/tls/privkey.pem'; fi
openssl req -new -sha256 -key '/etc/berth/shop/tls/privkey.pem' -subj '/CN=example.com' -addext 'subjectAltName=DNS:example.com,DNS:www.example.com'
`;

// The reload is the one the nginx site scripts use (their exact text is in remote-scripts.test.ts).
const DEPLOY_HOOK = `#!/bin/bash
# Installed by berth: copies a renewed certificate to where nginx reads it, then reloads nginx.
set -euo pipefail
install -m 0644 "$RENEWED_LINEAGE/fullchain.pem" '/etc/berth/shop/tls/fullchain.pem'
install -m 0600 "$RENEWED_LINEAGE/privkey.pem" '/etc/berth/shop/tls/privkey.pem'
rm -f '/etc/berth/shop/tls/fullchain.pem.names'
${renderNginxReloadFunction()}
reload_nginx
`;

const CERTBOT = `set -euo pipefail
cat > '/etc/berth/shop/certbot-deploy-hook.new' <<'BERTH_HOOK_EOF'
${DEPLOY_HOOK}BERTH_HOOK_EOF
chmod 0755 '/etc/berth/shop/certbot-deploy-hook.new' && mv -f '/etc/berth/shop/certbot-deploy-hook.new' '/etc/berth/shop/certbot-deploy-hook'
certbot certonly --non-interactive --agree-tos --email 'ops@example.com' --server 'https://acme-v02.api.letsencrypt.org/directory' --webroot -w '/var/www/berth-acme/shop' --cert-name 'berth-shop' --keep-until-expiring --expand --deploy-hook '/etc/berth/shop/certbot-deploy-hook' -d 'example.com' -d 'www.example.com'
live=/etc/letsencrypt/live/'berth-shop'
if ! cmp -s "$live/fullchain.pem" '/etc/berth/shop/tls/fullchain.pem'; then RENEWED_LINEAGE="$live" '/etc/berth/shop/certbot-deploy-hook'; fi
openssl x509 -noout -issuer -enddate -in '/etc/berth/shop/tls/fullchain.pem'
`;

describe("host scripts: exact output", () => {
  it.each([
    ["bootstrap, installing packages", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "curl", package: "curl" }, { command: "docker", package: "docker.io" }], installPackages: true }), BOOTSTRAP_INSTALL],
    ["bootstrap, checking only", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "certbot", package: "certbot" }], installPackages: false }), BOOTSTRAP_CHECK],
    ["self-signed", () => renderSelfSignedScript(SELF_SIGNED_SPEC), SELF_SIGNED],
    ["self-signed placeholder (onlyIfMissing, wildcard CN)", () => renderSelfSignedScript({ ...TLS, hostnames: ["*.example.com"], validityDays: 7, onlyIfMissing: true }), PLACEHOLDER],
    ["origin CSR", () => renderOriginCsrScript({ keyPath: TLS.keyPath, hostnames: ["example.com", "www.example.com"] }), ORIGIN_CSR],
    ["certbot deploy hook", () => renderCertbotDeployHook(TLS), DEPLOY_HOOK],
    ["certbot", () => renderCertbotScript(CERTBOT_SPEC), CERTBOT],
  ] as [string, () => string, string][])("%s", (_name, render, expected) => {
    expect(render()).toBe(expected);
  });

  it("certbot: a CA bundle goes to REQUESTS_CA_BUNDLE on the certbot line only", () => {
    const script = renderCertbotScript({ ...CERTBOT_SPEC, acmeCaBundle: "/etc/berth/pebble-ca.pem" });
    expect(script).toBe(CERTBOT.replace("\ncertbot certonly ", "\nREQUESTS_CA_BUNDLE='/etc/berth/pebble-ca.pem' certbot certonly "));
  });

  it("a bootstrap with no requirements loops over nothing", () => {
    expect(renderHostBootstrapScript({ siteName: "shop", requires: [], installPackages: true })).toContain("\nfor pair in ; do\n");
  });

  it.each([
    // X.509 caps a CN at 64 characters and openssl refuses a longer one; the SAN carries every name anyway.
    ["first name too long for a CN: the next one that fits", [`${"a".repeat(60)}.example.com`, "example.com"], "/CN=example.com"],
    ["no name fits: a fixed CN", [`${"a".repeat(60)}.example.com`], "/CN=berth"],
    ["wildcard spelled out", ["*.example.com", "example.com"], "/CN=wildcard.example.com"],
  ])("common name: %s", (_name, hostnames, subj) => {
    expect(renderSelfSignedScript({ ...SELF_SIGNED_SPEC, hostnames })).toContain(` -subj '${subj}' `);
    expect(renderOriginCsrScript({ keyPath: TLS.keyPath, hostnames })).toContain(` -subj '${subj}' `);
  });
});

const BAD_PATHS: [string, string][] = [
  ["relative", "etc/berth/cert.pem"],
  ["newline", "/etc/berth/cert.pem\n"],
  ["newline inside", "/etc/berth\nreboot"],
  [";", "/etc/berth/cert.pem;reboot"],
  ["$(...)", "/etc/berth/$(reboot).pem"],
  ["backquote", "/etc/berth/`id`.pem"],
  ["single quote", "/etc/berth/it's.pem"],
  ["double quote", '/etc/berth/"x".pem'],
  ["space", "/etc/berth/my cert.pem"],
  [".. segment", "/etc/berth/../shadow"],
  ["trailing ..", "/etc/berth/.."],
  ["empty", ""],
];
const BAD_HOSTS: [string, unknown][] = [
  ["uppercase", "Example.com"],
  ["space", "example .com"],
  ["trailing newline", "example.com\n"],
  [";", "example.com;reboot"],
  ["$(...)", "$(reboot).example.com"],
  ["quote", "exa'mple.com"],
  ["leading hyphen", "-example.com"],
  ["trailing hyphen label", "example-.com"],
  ["empty label", "example..com"],
  ["trailing dot", "example.com."],
  ["underscore", "my_host.example.com"],
  ["label over 63", `${"a".repeat(64)}.com`],
  ["name over 253", Array.from({ length: 5 }, () => "a".repeat(60)).join(".")],
  ["inner wildcard", "www.*.example.com"],
  ["double wildcard", "*.*.example.com"],
  ["IP with port", "127.0.0.1:443"],
  ["empty", ""],
  ["not a string", 42],
];

type Case = [string, () => unknown, string, RegExp];
const errorCases: Case[] = [
  ["bootstrap: site name with ..", () => renderHostBootstrapScript({ siteName: "../x", requires: [], installPackages: true }), "siteName", /must be a site name/],
  ["bootstrap: site name with space", () => renderHostBootstrapScript({ siteName: "my shop", requires: [], installPackages: true }), "siteName", /must be a site name/],
  ["bootstrap: command with ;", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "curl;reboot", package: "curl" }], installPackages: true }), "requires[0].command", /must be a command name/],
  ["bootstrap: command with $(...)", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "$(reboot)", package: "curl" }], installPackages: true }), "requires[0].command", /must be a command name/],
  ["bootstrap: command with :", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "a:b", package: "curl" }], installPackages: true }), "requires[0].command", /must be a command name/],
  ["bootstrap: package with space", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "curl", package: "curl" }, { command: "jq", package: "jq wget" }], installPackages: true }), "requires[1].package", /must be a Debian package name/],
  ["bootstrap: package with newline", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "curl", package: "curl\n" }], installPackages: true }), "requires[0].package", /must be a Debian package name/],
  ["bootstrap: package with quote", () => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "curl", package: "cu'rl" }], installPackages: true }), "requires[0].package", /must be a Debian package name/],
  ...BAD_PATHS.map(([name, p]): Case => [`self-signed: certificatePath ${name}`, () => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, certificatePath: p }), "certificatePath", /must (be an absolute path|not contain a "\.\." segment)/]),
  ...BAD_PATHS.map(([name, p]): Case => [`self-signed: keyPath ${name}`, () => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, keyPath: p }), "keyPath", /must (be an absolute path|not contain a "\.\." segment)/]),
  ...BAD_HOSTS.map(([name, h]): Case => [`self-signed: hostname ${name}`, () => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, hostnames: ["ok.example.com", h as string] }), "hostnames[1]", /must be a (string \(a )?(lowercase )?hostname/]),
  ["self-signed: no hostnames", () => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, hostnames: [] }), "hostnames", /must have at least 1 entry/],
  ["self-signed: validityDays 0", () => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, validityDays: 0 }), "validityDays", /must be an integer from 1 to 3650/],
  ["self-signed: validityDays 3651", () => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, validityDays: 3651 }), "validityDays", /must be an integer from 1 to 3650/],
  ["self-signed: validityDays 1.5", () => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, validityDays: 1.5 }), "validityDays", /must be an integer/],
  ...BAD_PATHS.map(([name, p]): Case => [`origin CSR: keyPath ${name}`, () => renderOriginCsrScript({ keyPath: p, hostnames: ["example.com"] }), "keyPath", /must (be an absolute path|not contain a "\.\." segment)/]),
  ...BAD_HOSTS.map(([name, h]): Case => [`origin CSR: hostname ${name}`, () => renderOriginCsrScript({ keyPath: TLS.keyPath, hostnames: [h as string] }), "hostnames[0]", /must be a (string \(a )?(lowercase )?hostname/]),
  ["deploy hook: certificatePath with quote", () => renderCertbotDeployHook({ ...TLS, certificatePath: "/etc/x'y" }), "certificatePath", /must be an absolute path/],
  ["deploy hook: keyPath with ..", () => renderCertbotDeployHook({ ...TLS, keyPath: "/etc/berth/../../root/key" }), "keyPath", /must not contain a "\.\." segment/],
  ["certbot: site name uppercase", () => renderCertbotScript({ ...CERTBOT_SPEC, siteName: "Shop" }), "siteName", /must be a site name/],
  ...BAD_HOSTS.map(([name, h]): Case => [`certbot: hostname ${name}`, () => renderCertbotScript({ ...CERTBOT_SPEC, hostnames: [h as string] }), "hostnames[0]", /must be a (string \(a )?(lowercase )?hostname/]),
  ...(
    [
      ["no @", "ops.example.com"],
      ["space", "ops team@example.com"],
      ["newline", "ops@example.com\n"],
      [";", "ops@example.com;reboot"],
      ["$(...)", "$(reboot)@example.com"],
      ["quote", "o'ps@example.com"],
      ["two @", "ops@x@example.com"],
      ["empty local part", "@example.com"],
      ["empty", ""],
    ] as [string, string][]
  ).map(([name, email]): Case => [`certbot: email ${name}`, () => renderCertbotScript({ ...CERTBOT_SPEC, email }), "email", /must be an email address/]),
  ...(
    [
      ["http", "http://acme-v02.api.letsencrypt.org/directory"],
      ["no scheme", "acme-v02.api.letsencrypt.org/directory"],
      ["ftp", "ftp://acme.example.com/"],
      ["space", "https://acme.example.com/dir ectory"],
      ["query", "https://acme.example.com/dir?x=1"],
      ["$(...)", "https://acme.example.com/$(reboot)"],
      ["quote", "https://acme.example.com/'"],
      ["newline", "https://acme.example.com/directory\n"],
      ["user info", "https://user@acme.example.com/"],
    ] as [string, string][]
  ).map(([name, url]): Case => [`certbot: acmeServer ${name}`, () => renderCertbotScript({ ...CERTBOT_SPEC, acmeServer: url }), "acmeServer", /must be an https URL/]),
  ...BAD_PATHS.map(([name, p]): Case => [`certbot: webroot ${name}`, () => renderCertbotScript({ ...CERTBOT_SPEC, webroot: p }), "webroot", /must (be an absolute path|not contain a "\.\." segment)/]),
  ["certbot: acmeCaBundle relative", () => renderCertbotScript({ ...CERTBOT_SPEC, acmeCaBundle: "pebble.pem" }), "acmeCaBundle", /must be an absolute path/],
  ["certbot: acmeCaBundle with $(...)", () => renderCertbotScript({ ...CERTBOT_SPEC, acmeCaBundle: "/etc/$(reboot)" }), "acmeCaBundle", /must be an absolute path/],
  ["certbot: certificatePath with space", () => renderCertbotScript({ ...CERTBOT_SPEC, certificatePath: "/etc/a b" }), "certificatePath", /must be an absolute path/],
];

describe("host scripts: rejected values", () => {
  it.each(errorCases)("%s", (_name, render, field, reason) => expectRejection(render, field, reason));
});

// ---- properties: any string in an interpolated field is refused or leaves the script's shape alone ----


/** `bash -n` on every script, in one bash process. */
async function expectBashSyntax(scripts: string[], shell = "bash"): Promise<void> {
  const dir = tempDir("syntax");
  const files = [...new Set(scripts)].map((s, i) => {
    const f = join(dir, `${i}.sh`);
    writeFileSync(f, s);
    return f;
  });
  const r = await run("bash", ["-c", `for f in "$@"; do ${shell} -n "$f" 2>&1 || { echo "${shell} -n rejected $f:"; cat "$f"; }; done`, "bash", ...files]);
  expect(r.stdout + r.stderr).toBe("");
  expect(r.exitCode).toBe(0);
}

const PATH_ARB = fc.stringMatching(/^\/[A-Za-z0-9._-]{1,10}(\/[A-Za-z0-9._-]{1,10}){0,3}$/);
const HOST_ARB = fc.stringMatching(/^(\*\.)?[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,6}){0,3}$/);

const fieldCases: [string, FieldCase][] = [
  ["bootstrap requires[0].command", { render: (v) => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: v, package: "pkg" }], installPackages: true }), a: "curl", b: "jq", accepted: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,12}$/) }],
  ["bootstrap requires[0].package", { render: (v) => renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "cmd", package: v }], installPackages: false }), a: "curl", b: "docker.io", accepted: fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{1,12}$/) }],
  ["bootstrap siteName", { render: (v) => renderHostBootstrapScript({ siteName: v, requires: [], installPackages: true }), a: "shop", b: "blog-2", accepted: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/) }],
  ["self-signed certificatePath", { render: (v) => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, certificatePath: v }), a: "/etc/a/cert.pem", b: "/srv/c.pem", accepted: PATH_ARB }],
  ["self-signed keyPath", { render: (v) => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, keyPath: v }), a: "/etc/a/key.pem", b: "/srv/k.pem", accepted: PATH_ARB }],
  ["self-signed hostnames[0]", { render: (v) => renderSelfSignedScript({ ...SELF_SIGNED_SPEC, hostnames: [v, "example.org"] }), a: "example.com", b: "*.shop.example", accepted: HOST_ARB }],
  ["origin CSR keyPath", { render: (v) => renderOriginCsrScript({ keyPath: v, hostnames: ["example.com"] }), a: "/etc/a/key.pem", b: "/k", accepted: PATH_ARB }],
  ["origin CSR hostnames[0]", { render: (v) => renderOriginCsrScript({ keyPath: TLS.keyPath, hostnames: [v] }), a: "example.com", b: "*.shop.example", accepted: HOST_ARB }],
  ["certbot email", { render: (v) => renderCertbotScript({ ...CERTBOT_SPEC, email: v }), a: "ops@example.com", b: "x+y@z", accepted: fc.stringMatching(/^[A-Za-z0-9._%+-]{1,10}@[A-Za-z0-9.-]{1,10}$/) }],
  ["certbot acmeServer", { render: (v) => renderCertbotScript({ ...CERTBOT_SPEC, acmeServer: v }), a: "https://acme.example/dir", b: "https://127.0.0.1:14000/d", accepted: fc.stringMatching(/^https:\/\/[A-Za-z0-9.-]{1,10}(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]{0,10})?$/) }],
  ["certbot webroot", { render: (v) => renderCertbotScript({ ...CERTBOT_SPEC, webroot: v }), a: "/var/www/acme", b: "/w", accepted: PATH_ARB }],
  ["certbot hostnames[1]", { render: (v) => renderCertbotScript({ ...CERTBOT_SPEC, hostnames: ["example.com", v] }), a: "www.example.com", b: "shop.example", accepted: HOST_ARB }],
  ["certbot acmeCaBundle", { render: (v) => renderCertbotScript({ ...CERTBOT_SPEC, acmeCaBundle: v || "/x" }), a: "/etc/ca.pem", b: "/ca", accepted: PATH_ARB }],
  ["certbot certificatePath (also inside the hook heredoc)", { render: (v) => renderCertbotScript({ ...CERTBOT_SPEC, certificatePath: v }), a: "/etc/a/cert.pem", b: "/c", accepted: PATH_ARB }],
];

describe("host scripts: properties", () => {
  it.each(fieldCases)("property: %s is refused or only changes its own lines, and bash -n accepts the script", async (_name, c) => {
    await expectBashSyntax(shapeProperty(c));
  });

  it("property: the deploy hook stays a valid bash script for any accepted paths", async () => {
    const scripts = shapeProperty({ render: (v) => renderCertbotDeployHook({ certificatePath: v, keyPath: "/k" }), a: "/etc/a/cert.pem", b: "/c", accepted: PATH_ARB });
    await expectBashSyntax(scripts);
  });
});

// ---- shellcheck ----

/** [name, script, shellcheck codes excluded for it (each justified where it is listed)] */
function allScripts(): [string, string, string[]][] {
  return [
    ["bootstrap, installing", BOOTSTRAP_INSTALL, []],
    // SC2043 ("this loop will only ever run once") flags a likely quoting slip; here the loop is over the
    // rendered requirement list, which may hold a single pair. The list with two pairs above passes unexcluded.
    ["bootstrap, checking (one requirement)", BOOTSTRAP_CHECK, ["SC2043"]],
    ["bootstrap, no requirements", renderHostBootstrapScript({ siteName: "shop", requires: [], installPackages: true }), []],
    ["self-signed", SELF_SIGNED, []],
    ["self-signed placeholder", PLACEHOLDER, []],
    ["self-signed, cert and key in different directories", renderSelfSignedScript({ certificatePath: "/etc/ssl/certs/shop.pem", keyPath: "/etc/ssl/private/shop.key", hostnames: ["a.example"], validityDays: 30, onlyIfMissing: false }), []],
    ["origin CSR", ORIGIN_CSR, []],
    ["certbot deploy hook", DEPLOY_HOOK, []],
    ["certbot", CERTBOT, []],
    ["certbot with CA bundle", renderCertbotScript({ ...CERTBOT_SPEC, acmeCaBundle: "/etc/berth/pebble-ca.pem" }), []],
  ];
}

describe("host scripts: shellcheck", () => {
  it.each(allScripts())("shellcheck -s bash: %s", async (_name, script, excluded) => {
    const r = await run("shellcheck", ["-s", "bash", ...(excluded.length > 0 ? ["-e", excluded.join(",")] : []), "-"], { input: script });
    expect(r.exitCode, `shellcheck:\n${r.stdout}${r.stderr}`).toBe(0);
  });

  it("shellcheck: the deploy hook, with the shell its shebang names", async () => {
    expect(DEPLOY_HOOK.startsWith("#!/bin/bash\n")).toBe(true);
    const r = await run("shellcheck", ["-"], { input: DEPLOY_HOOK });
    expect(r.exitCode, `shellcheck:\n${r.stdout}${r.stderr}`).toBe(0);
  });
});

// ---- real runs in temp dirs ----

/** A PATH prefix with a `systemctl` that only logs its arguments, so the scripts never touch the machine's nginx. */
function fakeSystemctl() {
  const bin = tempDir("bin");
  const log = join(bin, "systemctl.log");
  writeFileSync(log, "");
  writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> '${log}'\nexit 0\n`);
  chmodSync(join(bin, "systemctl"), 0o755);
  const calls = () => {
    const c = readFileSync(log, "utf8").split("\n").filter(Boolean);
    writeFileSync(log, "");
    return c;
  };
  return { bin, calls, runScript: (script: string, extraPath = "") => run("bash", ["-c", script], { env: { PATH: `${extraPath}${bin}:${PATH}` } }) };
}

async function openssl(args: string[], input?: string): Promise<string> {
  const r = await run("openssl", args, { input });
  expect(r.exitCode, `openssl ${args.join(" ")}:\n${r.stderr}`).toBe(0);
  return r.stdout + r.stderr;
}
const sans = async (cert: string) => (await openssl(["x509", "-noout", "-ext", "subjectAltName", "-in", cert])).trim();
const subject = async (cert: string) => (await openssl(["x509", "-noout", "-subject", "-in", cert])).trim();
const fingerprint = async (cert: string) => (await openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", cert])).trim();
const mode = (p: string) => statSync(p).mode & 0o777;

describe("self-signed certificate: run for real in a temp dir", () => {
  const root = tempDir("selfsigned");

  it("creates, keeps a current one, regenerates on new hostnames, and never touches an existing directory's mode", async () => {
    const host = fakeSystemctl();
    const publicDir = join(root, "public");
    mkdirSync(publicDir, { mode: 0o755 });
    chmodSync(publicDir, 0o755);
    const spec: SelfSignedSpec = { certificatePath: join(publicDir, "fullchain.pem"), keyPath: join(root, "private", "tls", "privkey.pem"), hostnames: ["shop.example.test", "*.shop.example.test"], validityDays: 30, onlyIfMissing: false };

    let r = await host.runScript(renderSelfSignedScript(spec));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("berth: self-signed certificate for DNS:shop.example.test,DNS:*.shop.example.test");
    expect(await sans(spec.certificatePath)).toBe("X509v3 Subject Alternative Name: \n    DNS:shop.example.test, DNS:*.shop.example.test");
    expect(await subject(spec.certificatePath)).toBe("subject=CN = shop.example.test");
    expect(mode(spec.keyPath)).toBe(0o600);
    expect(mode(spec.certificatePath)).toBe(0o644);
    expect(mode(publicDir), "an existing directory keeps its mode").toBe(0o755);
    expect(mode(join(root, "private", "tls")), "a missing directory is made 0750").toBe(0o750);
    expect(readdirSync(join(root, "private", "tls")), "the temp dir is gone").toEqual(["privkey.pem"]);
    expect(readFileSync(`${spec.certificatePath}.names`, "utf8")).toBe("DNS:shop.example.test,DNS:*.shop.example.test");
    expect(host.calls()).toEqual(["reload nginx"]);
    // The key is the certificate's.
    expect(await openssl(["pkey", "-pubout", "-in", spec.keyPath])).toBe(await openssl(["x509", "-noout", "-pubkey", "-in", spec.certificatePath]));
    const first = await fingerprint(spec.certificatePath);

    r = await host.runScript(renderSelfSignedScript(spec));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("berth: certificate current");
    expect(await fingerprint(spec.certificatePath)).toBe(first);
    expect(host.calls()).toEqual([]);

    const renamed = { ...spec, hostnames: ["shop.example.test", "www.shop.example.test"] };
    r = await host.runScript(renderSelfSignedScript(renamed));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("berth: self-signed certificate for DNS:shop.example.test,DNS:www.shop.example.test");
    expect(await sans(spec.certificatePath)).toBe("X509v3 Subject Alternative Name: \n    DNS:shop.example.test, DNS:www.shop.example.test");
    const second = await fingerprint(spec.certificatePath);
    expect(second).not.toBe(first);
    expect(mode(spec.keyPath)).toBe(0o600);
    expect(host.calls()).toEqual(["reload nginx"]);

    // onlyIfMissing keeps whatever is there, even for other hostnames (the placeholder before certbot).
    r = await host.runScript(renderSelfSignedScript({ ...spec, hostnames: ["other.example.test"], onlyIfMissing: true }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("berth: certificate present");
    expect(await fingerprint(spec.certificatePath)).toBe(second);
    expect(host.calls()).toEqual([]);

    // A missing key means a new pair, also in onlyIfMissing mode.
    writeFileSync(spec.keyPath, "");
    r = await host.runScript(renderSelfSignedScript({ ...spec, onlyIfMissing: true }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await fingerprint(spec.certificatePath)).not.toBe(second);
    expect(mode(spec.keyPath)).toBe(0o600);
  });

  it("onlyIfMissing makes one when there is none; a name too long for a CN still gets a certificate", async () => {
    const host = fakeSystemctl();
    const dir = join(root, "placeholder");
    const long = `${"a".repeat(60)}.example.test`;
    const spec: SelfSignedSpec = { certificatePath: join(dir, "cert.pem"), keyPath: join(dir, "key.pem"), hostnames: [long, "*.example.test"], validityDays: 7, onlyIfMissing: true };
    const r = await host.runScript(renderSelfSignedScript(spec));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await sans(spec.certificatePath)).toBe(`X509v3 Subject Alternative Name: \n    DNS:${long}, DNS:*.example.test`);
    expect(await subject(spec.certificatePath)).toBe("subject=CN = wildcard.example.test");
    expect(mode(spec.keyPath)).toBe(0o600);
    const end = await openssl(["x509", "-noout", "-enddate", "-in", spec.certificatePath]);
    const days = (Date.parse(end.trim().replace("notAfter=", "")) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
  });

  it("an openssl failure fails the script with openssl's own message", async () => {
    const host = fakeSystemctl();
    const bad = tempDir("badopenssl");
    writeFileSync(join(bad, "openssl"), "#!/bin/sh\necho 'fake openssl: out of entropy' >&2\nexit 1\n");
    chmodSync(join(bad, "openssl"), 0o755);
    const dir = join(root, "failing");
    const r = await host.runScript(renderSelfSignedScript({ certificatePath: join(dir, "c.pem"), keyPath: join(dir, "k.pem"), hostnames: ["x.example"], validityDays: 1, onlyIfMissing: false }), `${bad}:`);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe("fake openssl: out of entropy");
    expect(readdirSync(dir)).toEqual([]);
    expect(host.calls()).toEqual([]);
  });
});

describe("origin CSR: run for real in a temp dir", () => {
  it("makes the key once with mode 600 and prints a verifying CSR with the SANs", async () => {
    const dir = join(tempDir("csr"), "tls");
    const keyPath = join(dir, "privkey.pem");
    const script = renderOriginCsrScript({ keyPath, hostnames: ["shop.example.test", "*.shop.example.test"] });

    let r = await run("bash", ["-c", script]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE REQUEST-----$/);
    expect(mode(keyPath)).toBe(0o600);
    expect(mode(dir)).toBe(0o750);
    expect(readdirSync(dir)).toEqual(["privkey.pem"]);
    const csr = r.stdout;
    expect(await openssl(["req", "-verify", "-noout"], csr)).toContain("verify OK");
    const text = await openssl(["req", "-noout", "-text"], csr);
    expect(text).toContain("Subject: CN = shop.example.test\n");
    expect(text).toMatch(/X509v3 Subject Alternative Name: *\n *DNS:shop\.example\.test, DNS:\*\.shop\.example\.test\n/);
    const pub = await openssl(["pkey", "-pubout", "-in", keyPath]);
    expect(await openssl(["req", "-noout", "-pubkey"], csr)).toBe(pub);

    // Second run: same key, a CSR for it.
    const key = readFileSync(keyPath, "utf8");
    r = await run("bash", ["-c", script]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(keyPath, "utf8")).toBe(key);
    expect(await openssl(["req", "-noout", "-pubkey"], r.stdout)).toBe(pub);
  });

  it("an openssl failure fails the script with openssl's own message and leaves no key", async () => {
    const bad = tempDir("badopenssl");
    writeFileSync(join(bad, "openssl"), "#!/bin/sh\necho '.....+++' >&2\necho 'fake openssl: no RSA today' >&2\nexit 1\n");
    chmodSync(join(bad, "openssl"), 0o755);
    const dir = tempDir("csr-fail");
    const keyPath = join(dir, "privkey.pem");
    const r = await run("bash", ["-c", renderOriginCsrScript({ keyPath, hostnames: ["x.example.test"] })], { env: { PATH: `${bad}:${PATH}` } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(".....+++\nfake openssl: no RSA today");
    expect(r.stdout).toBe("");
    expect(existsSync(keyPath)).toBe(false);
  });

  it("a stray world-readable .new file does not leak its mode to the key", async () => {
    const dir = tempDir("csr-stale");
    const keyPath = join(dir, "privkey.pem");
    writeFileSync(`${keyPath}.new`, "junk");
    chmodSync(`${keyPath}.new`, 0o644);
    const r = await run("bash", ["-c", renderOriginCsrScript({ keyPath, hostnames: ["x.example.test"] })]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(mode(keyPath)).toBe(0o600);
    expect(existsSync(`${keyPath}.new`)).toBe(false);
  });
});

describe("host bootstrap: the package block, run for real with a fake apt-get", () => {
  // Only the lines up to the end of the package block run: the rest makes directories under /etc and
  // /var and enables nginx, which the end-to-end layer does on its devhost.
  function packageBlock(installPackages: boolean) {
    const script = renderHostBootstrapScript({ siteName: "shop", requires: [{ command: "berth-test-no-such-command", package: "berth-test-pkg" }, { command: "bash", package: "bash" }], installPackages });
    const end = script.indexOf("\nfi\n") + "\nfi\n".length;
    expect(end).toBeGreaterThan(4);
    const bin = tempDir("apt");
    const log = join(bin, "apt-get.log");
    writeFileSync(log, "");
    writeFileSync(join(bin, "apt-get"), `#!/bin/sh\necho "$*" >> '${log}'\nif [ "$1" = update ] && [ -n "\${FAIL_UPDATE:-}" ]; then echo 'E: fake update failure' >&2; exit 100; fi\nexit 0\n`);
    chmodSync(join(bin, "apt-get"), 0o755);
    return {
      run: (env: Record<string, string> = {}) => run("bash", ["-c", `${script.slice(0, end)}echo "past the package block"\n`], { env: { PATH: `${bin}:${PATH}`, ...env } }),
      calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean),
    };
  }

  it("installs only the missing package", async () => {
    const block = packageBlock(true);
    const r = await block.run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe("berth: installing berth-test-pkg");
    expect(r.stdout).toBe("past the package block");
    expect(block.calls()).toEqual(["update -qq", "install -y -qq berth-test-pkg"]);
  });

  it("a failing apt-get update stops the script", async () => {
    const block = packageBlock(true);
    const r = await block.run({ FAIL_UPDATE: "1" });
    expect(r.exitCode).toBe(100);
    expect(r.stderr).toBe("berth: installing berth-test-pkg\nE: fake update failure");
    expect(r.stdout).toBe("");
    expect(block.calls()).toEqual(["update -qq"]);
  });

  it("without installPackages it names what is missing and stops", async () => {
    const block = packageBlock(false);
    const r = await block.run();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe("berth: the host lacks berth-test-pkg; install them or set berth:host.installPackages: true");
    expect(r.stdout).toBe("");
    expect(block.calls()).toEqual([]);
  });
});
