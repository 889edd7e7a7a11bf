/**
 * Deploy downtime and time, measured side by side in one run on the devhost with the same images:
 * berth's tag change and rollback, against seed 003's compose-style recreate (`docker-compose up -d`
 * with a changed tag) behind the same nginx. Prints a table. A benchmark, not a test: it asserts
 * nothing, it reports.
 *
 *   npm run bench
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";
import { onDevhost, request, startLoad } from "../tests/e2e/devhost";
import { prepareEnvironment } from "../tests/e2e/environment";
import { createLocalStack, devhostSite, HTTPS_PORT, REPO } from "../tests/e2e/local-stack";

const SITE = "bench";
const DOMAIN = "bench.berth.test";
const COMPOSE_DOMAIN = "compose.berth.test";
const COMPOSE_PORT = 18099;
const MIN_REQUESTS = 1000;

interface Row {
  case: string;
  failed: number;
  total: number;
  deploySeconds: number;
  servingSeconds: number;
}

/** Seconds until `check` is true, polling every 100 ms, at most `limit` seconds. */
async function secondsUntil(check: () => Promise<boolean>, limit = 120): Promise<number> {
  const start = Date.now();
  while ((Date.now() - start) / 1000 < limit) {
    if (await check().catch(() => false)) return (Date.now() - start) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not reached within ${limit}s`);
}

async function servedVersion(domain: string): Promise<string | undefined> {
  const r = await request(domain, HTTPS_PORT, "/api/version", { timeoutMs: 2000 });
  return r.status === 200 ? (JSON.parse(r.body) as { version: string }).version : undefined;
}

/**
 * Runs one deploy under a bounded request loop through nginx: the loop goes on until the deploy
 * is done, the new version serves, and at least MIN_REQUESTS were sent.
 */
async function measure(name: string, domain: string, target: string, deploy: () => Promise<unknown>): Promise<Row> {
  const load = startLoad(domain, HTTPS_PORT, "/api/version", { concurrency: 4, maxRequests: 100_000, maxSeconds: 300 });
  const start = Date.now();
  await deploy();
  const deploySeconds = (Date.now() - start) / 1000;
  await secondsUntil(async () => (await servedVersion(domain)) === target);
  const servingSeconds = (Date.now() - start) / 1000;
  while (load.sent() < MIN_REQUESTS) await new Promise((r) => setTimeout(r, 250));
  const result = await load.stop();
  return { case: name, failed: result.failures.length, total: result.total, deploySeconds, servingSeconds };
}

async function appBootSeconds(tag: string, network: string, databaseUrl: string): Promise<number> {
  const { stdout: id } = await execa("docker", ["run", "-d", "--network", network, "-e", `DATABASE_URL=${databaseUrl}`, "-p", "127.0.0.1::8080", `berth-demo:${tag}`]);
  try {
    const port = (await execa("docker", ["port", id, "8080/tcp"])).stdout.split(":").pop();
    const start = Date.now();
    await secondsUntil(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/health`);
      return r.status === 200;
    });
    return (Date.now() - start) / 1000;
  } finally {
    await execa("docker", ["rm", "-f", id], { reject: false });
  }
}

async function main() {
  const { engineBin, pluginBin, providers, devhost } = await prepareEnvironment(REPO);
  console.log(providers);
  await execa("bash", ["-c", "command -v docker-compose >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null"], { stdio: "inherit" });
  const rows: Row[] = [];
  const quiet = () => undefined;

  // berth
  const base = devhostSite(devhost, SITE, DOMAIN);
  const config = (tag: string) => ({ ...base, app: { ...base.app, tag, release: ["/app/demo", "migrate"] } });
  const stack = await createLocalStack({ name: "bench", engineBin, pluginBin, values: config("v1") });
  const composeDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-bench-compose-"));
  try {
    await stack.stack.up({ onOutput: quiet });
    stack.setConfig(config("v2"));
    rows.push(await measure("berth tag change v1→v2", DOMAIN, "v2", () => stack.stack.up({ onOutput: quiet })));
    stack.setConfig(config("v1"));
    rows.push(await measure("berth rollback v2→v1", DOMAIN, "v1", () => stack.stack.up({ onOutput: quiet })));

    // The seed-003 way: compose recreates the container on a fixed port behind the same nginx.
    fs.writeFileSync(
      path.join(composeDir, "docker-compose.yml"),
      `version: "2.4"
services:
  db:
    image: berth/postgres:15
    environment: { POSTGRES_PASSWORD: bench, POSTGRES_USER: app, POSTGRES_DB: app }
    healthcheck: { test: ["CMD-SHELL", "pg_isready -U app -d app"], interval: 1s, retries: 30 }
  app:
    image: berth-demo:\${TAG}
    environment: { DATABASE_URL: "postgres://app:bench@db:5432/app", PORT: "8080" }
    ports: ["127.0.0.1:${COMPOSE_PORT}:8080"]
    depends_on: { db: { condition: service_healthy } }
`,
    );
    await onDevhost(
      devhost.container,
      `cat > /etc/nginx/conf.d/bench-compose.conf <<'EOF'
server {
    listen ${HTTPS_PORT} ssl;
    server_name ${COMPOSE_DOMAIN};
    ssl_certificate /etc/berth/${SITE}/tls/fullchain.pem;
    ssl_certificate_key /etc/berth/${SITE}/tls/privkey.pem;
    location / { proxy_pass http://127.0.0.1:${COMPOSE_PORT}; }
}
EOF
nginx -t && systemctl reload nginx`,
    );
    const compose = (tag: string, ...args: string[]) =>
      execa("docker-compose", ["-p", "berthbench", ...args], { cwd: composeDir, env: { ...process.env, TAG: tag } });
    await compose("v1", "up", "-d");
    await secondsUntil(async () => (await servedVersion(COMPOSE_DOMAIN)) === "v1");
    rows.push(await measure("compose recreate v1→v2", COMPOSE_DOMAIN, "v2", () => compose("v2", "up", "-d")));
    rows.push(await measure("compose recreate v2→v1", COMPOSE_DOMAIN, "v1", () => compose("v1", "up", "-d")));
    const boot = await appBootSeconds("v2", "berthbench_default", "postgres://app:bench@db:5432/app");

    const berth = rows.filter((r) => r.case.startsWith("berth"));
    const composeRows = rows.filter((r) => r.case.startsWith("compose"));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const lines = [
      "| case | failed / total requests | deploy command (s) | until new version serves (s) |",
      "| --- | --- | --- | --- |",
      ...rows.map((r) => `| ${r.case} | ${r.failed} / ${r.total} | ${r.deploySeconds.toFixed(1)} | ${r.servingSeconds.toFixed(1)} |`),
      "",
      `app boot (docker run → health 200): ${boot.toFixed(1)} s`,
      `berth / compose, until the new version serves: ${(mean(berth.map((r) => r.servingSeconds)) / mean(composeRows.map((r) => r.servingSeconds))).toFixed(2)}×`,
      `berth overhead beyond the app's boot: ${(mean(berth.map((r) => r.servingSeconds)) - boot).toFixed(1)} s`,
    ];
    console.log(lines.join("\n"));
  } finally {
    await execa("docker-compose", ["-p", "berthbench", "down", "-v"], { cwd: composeDir, reject: false });
    await onDevhost(devhost.container, "rm -f /etc/nginx/conf.d/bench-compose.conf && systemctl reload nginx", { reject: false });
    await stack.stack.destroy({ onOutput: quiet }).catch((e) => console.error("destroy failed:", e));
    await execa("docker", ["volume", "rm", "-f", `berth-${SITE}-bench-postgres-data`], { reject: false });
    fs.rmSync(composeDir, { recursive: true, force: true });
    fs.rmSync(stack.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
