/**
 * TLS `letsencrypt` on the devhost without the engine: the scripts Host, DnsTls, NginxVhost and
 * LetsEncryptCertificate render for a site, run over SSH in the order the Site wires them, against
 * pebble (Let's Encrypt's test ACME server) answering HTTP-01 through the vhost's ACME webroot.
 */
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderEnvFile } from "../../renderers/env-file";
import { certbotRenewalUnits, renderCertbotScript, renderHostBootstrapScript, renderSelfSignedScript, siteDirs } from "../../renderers/host-scripts";
import { nginxDefaultServers, renderNginxVhost } from "../../renderers/nginx-vhost";
import { renderInstallNginxSiteScript, renderRemoveNginxSiteScript } from "../../renderers/remote-scripts";
import { planSystemdInstall } from "../../renderers/systemd-install";
import { onDevhost, peerCertificate } from "../e2e/devhost";
import { startPebble, type Pebble } from "../e2e/pebble";
import { mustRunOnHost } from "./ssh";

const SITE = "hostle";
const DOMAIN = "hostle.berth.test";
const HTTP_PORT = 18080;
const HTTPS_PORT = 18443;
const devhost = inject("devhost");
const dirs = siteDirs(SITE);
// startPebble's directory for the name "berth-hostle".
const PEBBLE = "/etc/berth-hostle-pebble";
const ACME_SERVER = "https://127.0.0.1:14000/dir";
const CA_BUNDLE = `${PEBBLE}/ca.pem`;
const LINEAGE = `berth-${SITE}`;
const tlsPaths = { certificatePath: `${dirs.tls}/fullchain.pem`, keyPath: `${dirs.tls}/privkey.pem` };

// Host: the base requirements plus certbot, as Site asks for them with tls.mode letsencrypt.
const bootstrap = renderHostBootstrapScript({
  siteName: SITE,
  requires: [
    { command: "nginx", package: "nginx-light" },
    { command: "systemctl", package: "systemd" },
    { command: "openssl", package: "openssl" },
    { command: "flock", package: "util-linux" },
    { command: "certbot", package: "certbot" },
  ],
  installPackages: false,
});

// DnsTls with tls.mode letsencrypt: a 7-day placeholder, made only when there is no certificate.
const placeholder = renderSelfSignedScript({ ...tlsPaths, hostnames: [DOMAIN], validityDays: 7, onlyIfMissing: true });

// NginxVhost as Site configures it; nothing needs to listen upstream, only TLS and the ACME location matter.
const vhost = renderInstallNginxSiteScript({
  siteName: SITE,
  content: renderNginxVhost({
    siteName: SITE,
    serverNames: [DOMAIN],
    listen: { http: HTTP_PORT, https: HTTPS_PORT },
    tls: tlsPaths,
    acmeWebroot: dirs.acmeWebroot,
    upstream: { host: "127.0.0.1", port: 18090 },
    staticRoot: null,
    proxiedPaths: [],
    clientMaxBodySize: "10m",
    gzip: true,
    hsts: null,
    maintenance: { enabled: false, healthPath: "/healthz" },
  }),
  defaultServers: nginxDefaultServers({ listen: { http: HTTP_PORT, https: HTTPS_PORT }, tls: tlsPaths }),
});

// LetsEncryptCertificate: the issue Command...
const certbot = renderCertbotScript({
  siteName: SITE,
  hostnames: [DOMAIN],
  email: "ops@berth.test",
  acmeServer: ACME_SERVER,
  acmeCaBundle: CA_BUNDLE,
  webroot: dirs.acmeWebroot,
  ...tlsPaths,
});

// ...and its renewal SystemdUnit, planned as components/systemd-unit.ts plans it.
const RENEW = `berth-${SITE}-certbot-renew`;
const renewPlan = planSystemdInstall({ ...certbotRenewalUnits(SITE), hasEnv: true, envDir: `/etc/berth/${SITE}` });
const renewEnvPath = renewPlan.env!.path;
const renewEnv = { stdin: renderEnvFile({ REQUESTS_CA_BUNDLE: CA_BUNDLE }), create: renewPlan.env!.create, delete: renewPlan.env!.delete };
const renew = renewPlan.units;

/** The certificate nginx serves for DOMAIN, with what tells two certificates apart. */
function served(): Promise<{ issuer: string; san?: string; fingerprint: string; validTo: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: HTTPS_PORT, servername: DOMAIN, rejectUnauthorized: false }, () => {
      const c = socket.getPeerCertificate();
      socket.end();
      resolve({ issuer: String(c.issuer.CN ?? ""), san: c.subjectaltname, fingerprint: c.fingerprint256, validTo: c.valid_to });
    });
    socket.on("error", reject);
  });
}

async function sh(script: string): Promise<string> {
  return (await onDevhost(devhost.container, script)).stdout;
}

const cleanup = `
certbot delete --non-interactive --cert-name ${LINEAGE} >/dev/null 2>&1 || true
# certbot also leaves a copy of each key and CSR it made; the ones made since pebble started are this file's.
if [ -e ${CA_BUNDLE} ]; then find /etc/letsencrypt/keys /etc/letsencrypt/csr -type f -newer ${CA_BUNDLE} -delete 2>/dev/null || true; fi
rm -f /etc/letsencrypt/renewal/${LINEAGE}.conf; rm -rf /etc/letsencrypt/live/${LINEAGE} /etc/letsencrypt/archive/${LINEAGE}
rm -rf ${dirs.config} ${dirs.data} ${dirs.acmeWebroot}
rmdir /etc/berth /var/lib/berth /var/www/berth-acme 2>/dev/null || true
`;

let pebble: Pebble | undefined;

beforeAll(async () => {
  await onDevhost(devhost.container, cleanup, { reject: false });
  await mustRunOnHost(devhost, renewPlan.units.delete);
  await mustRunOnHost(devhost, renderRemoveNginxSiteScript({ siteName: SITE }));
  pebble = await startPebble(devhost.container, { name: "berth-hostle", domain: DOMAIN, httpPort: HTTP_PORT });
});

afterAll(async () => {
  await mustRunOnHost(devhost, renew.delete).catch((e) => console.error("removing the renewal units failed:", e));
  await mustRunOnHost(devhost, renewEnv.delete).catch((e) => console.error("removing the renewal env file failed:", e));
  await mustRunOnHost(devhost, renderRemoveNginxSiteScript({ siteName: SITE })).catch((e) => console.error("removing the vhost failed:", e));
  await onDevhost(devhost.container, cleanup, { reject: false });
  await pebble?.stop();
});

describe.sequential("TLS letsencrypt scripts on the devhost (certbot, pebble)", () => {
  it("bootstraps the host and serves the self-signed placeholder through the vhost", async () => {
    expect((await mustRunOnHost(devhost, bootstrap)).stdout).toContain("berth: host ready");
    expect((await mustRunOnHost(devhost, placeholder)).stdout).toContain(`berth: self-signed certificate for DNS:${DOMAIN}`);
    expect((await mustRunOnHost(devhost, vhost)).stdout).toContain(`berth: installed /etc/nginx/conf.d/berth-${SITE}.conf`);
    const cert = await peerCertificate(DOMAIN, HTTPS_PORT);
    expect(cert.issuer).toBe(`CN=${DOMAIN}`);
    expect(cert.subjectaltname).toBe(`DNS:${DOMAIN}`);
    // The HTTP server redirects everything but the ACME challenge directory, which serves the webroot.
    const probe = await sh(
      `install -d ${dirs.acmeWebroot}/.well-known/acme-challenge && echo berth-probe > ${dirs.acmeWebroot}/.well-known/acme-challenge/probe && ` +
        `curl -sS -H 'Host: ${DOMAIN}' http://127.0.0.1:${HTTP_PORT}/.well-known/acme-challenge/probe; ` +
        `rm -f ${dirs.acmeWebroot}/.well-known/acme-challenge/probe`,
    );
    expect(probe).toBe("berth-probe");
    expect(await sh(`curl -sS -o /dev/null -w '%{http_code}' -H 'Host: ${DOMAIN}' http://127.0.0.1:${HTTP_PORT}/`)).toBe("301");
  });

  it("certbot gets a certificate from pebble through the webroot and nginx serves it", async () => {
    const r = await mustRunOnHost(devhost, certbot);
    expect(r.stdout).toMatch(/issuer=.*Pebble/);
    // The deploy hook's reload returns once no nginx worker with the placeholder is left (a plain
    // `systemctl reload` did not: a fresh-check once saw the placeholder right after the hook).
    const cert = await peerCertificate(DOMAIN, HTTPS_PORT);
    console.log(`served after certbot: issuer ${cert.issuer}, SAN ${cert.subjectaltname}`);
    expect(cert.issuer).toMatch(/Pebble/);
    expect(cert.subjectaltname).toBe(`DNS:${DOMAIN}`);
    // nginx reads copies made by the deploy hook, with the lineage's content and berth's modes.
    expect(await sh(`cmp /etc/letsencrypt/live/${LINEAGE}/fullchain.pem ${tlsPaths.certificatePath} && cmp /etc/letsencrypt/live/${LINEAGE}/privkey.pem ${tlsPaths.keyPath} && echo same`)).toBe("same");
    expect(await sh(`stat -c '%a %U' ${tlsPaths.certificatePath} ${tlsPaths.keyPath}`)).toBe("644 root\n600 root");
    expect(await sh(`test -e ${tlsPaths.certificatePath}.names && echo present || echo absent`)).toBe("absent");
  });

  it("a second certbot run keeps the certificate", async () => {
    const before = await served();
    const mtime = await sh(`stat -c %Y ${tlsPaths.certificatePath}`);
    const r = await mustRunOnHost(devhost, certbot);
    expect(`${r.stdout}\n${r.stderr}`).toMatch(/not yet due for renewal/i);
    expect(await served()).toEqual(before);
    expect(await sh(`ls /etc/letsencrypt/archive/${LINEAGE}`)).toBe("cert1.pem\nchain1.pem\nfullchain1.pem\nprivkey1.pem");
    expect(await sh(`stat -c %Y ${tlsPaths.certificatePath}`)).toBe(mtime);
    // And the placeholder step, which runs again on every deploy, leaves the real certificate alone.
    expect((await mustRunOnHost(devhost, placeholder)).stdout).toContain("berth: certificate present");
    expect(await served()).toEqual(before);
  });

  it("installs the renewal timer, whose service renews with the CA bundle from its env file", async () => {
    await mustRunOnHost(devhost, renewEnv.create, renewEnv.stdin);
    const out = (await mustRunOnHost(devhost, renew.create)).stdout;
    expect(out).toContain("berth: 2 unit file(s) changed");
    expect(await sh(`systemctl is-active ${RENEW}.timer`)).toBe("active");
    expect(await sh(`systemctl is-enabled ${RENEW}.timer`)).toBe("enabled");
    expect(await sh(`stat -c '%a %U' ${renewEnvPath} && cat ${renewEnvPath}`)).toBe(`600 root\nREQUESTS_CA_BUNDLE="${CA_BUNDLE}"`);
    // What the timer runs: a renew that finds nothing due and succeeds.
    await mustRunOnHost(devhost, `systemctl start ${RENEW}.service`);
    expect(await sh(`systemctl show -p Result --value ${RENEW}.service`)).toBe("success");
    expect((await mustRunOnHost(devhost, renew.create)).stdout).toContain("berth: 0 unit file(s) changed");
  });

  it("certbot renew --dry-run succeeds against pebble through the same webroot", async () => {
    const before = await served();
    // certbot 2.1's --dry-run implies --staging, which overrides the lineage's stored server with Let's
    // Encrypt staging (unreachable here), so the ACME server is named again; and renew sleeps up to 8
    // minutes at random when stdin is not a terminal.
    const dryRun = await onDevhost(
      devhost.container,
      `REQUESTS_CA_BUNDLE=${CA_BUNDLE} certbot renew --dry-run --no-random-sleep-on-renew --server ${ACME_SERVER} --cert-name ${LINEAGE} 2>&1`,
      { reject: false },
    );
    expect(dryRun.exitCode, dryRun.stdout).toBe(0);
    expect(dryRun.stdout).toMatch(/Congratulations, all simulated renewals succeeded/i);
    expect(await served()).toEqual(before);
  });

  it("a due renewal, run as the timer's service runs it, gets a new certificate that the deploy hook hands to nginx", async () => {
    const before = await served();
    const conf = `/etc/letsencrypt/renewal/${LINEAGE}.conf`;
    // Make the 5-year pebble certificate due: certbot's renew then does what the timer does near expiry.
    await sh(`sed -i '1i renew_before_expiry = 3650 days' ${conf}`);
    try {
      // The unit's command and EnvironmentFile, minus certbot's random sleep of up to 8 minutes.
      const r = await onDevhost(
        devhost.container,
        `systemd-run --quiet --wait --collect --pipe -p EnvironmentFile=${renewEnvPath} /usr/bin/certbot renew --quiet --no-random-sleep-on-renew --cert-name ${LINEAGE} 2>&1`,
        { reject: false },
      );
      expect(r.exitCode, r.stdout).toBe(0);
    } finally {
      await sh(`sed -i '/^renew_before_expiry = 3650 days$/d' ${conf}`);
    }
    const after = await served();
    console.log(`served after renewal: issuer ${after.issuer}, valid to ${after.validTo}`);
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.issuer).toMatch(/Pebble/);
    expect(after.san).toBe(`DNS:${DOMAIN}`);
    expect(await sh(`ls /etc/letsencrypt/archive/${LINEAGE} | grep -c 2.pem`)).toBe("4");
    expect(await sh(`cmp /etc/letsencrypt/live/${LINEAGE}/fullchain.pem ${tlsPaths.certificatePath} && echo same`)).toBe("same");
    // The next deploy's certbot run keeps the renewed certificate.
    expect(`${(await mustRunOnHost(devhost, certbot)).stdout}`).toMatch(/issuer=.*Pebble/);
    expect(await served()).toEqual(after);
  });
});
