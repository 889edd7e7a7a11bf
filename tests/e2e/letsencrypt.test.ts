/**
 * TLS `letsencrypt` for real: certbot on the devhost gets a certificate from pebble (Let's
 * Encrypt's own test ACME server, Debian's package) through the HTTP-01 challenge that berth's
 * nginx vhost serves, nginx serves it, and the renewal timer is installed.
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, onDevhost, peerCertificate, request } from "./devhost";
import { createLocalStack, devhostSite, HTTP_PORT, HTTPS_PORT, type LocalStack } from "./local-stack";

const SITE = "le";
const DOMAIN = "le.berth.test";
const devhost = inject("devhost");
const PEBBLE = "/etc/berth-e2e-pebble";

let s: LocalStack;
const onOutput = (out: string) => {
  if (process.env.BERTH_E2E_VERBOSE) process.stdout.write(out);
};

beforeAll(async () => {
  // pebble's own HTTPS endpoint needs a certificate certbot trusts: a throwaway CA made here.
  await onDevhost(
    devhost.container,
    `set -euo pipefail
command -v pebble >/dev/null || { echo "pebble is not installed in the devhost image" >&2; exit 1; }
install -d ${PEBBLE}
cd ${PEBBLE}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=berth-e2e-acme-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout key.pem -out req.pem 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf
openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem 2>/dev/null
cat > config.json <<JSON
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "${PEBBLE}/cert.pem", "privateKey": "${PEBBLE}/key.pem",
  "httpPort": ${HTTP_PORT}, "tlsPort": 15001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
grep -q ' ${DOMAIN}$' /etc/hosts || echo '127.0.0.1 ${DOMAIN}' >> /etc/hosts
systemctl stop berth-e2e-pebble 2>/dev/null || true
systemctl reset-failed berth-e2e-pebble 2>/dev/null || true
systemd-run --unit berth-e2e-pebble --setenv=PEBBLE_VA_NOSLEEP=1 /usr/bin/pebble -config ${PEBBLE}/config.json`,
  );
  await eventually(
    async () => (await onDevhost(devhost.container, `curl -fsS --cacert ${PEBBLE}/ca.pem https://127.0.0.1:14000/dir`, { reject: false })).exitCode === 0,
    "pebble to answer",
  );
  const c = devhostSite(devhost, SITE, DOMAIN);
  s = await createLocalStack({
    name: "le",
    engineBin: inject("engineBin"),
    // No database: this stack is about the certificate. The version path answers without one.
    values: {
      site: c.site,
      host: c.host,
      nginx: c.nginx,
      app: { ...c.app, healthCheck: { ...(c.app.healthCheck as object), path: "/api/version" } },
      tls: { mode: "letsencrypt", email: "ops@berth.test", acmeServer: "https://127.0.0.1:14000/dir", acmeCaBundle: `${PEBBLE}/ca.pem` },
    },
  });
});

afterAll(async () => {
  if (s) {
    await s.stack.destroy({ onOutput }).catch((e) => console.error("destroy failed:", e));
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
  await onDevhost(
    devhost.container,
    `systemctl stop berth-e2e-pebble 2>/dev/null || true; certbot delete --non-interactive --cert-name berth-${SITE} >/dev/null 2>&1 || true; sed -i '/ ${DOMAIN}$/d' /etc/hosts; rm -rf ${PEBBLE}`,
    { reject: false },
  );
});

describe.sequential("TLS letsencrypt (real engine, certbot, pebble)", () => {
  it("obtains a certificate through the vhost's ACME webroot, serves it, and installs the renewal timer", async () => {
    const up = await s.stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    const cert = await peerCertificate(DOMAIN, HTTPS_PORT);
    expect(cert.issuer).toMatch(/Pebble/i);
    expect(cert.subjectaltname).toBe(`DNS:${DOMAIN}`);
    expect((await request(DOMAIN, HTTPS_PORT, "/api/version")).status).toBe(200);
    expect((await onDevhost(devhost.container, `systemctl is-active berth-${SITE}-certbot-renew.timer`)).stdout).toBe("active");
    const dryRun = await onDevhost(devhost.container, `REQUESTS_CA_BUNDLE=${PEBBLE}/ca.pem certbot renew --dry-run --cert-name berth-${SITE} 2>&1`, { reject: false });
    expect(dryRun.stdout).toMatch(/Congratulations, all simulated renewals succeeded|all renewals succeeded/i);
  });

  it("a second up keeps the certificate and changes nothing", async () => {
    const before = await peerCertificate(DOMAIN, HTTPS_PORT);
    const again = await s.stack.up({ onOutput, expectNoChanges: true });
    expect(again.summary.result).toBe("succeeded");
    expect((await peerCertificate(DOMAIN, HTTPS_PORT)).issuer).toBe(before.issuer);
  });
});
