/**
 * A stack with `dns.provider: cloudflare` and `tls.mode: cloudflare-origin` on the devhost: the
 * DNS records and the origin certificate come from the cloudflare provider (where no real plugin is
 * installed, the stand-in, whose "account" is a zone file this test reads), the CSR is made on
 * the host so the key never leaves it, and nginx serves the issued certificate.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { caCertificatePath } from "../../providers/cloudflare/origin-ca";
import { declareZone, readStore } from "../../providers/cloudflare/zone-store";
import { peerCertificate, request } from "./devhost";
import { createLocalStack, devhostSite, HTTPS_PORT, type LocalStack } from "./local-stack";

const SITE = "cf";
const ZONE_ID = "0123456789abcdef0123456789abcdef";
const ZONE = "berth.test";
const DOMAIN = `cf.${ZONE}`;
const devhost = inject("devhost");
// Cloudflare API tokens are 40 to 80 of [A-Za-z0-9_-]; the provider checks the form.
const token = randomBytes(24).toString("hex");

let s: LocalStack;
let storeDir: string;
let store: string;
const log: string[] = [];
const onOutput = (out: string) => {
  log.push(out);
  if (process.env.BERTH_E2E_VERBOSE) process.stdout.write(out);
};
const records = () => Object.values(readStore(store).zones[ZONE_ID]?.records ?? {});

const config = (target: string) => {
  const c = devhostSite(devhost, SITE, DOMAIN);
  return {
    site: c.site,
    host: c.host,
    nginx: c.nginx,
    // No database: this stack is about DNS and the certificate.
    app: { ...c.app, healthCheck: { ...(c.app.healthCheck as object), path: "/api/version" } },
    dns: { provider: "cloudflare", zoneId: ZONE_ID, target, proxied: true },
    tls: { mode: "cloudflare-origin" },
  };
};

beforeAll(async () => {
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-e2e-cloudflare-"));
  store = path.join(storeDir, "zones.json");
  // Zones exist before any stack, on Cloudflare as in the stand-in's zone file.
  await declareZone(ZONE_ID, ZONE, store);
  s = await createLocalStack({
    name: "cf",
    engineBin: inject("engineBin"),
    pluginBin: inject("pluginBin"),
    values: config("203.0.113.10"),
    env: { BERTH_CLOUDFLARE_STATE: store },
  });
  await s.stack.setConfig("cloudflare:apiToken", { value: token, secret: true });
});

afterAll(async () => {
  if (s) {
    await s.stack.destroy({ onOutput }).catch((e) => console.error("destroy failed:", e));
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
  fs.rmSync(storeDir, { recursive: true, force: true });
});

describe.sequential("Cloudflare DNS and origin certificate (real engine, devhost)", () => {
  it("creates the proxied record, gets an origin certificate for a CSR made on the host, and nginx serves it", async () => {
    const up = await s.stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    expect(records()).toEqual([expect.objectContaining({ name: DOMAIN, type: "A", content: "203.0.113.10", proxied: true, ttl: 1, comment: "managed by berth" })]);

    const cert = await peerCertificate(DOMAIN, HTTPS_PORT);
    expect(cert.subjectaltname).toBe(`DNS:${DOMAIN}`);
    const issued = Object.values(readStore(store).certificates ?? {});
    expect(issued).toHaveLength(1);
    const pem = path.join(storeDir, "issued.pem");
    fs.writeFileSync(pem, (issued[0] as { certificate: string }).certificate);
    const served = (await execa("bash", ["-c", `echo | openssl s_client -connect 127.0.0.1:${HTTPS_PORT} -servername ${DOMAIN} 2>/dev/null | openssl x509`])).stdout;
    expect(served.trim()).toBe(fs.readFileSync(pem, "utf8").trim());
    expect((await execa("openssl", ["verify", "-CAfile", caCertificatePath(store), pem])).stdout).toMatch(/: OK$/);
    // The key was made on the host and never left it: the state holds only the CSR and the certificate.
    expect(s.stateText()).not.toMatch(/PRIVATE KEY/);
    expect((await request(DOMAIN, HTTPS_PORT, "/api/version")).status).toBe(200);
  });

  it("a second up changes nothing, and the API token is in neither state nor logs", async () => {
    const again = await s.stack.up({ onOutput, expectNoChanges: true });
    expect(again.summary.result).toBe("succeeded");
    expect(s.stateText()).not.toContain(token);
    expect(log.join("")).not.toContain(token);
  });

  it("a new target updates the record in place: same record, new content, certificate untouched", async () => {
    const [before] = records();
    const certsBefore = Object.keys(readStore(store).certificates ?? {});
    s.setConfig({ dns: config("203.0.113.20").dns });
    const preview = await s.stack.preview({ diff: true, onOutput });
    expect(preview.changeSummary.update).toBe(1);
    expect(preview.changeSummary.replace ?? 0).toBe(0);
    await s.stack.up({ onOutput });
    const [after] = records();
    expect(after).toMatchObject({ id: before!.id, name: DOMAIN, content: "203.0.113.20" });
    expect(Object.keys(readStore(store).certificates ?? {})).toEqual(certsBefore);
  });

  it("destroy deletes the record and revokes the certificate", async () => {
    await s.stack.destroy({ onOutput });
    expect(records()).toEqual([]);
    const certs = Object.values(readStore(store).certificates ?? {}) as Array<{ revokedAt?: string }>;
    expect(certs.every((c) => !!c.revokedAt)).toBe(true);
  });
});
