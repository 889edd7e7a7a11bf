/**
 * TLS `letsencrypt` for real: certbot on the devhost gets a certificate from pebble (Let's
 * Encrypt's own test ACME server, Debian's package) through the HTTP-01 challenge that berth's
 * nginx vhost serves, nginx serves it, and the renewal timer is installed.
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { onDevhost, peerCertificate, request } from "./devhost";
import { startPebble, type Pebble } from "./pebble";
import { createLocalStack, devhostSite, HTTP_PORT, HTTPS_PORT, type LocalStack } from "./local-stack";

const SITE = "le";
const DOMAIN = "le.berth.test";
const devhost = inject("devhost");

let s: LocalStack;
const onOutput = (out: string) => {
  if (process.env.BERTH_E2E_VERBOSE) process.stdout.write(out);
};

let pebble: Pebble | undefined;

beforeAll(async () => {
  pebble = await startPebble(devhost.container, { name: "berth-e2e-le", domain: DOMAIN, httpPort: HTTP_PORT });
  const c = devhostSite(devhost, SITE, DOMAIN);
  s = await createLocalStack({
    name: "le",
    engineBin: inject("engineBin"),
    pluginBin: inject("pluginBin"),
    // No database: this stack is about the certificate. The version path answers without one.
    values: {
      site: c.site,
      host: c.host,
      nginx: c.nginx,
      app: { ...c.app, healthCheck: { ...(c.app.healthCheck as object), path: "/api/version" } },
      tls: { mode: "letsencrypt", email: "ops@berth.test", acmeServer: pebble.directory, acmeCaBundle: pebble.caBundle },
    },
  });
});

afterAll(async () => {
  if (s) {
    await s.stack.destroy({ onOutput }).catch((e) => console.error("destroy failed:", e));
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
  await onDevhost(devhost.container, `certbot delete --non-interactive --cert-name berth-${SITE} >/dev/null 2>&1 || true`, { reject: false });
  await pebble?.stop();
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
    // --dry-run would switch to Let's Encrypt's staging server (unreachable) and sleep at random first.
    const dryRun = await onDevhost(
      devhost.container,
      `REQUESTS_CA_BUNDLE=${pebble!.caBundle} certbot renew --dry-run --no-random-sleep-on-renew --server ${pebble!.directory} --cert-name berth-${SITE} 2>&1`,
      { reject: false },
    );
    expect(dryRun.stdout).toMatch(/Congratulations, all simulated renewals succeeded|all renewals succeeded/i);
  });

  it("a second up keeps the certificate and changes nothing", async () => {
    const before = await peerCertificate(DOMAIN, HTTPS_PORT);
    const again = await s.stack.up({ onOutput, expectNoChanges: true });
    expect(again.summary.result).toBe("succeeded");
    expect((await peerCertificate(DOMAIN, HTTPS_PORT)).issuer).toBe(before.issuer);
  });
});
