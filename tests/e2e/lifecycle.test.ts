/**
 * The real engine on the devhost: converge, tag change, rollback, secrets, vhost changes, host
 * services, drift, removal and re-adoption of the app, and the state lock. The tests share one
 * stack and run in order, each starting from the state the previous one left.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, onDevhost, request } from "./devhost";
import { createLocalStack, devhostSite, HTTPS_PORT, type LocalStack } from "./local-stack";

const SITE = "e2e";
const DOMAIN = "e2e.berth.test";
const HTTPS = HTTPS_PORT;
const devhost = inject("devhost");

const baseConfig = () => {
  const c = devhostSite(devhost, SITE, DOMAIN);
  return { ...c, app: { ...c.app, generatedSecrets: { SESSION_SECRET: {} }, secretEnv: ["API_TOKEN"] } };
};

let s: LocalStack;
const log: string[] = [];
const onOutput = (out: string) => {
  log.push(out);
  if (process.env.BERTH_E2E_VERBOSE) process.stdout.write(out);
};
const providedToken = `tok-${randomUUID()}`;

async function health() {
  const r = await request(DOMAIN, HTTPS, "/api/health");
  return { status: r.status, json: r.status === 200 || r.status === 503 ? JSON.parse(r.body) : r.body };
}
async function rows(): Promise<string[]> {
  const r = await request(DOMAIN, HTTPS, "/api/rows");
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as Array<{ value: string }>).map((row) => row.value);
}
async function webContainers(): Promise<string[]> {
  const r = await execa("docker", ["ps", "-a", "-q", "--filter", `label=berth.site=${SITE}`, "--filter", "label=berth.process=web"]);
  return r.stdout.split("\n").filter(Boolean);
}
const vhostFile = `/etc/nginx/conf.d/berth-${SITE}.conf`;
const volume = `berth-${SITE}-e2e-postgres-data`;

beforeAll(async () => {
  s = await createLocalStack({ name: "e2e", engineBin: inject("engineBin"), pluginBin: inject("pluginBin"), values: baseConfig() });
  await s.stack.setConfig("berth:secrets.API_TOKEN", { value: providedToken, secret: true }, true);
});

afterAll(async () => {
  await onDevhost(devhost.container, "rm -f /etc/nginx/conf.d/zz-operator.conf", { reject: false });
  if (!s) return;
  await s.stack.destroy({ onOutput }).catch((e) => console.error("destroy failed:", e));
  // The database volume survives destroy by design; a test run removes its own.
  await execa("docker", ["volume", "rm", "-f", volume], { reject: false });
  fs.rmSync(s.dir, { recursive: true, force: true });
});

describe.sequential("berth on the devhost (real engine)", () => {
  it("converges from empty, serves health through nginx with the database connected, and a second up changes nothing", async () => {
    const up = await s.stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    const h = await health();
    expect(h).toEqual({ status: 200, json: expect.objectContaining({ ok: true, database: "connected", version: "v1" }) });
    expect(up.outputs.tag!.value).toBe("v1");
    expect(up.outputs.url!.value).toBe(`https://${DOMAIN}:${HTTPS}/`);

    const again = await s.stack.up({ onOutput, expectNoChanges: true });
    expect(again.summary.result).toBe("succeeded");
    expect(Object.keys(again.summary.resourceChanges ?? {}).filter((k) => k !== "same")).toEqual([]);
  });

  it("a tag change shows in preview --diff as the image change and the release's containers replaced, serves v2, and keeps the rows", async () => {
    const write = await request(DOMAIN, HTTPS, "/api/rows", { method: "POST", body: JSON.stringify({ value: "written-under-v1" }) });
    expect(write.status).toBeLessThan(300);

    s.setConfig({ app: { ...baseConfig().app, tag: "v2" } });
    const preview = await s.stack.preview({ diff: true, onOutput });
    // The image is replaced in place; each release's containers are their own resources (see AppContainer).
    expect(preview.stdout).toMatch(/\+-\s*docker:index\/remoteImage:RemoteImage/);
    expect(preview.stdout).toMatch(/"berth-demo:v1"\s*=>\s*"berth-demo:v2"/);
    // With --diff the resource's URN follows on the next line.
    expect(preview.stdout).toMatch(/\+\s*docker:index\/container:Container[\s\S]{0,300}?e2e-app-web-v2/);
    expect(preview.stdout).toMatch(/-\s*docker:index\/container:Container[\s\S]{0,300}?e2e-app-web-v1/);
    expect(preview.stdout).toMatch(/berth\.tag/);
    expect(preview.changeSummary.create).toBeGreaterThanOrEqual(1);
    expect(preview.changeSummary.delete).toBeGreaterThanOrEqual(1);

    await s.stack.up({ onOutput });
    expect((await health()).json).toMatchObject({ version: "v2", database: "connected" });
    expect(await rows()).toContain("written-under-v1");
    expect(await webContainers()).toHaveLength(1);
  });

  it("rolls back by restoring the stack file and running up", async () => {
    // What `git revert` of the tag bump does to the stack file.
    s.setConfig({ app: baseConfig().app });
    await s.stack.up({ onOutput });
    expect((await health()).json).toMatchObject({ version: "v1", database: "connected" });
    expect(await rows()).toContain("written-under-v1");
    expect(await webContainers()).toHaveLength(1);
  });

  it("keeps every generated and configured secret out of state, preview output and logs", async () => {
    const [web] = await webContainers();
    const env: string[] = JSON.parse((await execa("docker", ["inspect", "--format", "{{json .Config.Env}}", web!])).stdout);
    const value = (k: string) => env.find((e) => e.startsWith(`${k}=`))!.slice(k.length + 1);
    const sessionSecret = value("SESSION_SECRET");
    const dbPassword = /^postgres:\/\/app_[0-9a-f]{8}:([^@]+)@/.exec(value("DATABASE_URL"))![1]!;
    // The server's own password, used only to initialise the data directory, is a secret too.
    const pg = (await execa("docker", ["ps", "-q", "--filter", `label=berth.site=${SITE}`, "--filter", "label=berth.addon=postgres"])).stdout.trim();
    const pgEnv: string[] = JSON.parse((await execa("docker", ["inspect", "--format", "{{json .Config.Env}}", pg])).stdout);
    const serverPassword = pgEnv.find((e) => e.startsWith("POSTGRES_PASSWORD="))!.slice("POSTGRES_PASSWORD=".length);
    expect(value("API_TOKEN")).toBe(providedToken);
    expect(sessionSecret).toMatch(/^[A-Za-z0-9]{64}$/);
    const keyBody = fs.readFileSync(devhost.keyFile, "utf8").split("\n")[1]!;

    const preview = await s.stack.preview({ diff: true, onOutput });
    const texts = { state: s.stateText(), logs: log.join("") + preview.stdout + preview.stderr };
    expect(texts.state.length).toBeGreaterThan(1000);
    for (const [where, text] of Object.entries(texts)) {
      for (const [what, secret] of Object.entries({ sessionSecret, dbPassword, serverPassword, providedToken, keyBody })) {
        expect(text.includes(secret), `${what} in ${where}`).toBe(false);
      }
    }
  });

  it("a vhost change reaches nginx; a vhost nginx rejects fails the deploy and the old one keeps serving", async () => {
    s.setConfig({ nginx: { ...baseConfig().nginx, clientMaxBodySize: "1k" } });
    await s.stack.up({ onOutput });
    const big = await request(DOMAIN, HTTPS, "/api/rows", { method: "POST", body: JSON.stringify({ value: "x".repeat(4096) }) });
    expect(big.status).toBe(413);

    const before = (await onDevhost(devhost.container, `cat ${vhostFile}`)).stdout;
    // A stray file an operator left on the server clashes with berth's upstream: any new vhost now
    // fails `nginx -t`. (nginx 1.22 accepts every hostname berth's schema accepts, so the clash
    // comes from the host, as it does in real life.)
    await onDevhost(devhost.container, `printf 'upstream berth_${SITE} { server 127.0.0.1:1; }\n' > /etc/nginx/conf.d/zz-operator.conf`);
    s.setConfig({ nginx: { ...baseConfig().nginx, clientMaxBodySize: "2m" } });
    const failed = await s.stack.up({ onOutput }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    expect(failed).toMatch(/duplicate upstream "berth_e2e"/);
    expect(failed).toMatch(/the previous configuration is back in place/);
    expect((await onDevhost(devhost.container, `cat ${vhostFile}`)).stdout).toBe(before);
    expect((await health()).status).toBe(200);
    const stillSmall = await request(DOMAIN, HTTPS, "/api/rows", { method: "POST", body: JSON.stringify({ value: "x".repeat(4096) }) });
    expect(stillSmall.status).toBe(413);

    await onDevhost(devhost.container, "rm -f /etc/nginx/conf.d/zz-operator.conf");
    s.setConfig({ nginx: baseConfig().nginx });
    await s.stack.up({ onOutput });
    const ok = await request(DOMAIN, HTTPS, "/api/rows", { method: "POST", body: JSON.stringify({ value: "y".repeat(4096) }) });
    expect(ok.status).toBeLessThan(300);
  });

  it("installs a host service, restarts it on change, and removes it on delete", async () => {
    const service = (greeting: string) => ({
      name: "berth-e2e-api",
      description: "e2e host API",
      execStart: ["/usr/bin/python3", "-m", "http.server", "18090", "--bind", "127.0.0.1"],
      workingDirectory: "/usr/share/doc",
      user: "nobody",
      group: "nogroup",
      env: { GREETING: greeting },
      restart: "on-failure",
    });
    s.setConfig({ services: [service("one")] });
    await s.stack.up({ onOutput });
    expect((await onDevhost(devhost.container, "systemctl is-active berth-e2e-api.service")).stdout).toBe("active");
    await eventually(
      async () => (await onDevhost(devhost.container, "curl -fsS -o /dev/null -w '%{http_code}' http://127.0.0.1:18090/", { reject: false })).stdout === "200",
      "the host service to answer",
    );
    const envFile = await onDevhost(devhost.container, "stat -c '%a %U' /etc/berth/e2e/berth-e2e-api.env && cat /etc/berth/e2e/berth-e2e-api.env");
    expect(envFile.stdout).toBe('600 root\nGREETING="one"');
    const security = await onDevhost(devhost.container, "systemd-analyze security berth-e2e-api.service | tail -1");
    console.log(`systemd-analyze security berth-e2e-api.service: ${security.stdout.trim()}`);
    expect(security.stdout).toMatch(/Overall exposure level for berth-e2e-api\.service: \d+\.\d/);
    const invocation = async () => (await onDevhost(devhost.container, "systemctl show -p InvocationID --value berth-e2e-api.service")).stdout;
    const first = await invocation();

    s.setConfig({ services: [service("two")] });
    await s.stack.up({ onOutput });
    expect(await invocation()).not.toBe(first);
    expect((await onDevhost(devhost.container, "systemctl is-active berth-e2e-api.service")).stdout).toBe("active");

    s.removeConfig("services");
    await s.stack.up({ onOutput });
    const gone = await onDevhost(devhost.container, "ls /etc/systemd/system/berth-e2e-api.service /etc/berth/e2e/berth-e2e-api.env 2>&1; systemctl is-active berth-e2e-api.service", { reject: false });
    expect(gone.stdout).toMatch(/No such file or directory[\s\S]*No such file or directory[\s\S]*inactive/);
  });

  it("drift: a container removed by hand is seen by refresh and restored by up", async () => {
    const [web] = await webContainers();
    await execa("docker", ["rm", "-f", web!]);
    const refresh = await s.stack.refresh({ onOutput });
    expect(refresh.summary.resourceChanges?.delete ?? 0).toBeGreaterThanOrEqual(1);
    await s.stack.up({ onOutput });
    expect((await health()).json).toMatchObject({ ok: true, version: "v1" });
    expect(await webContainers()).toHaveLength(1);
  });

  it("destroying the app part leaves the database volume; bringing the app back finds the rows", async () => {
    const state = await s.stack.exportStack();
    const app = (state.deployment.resources as Array<{ urn: string; type: string }>).find((r) => r.type === "berth:app:AppContainer")!;
    await s.stack.destroy({ target: [app.urn], targetDependents: true, onOutput });
    expect(await webContainers()).toEqual([]);
    expect((await execa("docker", ["volume", "inspect", volume])).exitCode).toBe(0);

    await s.stack.up({ onOutput });
    expect(await rows()).toContain("written-under-v1");
  });

  it("the release phase runs once per image: an env change does not migrate again", async () => {
    const withRelease = { ...baseConfig().app, release: ["/app/demo", "migrate"] };
    // The release is new, so this up runs it (and it is what an image change does).
    s.setConfig({ app: withRelease });
    log.length = 0;
    await s.stack.up({ onOutput });
    expect(log.join("")).toMatch(/berth: release phase in sha256:/);

    s.setConfig({ app: { ...withRelease, env: { RELEASE_CHECK: "1" } } });
    log.length = 0;
    await s.stack.up({ onOutput });
    const out = log.join("");
    expect(out).not.toMatch(/berth: release phase in sha256:/);
    expect(out).toContain("berth: the release phase runs once per image; this change does not run it again");
    s.setConfig({ app: baseConfig().app });
    await s.stack.up({ onOutput });
  });

  it("a second concurrent up is refused by the stack lock and the state stays valid", async () => {
    s.setConfig({ app: { ...baseConfig().app, env: { FEATURE_FLAG: "on" } } });
    // The file backend's lock is check, write, check again (SEMANTICS of pulumi's diy backend):
    // two ups started at the same instant can both see the other's file and both give up. An
    // operator's second up comes while the first holds the lock, so the test starts it then.
    const first = s.cli(["up", "--yes", "--skip-preview"], { reject: false });
    const locks = path.join(s.backend, ".pulumi", "locks");
    await eventually(async () => fs.existsSync(locks) && fs.readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json")), "the first up to take the stack lock", 60_000);
    const second = await s.cli(["up", "--yes", "--skip-preview"], { reject: false });
    expect(second.exitCode).not.toBe(0);
    expect(second.stderr + second.stdout).toMatch(/locked/i);
    const a = await first;
    expect(a.exitCode, a.stderr).toBe(0);
    const exported = await s.stack.exportStack();
    expect(exported.deployment.resources.length).toBeGreaterThan(10);
    await s.stack.preview({ expectNoChanges: true, onOutput });
    expect((await health()).status).toBe(200);
  });

  it("destroy removes everything but the data volume", async () => {
    await s.stack.destroy({ onOutput });
    expect(await webContainers()).toEqual([]);
    expect((await onDevhost(devhost.container, `test -e ${vhostFile}`, { reject: false })).exitCode).not.toBe(0);
    expect((await execa("docker", ["volume", "inspect", volume])).exitCode).toBe(0);
  });

  it("up after destroy brings the site back on the retained volume: a new password, and the app still logs in and finds every row", async () => {
    // destroy deleted the RandomPassword, so this up generates a new one while Postgres keeps the
    // data directory, and with it the old password, unless berth applies the new one.
    const up = await s.stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    expect((await health()).json).toMatchObject({ ok: true, database: "connected" });
    expect(await rows()).toContain("written-under-v1");
  });
});
