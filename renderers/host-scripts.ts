/**
 * Bash scripts that prepare a host and its TLS material. Pure: spec in, script text out. They run
 * as root over SSH, are idempotent, and never carry a secret in their text (secrets come on stdin,
 * and private keys are made on the host and never leave it).
 */
import { checkSiteName } from "./nginx-vhost";
import { renderNginxReloadFunction } from "./remote-scripts";
import { shellQuote } from "./shell";
import type { SystemdServiceSpec, SystemdTimerSpec } from "./systemd-unit";
import { RenderError, array, fsPath, intInRange, matchString, show } from "./validate";

export { RenderError } from "./validate";

const PACKAGE = /^[a-z0-9][a-z0-9+.-]{1,62}$/;
const COMMAND = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const HOST = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$/;
const HTTPS_URL = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:\/[A-Za-z0-9._~/-]*)?$/;

function hostnames(field: string, value: unknown): string[] {
  return array<string>(field, value, 1).map((h, i) => {
    matchString(`${field}[${i}]`, h, HOST, "a lowercase hostname");
    if (h.length > 253) throw new RenderError(`${field}[${i}]`, `must be a hostname of at most 253 characters, got ${show(h)}`);
    return h;
  });
}

/**
 * The subject CN: the first hostname that fits the 64 characters X.509 allows a CN (openssl refuses
 * a longer one), `*.` spelled `wildcard.`. Clients match the SAN, so a fallback CN is harmless.
 */
function commonName(names: string[]): string {
  return names.map((h) => h.replace(/^\*\./, "wildcard.")).find((cn) => cn.length <= 64) ?? "berth";
}

/** One line per path: creates its directory when missing; an existing one (say /etc/ssl/certs) keeps its mode. */
function ensureDirs(paths: string[]): string {
  return paths.map((p) => `d=$(dirname ${shellQuote(p)}); [ -d "$d" ] || install -d -m 0750 "$d"`).join("\n");
}

/** The directories berth owns on a host, per site. */
export function siteDirs(site: string) {
  checkSiteName("siteName", site);
  return {
    config: `/etc/berth/${site}`,
    tls: `/etc/berth/${site}/tls`,
    data: `/var/lib/berth/${site}`,
    acmeWebroot: `/var/www/berth-acme/${site}`,
  };
}

export interface HostBootstrapSpec {
  siteName: string;
  /** Commands the site needs, each with the Debian package that provides it. */
  requires: Array<{ command: string; package: string }>;
  /** Install missing packages with apt-get; otherwise fail naming them. */
  installPackages: boolean;
}

export function renderHostBootstrapScript(spec: HostBootstrapSpec): string {
  const dirs = siteDirs(spec.siteName);
  const pairs = spec.requires.map(({ command, package: pkg }, i) => {
    matchString(`requires[${i}].command`, command, COMMAND, "a command name");
    matchString(`requires[${i}].package`, pkg, PACKAGE, "a Debian package name");
    return `${command}:${pkg}`;
  });
  return [
    "set -euo pipefail",
    "missing=()",
    `for pair in ${pairs.join(" ")}; do`,
    '  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")',
    "done",
    'if [ "${#missing[@]}" -gt 0 ]; then',
    spec.installPackages
      ? '  echo "berth: installing ${missing[*]}" >&2\n  export DEBIAN_FRONTEND=noninteractive\n  apt-get update -qq\n  apt-get install -y -qq "${missing[@]}" >/dev/null'
      : '  echo "berth: the host lacks ${missing[*]}; install them or set berth:host.installPackages: true" >&2\n  exit 1',
    "fi",
    `install -d -m 0750 ${shellQuote(dirs.config)} ${shellQuote(dirs.tls)} ${shellQuote(dirs.data)}`,
    `install -d -m 0755 ${shellQuote(dirs.acmeWebroot)}`,
    // nginx is the front door: it must be enabled so a reboot brings the site back.
    "systemctl enable --now nginx >/dev/null 2>&1 || systemctl start nginx",
    "systemctl is-active --quiet nginx",
    'echo "berth: host ready"',
    "",
  ].join("\n");
}

export interface SelfSignedSpec {
  certificatePath: string;
  keyPath: string;
  hostnames: string[];
  validityDays: number;
  /** Only make one when none exists: a placeholder that lets nginx start before certbot has run. */
  onlyIfMissing: boolean;
}

/**
 * A self-signed certificate for the hostnames. Regenerated when the hostnames change (recorded in a
 * sidecar file), else left alone so repeated runs keep the same certificate.
 */
export function renderSelfSignedScript(spec: SelfSignedSpec): string {
  const cert = fsPath("certificatePath", spec.certificatePath);
  const key = fsPath("keyPath", spec.keyPath);
  const names = hostnames("hostnames", spec.hostnames);
  const days = intInRange("validityDays", spec.validityDays, 1, 3650);
  const san = names.map((h) => `DNS:${h}`).join(",");
  const cn = commonName(names);
  const guard = spec.onlyIfMissing
    ? `[ -s ${shellQuote(cert)} ] && [ -s ${shellQuote(key)} ] && { echo "berth: certificate present"; exit 0; }`
    : `[ -s ${shellQuote(cert)} ] && [ -s ${shellQuote(key)} ] && [ "$(cat ${shellQuote(cert + ".names")} 2>/dev/null)" = ${shellQuote(san)} ] && { echo "berth: certificate current"; exit 0; }`;
  return [
    "set -euo pipefail",
    guard,
    ensureDirs([cert, key]),
    `tmp=$(mktemp -d "$(dirname ${shellQuote(key)})/.selfsigned.XXXXXX")`,
    'trap \'rm -rf "$tmp"\' EXIT',
    "umask 077",
    `openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days ${days} -subj ${shellQuote(`/CN=${cn}`)} -addext ${shellQuote(`subjectAltName=${san}`)} -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/openssl.log" || { cat "$tmp/openssl.log" >&2; exit 1; }`,
    "chmod 0644 \"$tmp/cert.pem\"",
    `mv -f "$tmp/key.pem" ${shellQuote(key)}`,
    `mv -f "$tmp/cert.pem" ${shellQuote(cert)}`,
    `printf '%s' ${shellQuote(san)} > ${shellQuote(cert + ".names")}`,
    // nginx keeps serving the old certificate until it reloads.
    "systemctl reload nginx 2>/dev/null || true",
    `echo "berth: self-signed certificate for ${san.replace(/"/g, "")}"`,
    "",
  ].join("\n");
}

export interface OriginCsrSpec {
  keyPath: string;
  hostnames: string[];
}

/**
 * Makes (once) the private key of a Cloudflare origin certificate on the host and prints a CSR for
 * it on stdout. The key never leaves the host; only the CSR goes to Cloudflare.
 */
export function renderOriginCsrScript(spec: OriginCsrSpec): string {
  const key = fsPath("keyPath", spec.keyPath);
  const names = hostnames("hostnames", spec.hostnames);
  const san = names.map((h) => `DNS:${h}`).join(",");
  return [
    "set -euo pipefail",
    ensureDirs([key]),
    // rm first: openssl keeps the mode of a file it overwrites, so a stray .new could leave the key readable.
    // Its progress dots are kept out of the output, its error message is not.
    `if [ ! -s ${shellQuote(key)} ]; then rm -f ${shellQuote(key + ".new")}; if ! out=$(umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ${shellQuote(key + ".new")} 2>&1); then echo "$out" >&2; exit 1; fi; mv -f ${shellQuote(key + ".new")} ${shellQuote(key)}; fi`,
    `openssl req -new -sha256 -key ${shellQuote(key)} -subj ${shellQuote(`/CN=${commonName(names)}`)} -addext ${shellQuote(`subjectAltName=${san}`)}`,
    "",
  ].join("\n");
}

export interface CertbotSpec {
  siteName: string;
  hostnames: string[];
  email: string;
  acmeServer: string;
  /** A CA bundle on the host that signs the ACME server (test servers). */
  acmeCaBundle?: string;
  webroot: string;
  /** Where nginx reads the certificate; certbot's deploy hook copies each new one there. */
  certificatePath: string;
  keyPath: string;
}

/**
 * The deploy hook certbot keeps in its renewal config and runs after every issue and renewal. It
 * reloads nginx with the berth sites' own reload (renderNginxReloadFunction), which returns once
 * every nginx worker serves the new certificate, so whatever follows the hook (the rest of a
 * deploy, a check) never meets the old one. Bash, for that function; certbot runs the hook by its
 * path, so the shebang picks the shell.
 */
export function renderCertbotDeployHook(spec: Pick<CertbotSpec, "certificatePath" | "keyPath">): string {
  const cert = fsPath("certificatePath", spec.certificatePath);
  const key = fsPath("keyPath", spec.keyPath);
  return [
    "#!/bin/bash",
    "# Installed by berth: copies a renewed certificate to where nginx reads it, then reloads nginx.",
    "set -euo pipefail",
    `install -m 0644 "$RENEWED_LINEAGE/fullchain.pem" ${shellQuote(cert)}`,
    `install -m 0600 "$RENEWED_LINEAGE/privkey.pem" ${shellQuote(key)}`,
    `rm -f ${shellQuote(cert + ".names")}`,
    renderNginxReloadFunction(),
    "reload_nginx",
    "",
  ].join("\n");
}

/**
 * Obtains (or keeps, while it is not due) a certificate with certbot's webroot plugin. Idempotent:
 * `--keep-until-expiring` makes a repeated run a no-op, and `--expand` adds new hostnames.
 */
export function renderCertbotScript(spec: CertbotSpec): string {
  const site = checkSiteName("siteName", spec.siteName);
  const names = hostnames("hostnames", spec.hostnames);
  matchString("email", spec.email, EMAIL, "an email address");
  matchString("acmeServer", spec.acmeServer, HTTPS_URL, "an https URL");
  const webroot = fsPath("webroot", spec.webroot);
  const hookPath = `/etc/berth/${site}/certbot-deploy-hook`;
  const env = spec.acmeCaBundle ? `REQUESTS_CA_BUNDLE=${shellQuote(fsPath("acmeCaBundle", spec.acmeCaBundle))} ` : "";
  return [
    "set -euo pipefail",
    `cat > ${shellQuote(hookPath + ".new")} <<'BERTH_HOOK_EOF'`,
    renderCertbotDeployHook(spec).trimEnd(),
    "BERTH_HOOK_EOF",
    `chmod 0755 ${shellQuote(hookPath + ".new")} && mv -f ${shellQuote(hookPath + ".new")} ${shellQuote(hookPath)}`,
    `${env}certbot certonly --non-interactive --agree-tos --email ${shellQuote(spec.email)} --server ${shellQuote(spec.acmeServer)} ` +
      `--webroot -w ${shellQuote(webroot)} --cert-name ${shellQuote(`berth-${site}`)} --keep-until-expiring --expand ` +
      `--deploy-hook ${shellQuote(hookPath)} ${names.map((h) => `-d ${shellQuote(h)}`).join(" ")}`,
    // A first issue runs the hook; a kept certificate does not, so make sure nginx has it.
    `live=/etc/letsencrypt/live/${shellQuote(`berth-${site}`)}`,
    `if ! cmp -s "$live/fullchain.pem" ${shellQuote(fsPath("certificatePath", spec.certificatePath))}; then RENEWED_LINEAGE="$live" ${shellQuote(hookPath)}; fi`,
    `openssl x509 -noout -issuer -enddate -in ${shellQuote(fsPath("certificatePath", spec.certificatePath))}`,
    "",
  ].join("\n");
}

/**
 * The systemd service and timer that renew a site's certificate (certbot's deploy hook, installed
 * by the certbot script, hands each new one to nginx).
 */
export function certbotRenewalUnits(siteName: string, onCalendar = "*-*-* 03,15:27:00"): {
  service: Omit<SystemdServiceSpec, "environmentFile">;
  timer: Omit<SystemdTimerSpec, "name" | "unit">;
} {
  const site = checkSiteName("siteName", siteName);
  return {
    service: {
      name: `berth-${site}-certbot-renew`,
      description: `Renew the berth ${site} certificate`,
      execStart: ["/usr/bin/certbot", "renew", "--quiet", "--cert-name", `berth-${site}`],
      // certbot writes under /etc and /var and its deploy hook reloads nginx: the sandbox would have
      // to allow most of the system, so it is not pretended here.
      hardening: false,
    },
    timer: { description: `Renew the berth ${site} certificate twice a day`, onCalendar, persistent: true, randomizedDelaySec: 3600 },
  };
}
