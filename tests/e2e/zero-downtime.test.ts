/**
 * Zero-downtime deploys on the devhost with the real engine: a tag change and a rollback under a
 * bounded request loop, a release that never gets healthy, a failing release phase, the backup
 * before every image change with its restore drill, and maintenance mode. One stack, in order.
 */
import * as fs from "node:fs";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { onDevhost, request, startLoad, type LoadResult } from "./devhost";
import { createLocalStack, devhostSite, HTTPS_PORT, type LocalStack } from "./local-stack";

const SITE = "zd";
const DOMAIN = "zd.berth.test";
const devhost = inject("devhost");
const volume = `berth-${SITE}-zd-postgres-data`;
const backups = `/var/backups/berth/${SITE}`;

const config = (tag: string, release: string[] = ["/app/demo", "migrate"]) => {
  const c = devhostSite(devhost, SITE, DOMAIN);
  // A 20 s gate keeps the failing-release case quick; the 60 s default is covered by the unit layer.
  return { ...c, app: { ...c.app, tag, release, healthGate: { intervalSeconds: 1, timeoutSeconds: 20 } }, database: { ...c.database, backup: { keep: 3 } } };
};

let s: LocalStack;
const onOutput = (out: string) => {
  if (process.env.BERTH_E2E_VERBOSE) process.stdout.write(out);
};

async function version(): Promise<string> {
  const r = await request(DOMAIN, HTTPS_PORT, "/api/version");
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { version: string }).version;
}
async function containers(label: string): Promise<string[]> {
  const r = await execa("docker", ["ps", "-a", "--format", "{{.Label \"berth.tag\"}} {{.Status}}", "--filter", `label=berth.site=${SITE}`, "--filter", `label=berth.process=${label}`]);
  return r.stdout.split("\n").filter(Boolean);
}
/** Runs `action` under a bounded request loop through nginx and returns what the loop saw. */
async function underLoad(action: () => Promise<unknown>): Promise<{ load: LoadResult; outcome: unknown }> {
  const load = startLoad(DOMAIN, HTTPS_PORT, "/api/version", { concurrency: 4, maxRequests: 50_000, maxSeconds: 400 });
  let outcome: unknown;
  try {
    outcome = await action();
  } catch (e) {
    outcome = e;
  }
  // Keep asking a little after the deploy: the old release must be gone, not just bypassed.
  await new Promise((r) => setTimeout(r, 1500));
  return { load: await load.stop(), outcome };
}
async function dumps(): Promise<string[]> {
  const r = await onDevhost(devhost.container, `ls -1 ${backups} 2>/dev/null || true`);
  return r.stdout.split("\n").filter((f) => f.endsWith(".dump"));
}

beforeAll(async () => {
  s = await createLocalStack({ name: "zd", engineBin: inject("engineBin"), pluginBin: inject("pluginBin"), values: config("v1") });
  await s.stack.up({ onOutput });
  const write = await request(DOMAIN, HTTPS_PORT, "/api/rows", { method: "POST", body: JSON.stringify({ value: "before-any-deploy" }) });
  expect(write.status).toBeLessThan(300);
});

afterAll(async () => {
  if (!s) return;
  await s.stack.destroy({ onOutput }).catch((e) => console.error("destroy failed:", e));
  await execa("docker", ["volume", "rm", "-f", volume], { reject: false });
  await onDevhost(devhost.container, `rm -rf ${backups}`, { reject: false });
  fs.rmSync(s.dir, { recursive: true, force: true });
});

describe.sequential("zero-downtime deploys (real engine, devhost)", () => {
  it("a tag change under load: every request succeeds, then only the new version answers", async () => {
    expect(await version()).toBe("v1");
    const before = await dumps();
    s.setConfig(config("v2"));
    const { load, outcome } = await underLoad(() => s.stack.up({ onOutput }));
    expect(outcome).toMatchObject({ summary: { result: "succeeded" } });
    console.log(`tag change: ${load.total} requests, ${load.failures.length} failed, versions ${JSON.stringify(load.versions)}, ${load.seconds}s`);
    expect(load.failures).toEqual([]);
    expect(load.total).toBeGreaterThan(100);
    expect(load.versions.v2).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) expect(await version()).toBe("v2");
    expect((await containers("web")).map((c) => c.split(" ")[0])).toEqual(["v2"]);
    // The backup named by the new tag was taken during this deploy.
    const added = (await dumps()).filter((d) => !before.includes(d));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^\d{8}T\d{6}Z-v2\.dump$/);
  });

  it("a rollback under load: the same guarantees", async () => {
    s.setConfig(config("v1"));
    const { load, outcome } = await underLoad(() => s.stack.up({ onOutput }));
    expect(outcome).toMatchObject({ summary: { result: "succeeded" } });
    console.log(`rollback: ${load.total} requests, ${load.failures.length} failed, versions ${JSON.stringify(load.versions)}, ${load.seconds}s`);
    expect(load.failures).toEqual([]);
    for (let i = 0; i < 20; i++) expect(await version()).toBe("v1");
    expect((await containers("web")).map((c) => c.split(" ")[0])).toEqual(["v1"]);
  });

  it("a release that never gets healthy fails the deploy, the old release keeps serving, and reverting converges with no leftovers", async () => {
    s.setConfig(config("v2"));
    await s.stack.up({ onOutput });
    expect(await version()).toBe("v2");

    s.setConfig(config("v3"));
    const failed = await underLoad(() => s.stack.up({ onOutput }));
    expect(failed.outcome).toBeInstanceOf(Error);
    expect(String((failed.outcome as Error).message)).toMatch(/health gate failed: http:\/\/127\.0\.0\.1:\d+\/api\/health did not answer 200 within 20s/);
    expect(failed.load.failures).toEqual([]);
    expect(Object.keys(failed.load.versions)).toEqual(["v2"]);
    expect(await version()).toBe("v2");

    s.setConfig(config("v2"));
    const revert = await underLoad(() => s.stack.up({ onOutput }));
    expect(revert.outcome).toMatchObject({ summary: { result: "succeeded" } });
    expect(revert.load.failures).toEqual([]);
    expect((await containers("web")).map((c) => c.split(" ")[0])).toEqual(["v2"]);
    await s.stack.preview({ expectNoChanges: true, onOutput });
  });

  it("a failing release phase stops the deploy before the switch; the old release keeps serving", async () => {
    s.setConfig(config("v1", ["/bin/sh", "-c", "echo 'migration 0042 failed: relation already exists' >&2; exit 1"]));
    const failed = await underLoad(() => s.stack.up({ onOutput }));
    expect(failed.outcome).toBeInstanceOf(Error);
    expect(String((failed.outcome as Error).message)).toMatch(/migration 0042 failed/);
    expect(failed.load.failures).toEqual([]);
    expect(Object.keys(failed.load.versions)).toEqual(["v2"]);
    expect((await containers("web")).map((c) => c.split(" ")[0])).toEqual(["v2"]);
    expect(await containers("release")).toEqual([]);

    s.setConfig(config("v2"));
    await s.stack.up({ onOutput });
    await s.stack.preview({ expectNoChanges: true, onOutput });
    expect(await version()).toBe("v2");
  });

  it("backups: retention is enforced and the restore drill returns the rows written before the deploys", async () => {
    const files = await dumps();
    expect(files.length).toBe(3);
    const drill = await onDevhost(devhost.container, `/usr/local/sbin/berth-${SITE}-restore-drill`);
    expect(drill.stdout).toMatch(/restored .*\.dump into restore_drill_\d+/);
    expect(drill.stdout).toMatch(/^demo_rows [1-9]\d*$/m);
    // The scratch database is dropped afterwards.
    const dbs = await onDevhost(devhost.container, `docker exec $(docker ps -q --filter label=berth.site=${SITE} --filter label=berth.addon=postgres) psql -U app -d postgres -Atc "SELECT datname FROM pg_database"`);
    expect(dbs.stdout).not.toMatch(/restore_drill_/);
    expect((await onDevhost(devhost.container, `systemctl is-enabled berth-${SITE}-backup.timer`)).stdout).toBe("enabled");
  });

  it("maintenance mode answers 503 everywhere but the health path, and turning it off restores service", async () => {
    const c = config("v2");
    s.setConfig({ nginx: { ...c.nginx, maintenance: true } });
    await s.stack.up({ onOutput });
    const page = await request(DOMAIN, HTTPS_PORT, "/api/rows");
    expect(page.status).toBe(503);
    expect(page.headers["retry-after"]).toBeDefined();
    expect((await request(DOMAIN, HTTPS_PORT, "/api/health")).status).toBe(200);
    expect((await containers("web")).map((x) => x.split(" ")[0])).toEqual(["v2"]);

    s.setConfig({ nginx: c.nginx });
    await s.stack.up({ onOutput });
    const rows = await request(DOMAIN, HTTPS_PORT, "/api/rows");
    expect(rows.status).toBe(200);
    expect(rows.body).toContain("before-any-deploy");
  });
});
