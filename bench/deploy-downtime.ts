/**
 * The deploy benchmark, measured in one run on the devhost with the same images, the same request
 * loop and the same nginx: every kind of change berth makes (a tag change, a rollback, an env
 * change, secret rotations, a database password rotation, a healthcheck change, a worker command
 * change) against the same edit made seed 003's way (Docker Compose, `docker-compose up -d`), then
 * the steps of a berth deploy from the engine's events, and the time of `pulumi preview` and of a
 * no-op `up` for one site and for several on one host. Prints the tables.
 *
 * A benchmark, not a test: it asserts nothing, it reports what it measured.
 *
 *   npm run bench                       # every row, ≥1,000 requests each, five sites
 *   BENCH_QUICK=1 npm run bench         # two rows, ≥200 requests each, two sites (for development)
 *   BENCH_ROWS=tag,db-password npm run bench   # only these rows (names in CHANGES below)
 *   BENCH_SITES=1 npm run bench         # preview and no-op on the one site only
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { OpMap } from "@pulumi/pulumi/automation";
import { execa } from "execa";
import { onDevhost, request } from "../tests/e2e/devhost";
import { prepareEnvironment, type DevhostInfo } from "../tests/e2e/environment";
import { createLocalStack, devhostSite, HTTPS_PORT, type LocalStack } from "../tests/e2e/local-stack";
import { startTimedLoad, type TimedLoadResult, type TimedResponse } from "../tests/support/timed-load";
import { ComposeProject, type ComposeState } from "./compose";
import { STEPS, StepRecorder, type StepTimes } from "./steps";

const QUICK = process.env.BENCH_QUICK === "1";
/** Requests per row at least; the loop goes on until the change is done and this many were sent. */
const MIN_REQUESTS = QUICK ? 200 : 1000;
/** Sites on the one host for the preview and no-op figures (BENCH_SITES=1 leaves out the extra sites). */
const SITES = Number(process.env.BENCH_SITES ?? (QUICK ? 2 : 5));
/** Boots of the app measured; the median is reported. */
const BOOT_SAMPLES = QUICK ? 1 : 3;
/** Clients of the request loop, each sending one request after another. */
const CONCURRENCY = 4;
/** The loop's paths in turn: `/api/rows` reads the database, `/api/version` says which release answered. */
const LOAD_PATHS = ["/api/rows", "/api/version"];
/** The loop keeps going this long after a change is done, so a late failure (the old release's removal) is counted. */
const TAIL_MS = 2000;
/** Bounds of one row's loop, whatever happens. */
const LOAD_MAX_REQUESTS = 200_000;
const LOAD_MAX_SECONDS = 900;

const SITE = "bench";
const DOMAIN = `${SITE}.berth.test`;
const COMPOSE_PROJECT = "berthbench";
const COMPOSE_DOMAIN = "compose.berth.test";
/** Compose publishes the app on a fixed port (seed 003's `ports:`), one the devhost's vhosts leave free. */
const COMPOSE_PORT = 18099;
const COMPOSE_VHOST = "/etc/nginx/conf.d/berth-bench-compose.conf";
const COMPOSE_TLS_DIR = "/etc/nginx/berth-bench-compose";
/**
 * The demo image with its entrypoint cleared: a worker's command is then a whole command line. The
 * demo's entrypoint runs only its server, `migrate`, `healthcheck` or `version`, so no worker
 * command could otherwise run for long. Same binary, same web process (`CMD ["/app/demo"]`).
 */
const IMAGE = "berth-bench-demo";
const TAGS = ["v1", "v2"];
/** A worker stands in as the demo's own server (it has no job queue): long-running, stops on SIGTERM. */
const WORKER = ["/app/demo"];
const WORKER_CHANGED = ["/bin/sh", "-c", "exec /app/demo"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secret = () => randomBytes(24).toString("hex");
const quiet = () => undefined;

/** What both tools are told to run; each change edits it, then each tool is given it its own way. */
interface State {
  tag: string;
  env: Record<string, string>;
  /** berth: `app.generatedSecrets.SESSION_SECRET.rotation`; compose: a value the operator generates. */
  sessionRotation: number;
  sessionSecret: string;
  stripeKey: string;
  dbRotation: number;
  healthInterval: { berth: string; compose: string };
  worker?: string[];
}

interface Change {
  key: string;
  label: string;
  /** The operator's edit. */
  edit(s: State): void;
  /** The version that answers once the change is done, when it changes. */
  version?: (s: State) => string;
  /** Why compose has no row, when it has none. */
  composeMissing?: string;
  /** What compose's row does, when it is not the plain equivalent. */
  composeNote?: string;
  /** An unmeasured edit made first, on both sides (the worker must exist before its command changes). */
  setup?: (s: State) => void;
}

const CHANGES: Change[] = [
  { key: "tag", label: "tag change v1→v2", edit: (s) => (s.tag = "v2"), version: (s) => s.tag },
  { key: "rollback", label: "rollback v2→v1", edit: (s) => (s.tag = "v1"), version: (s) => s.tag },
  { key: "env", label: "env change, same tag (`app.env`)", edit: (s) => (s.env = { ...s.env, GREETING: `hello-${Object.keys(s.env).length + Date.now()}` }) },
  {
    key: "generated-secret",
    label: "generated-secret rotation (`app.generatedSecrets.SESSION_SECRET.rotation`)",
    edit: (s) => {
      s.sessionRotation++;
      s.sessionSecret = secret();
    },
    composeNote: "compose generates nothing: a new value written into the env file by hand",
  },
  { key: "operator-secret", label: "operator-secret rotation (`app.secretEnv` + `berth:secrets`)", edit: (s) => (s.stripeKey = `sk_bench_${secret()}`), composeNote: "the new value in the env file" },
  {
    key: "db-password",
    label: "database-password rotation (`database.passwordRotation`)",
    edit: (s) => s.dbRotation++,
    composeMissing:
      "no equivalent: POSTGRES_PASSWORD applies only when the volume is first initialised; a rotation is an ALTER ROLE by hand, then the app recreated with the new URL, with nothing to keep the old password working in between",
  },
  {
    key: "healthcheck",
    label: "healthcheck change (`app.healthCheck.interval` 1s→2s)",
    edit: (s) => (s.healthInterval = { berth: "2s", compose: "2s" }),
  },
  {
    key: "worker",
    label: "worker command change (`app.processes.worker.command`)",
    setup: (s) => (s.worker = WORKER),
    edit: (s) => (s.worker = WORKER_CHANGED),
  },
];

interface Row {
  change: Change;
  tool: "berth" | "compose";
  load?: TimedLoadResult;
  /** From the deploy command's start until it returned and the site answered from the change. */
  seconds?: number;
  error?: string;
  note: string;
  steps?: StepTimes;
  upSeconds?: number;
  diagnostics?: string;
}

function changesText(changes: OpMap | undefined): string {
  const words: Record<string, string> = { create: "created", "create-replacement": "created", replace: "replaced", update: "updated", delete: "deleted", "delete-replaced": "deleted" };
  const counts: Record<string, number> = {};
  for (const [op, n] of Object.entries(changes ?? {})) if (words[op] && n) counts[words[op]!] = (counts[words[op]!] ?? 0) + n;
  return Object.entries(counts).map(([w, n]) => `${w} ${n}`).join(", ") || "no changes";
}

/** Processes of other test runs on the machine (the figures are then from a shared machine). */
async function othersRunning(): Promise<number> {
  const r = await execa("pgrep", ["-f", "vitest"], { reject: false });
  return r.stdout.split("\n").filter(Boolean).length;
}

class Bench {
  readonly rows: Row[] = [];
  readonly stacks: LocalStack[] = [];
  readonly tmp = fs.mkdtempSync(path.join(os.tmpdir(), "berth-bench-"));
  compose?: ComposeProject;
  builtImages: string[] = [];
  sharedSeen = 0;
  bootSeconds: number[] = [];
  private cleaned = false;

  constructor(
    readonly engineBin: string,
    readonly pluginBin: string,
    readonly devhost: DevhostInfo,
  ) {}

  berthConfig(s: State, site = SITE, domain = DOMAIN) {
    const base = devhostSite(this.devhost, site, domain);
    return {
      ...base,
      app: {
        ...base.app,
        image: IMAGE,
        tag: s.tag,
        release: ["/app/demo", "migrate"],
        env: s.env,
        generatedSecrets: { SESSION_SECRET: { rotation: String(s.sessionRotation) } },
        secretEnv: ["STRIPE_SECRET_KEY"],
        healthCheck: { ...(base.app.healthCheck as Record<string, unknown>), interval: s.healthInterval.berth },
        ...(s.worker ? { processes: { worker: { command: s.worker } } } : {}),
      },
      database: { ...base.database, passwordRotation: String(s.dbRotation) },
    };
  }

  composeState(s: State): ComposeState {
    return { tag: s.tag, env: s.env, secrets: { SESSION_SECRET: s.sessionSecret, STRIPE_SECRET_KEY: s.stripeKey }, healthInterval: s.healthInterval.compose, worker: s.worker };
  }

  async applyBerth(stack: LocalStack, s: State, site?: string, domain?: string) {
    stack.setConfig(this.berthConfig(s, site, domain));
    await stack.stack.setConfig("berth:secrets.STRIPE_SECRET_KEY", { value: s.stripeKey, secret: true }, true);
  }

  /**
   * The demo image with a cleared entrypoint, per tag (see IMAGE): a container created with it
   * cleared, committed. Unlike `docker build`, this leaves no intermediate image that another run's
   * pruning could delete half-way (seen on this shared machine).
   */
  async buildImages() {
    for (const tag of TAGS) {
      const { stdout: id } = await execa("docker", ["create", "--entrypoint", "", `berth-demo:${tag}`, "/app/demo"]);
      try {
        await execa("docker", ["commit", "--change", "LABEL berth.bench=1", id, `${IMAGE}:${tag}`]);
      } finally {
        await execa("docker", ["rm", id], { reject: false });
      }
      this.builtImages.push(`${IMAGE}:${tag}`);
    }
  }

  async newStack(name: string, s: State, site: string, domain: string): Promise<LocalStack> {
    const stack = await createLocalStack({ name, engineBin: this.engineBin, pluginBin: this.pluginBin, values: this.berthConfig(s, site, domain) });
    this.stacks.push(stack);
    await this.applyBerth(stack, s, site, domain);
    await stack.stack.up({ onOutput: quiet });
    return stack;
  }

  /** A vhost for compose's app on the devhost's nginx, beside berth's, with a certificate of its own. */
  async composeVhost() {
    await onDevhost(
      this.devhost.container,
      `set -e
install -d -m 0700 ${COMPOSE_TLS_DIR}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=${COMPOSE_DOMAIN} -keyout ${COMPOSE_TLS_DIR}/key.pem -out ${COMPOSE_TLS_DIR}/cert.pem 2>/dev/null
cat > ${COMPOSE_VHOST} <<'EOF'
server {
    listen ${HTTPS_PORT} ssl;
    server_name ${COMPOSE_DOMAIN};
    ssl_certificate ${COMPOSE_TLS_DIR}/cert.pem;
    ssl_certificate_key ${COMPOSE_TLS_DIR}/key.pem;
    location / {
        proxy_pass http://127.0.0.1:${COMPOSE_PORT};
        proxy_set_header Host $host;
    }
}
EOF
nginx -t 2>/dev/null && systemctl reload nginx`,
    );
  }

  /** Waits until `domain` answers `/api/version` with 200 (and `version`, when given). */
  async serving(domain: string, version?: string, limitSeconds = 180) {
    const end = Date.now() + limitSeconds * 1000;
    while (Date.now() < end) {
      const r = await request(domain, HTTPS_PORT, "/api/version", { timeoutMs: 2000 }).catch(() => undefined);
      if (r?.status === 200 && (!version || (JSON.parse(r.body) as { version: string }).version === version)) return;
      await sleep(200);
    }
    throw new Error(`${domain} did not serve ${version ?? "anything"} within ${limitSeconds}s`);
  }

  async seedRows(domain: string) {
    for (let i = 0; i < 3; i++) await request(domain, HTTPS_PORT, "/api/rows", { method: "POST", body: JSON.stringify({ value: `bench-${i}` }) });
  }

  /**
   * One change under the request loop through nginx: the loop starts on a serving site, the deploy
   * runs, and the change is done when the command has returned and the site answers from it (the
   * new version, for a tag change). The loop goes on TAIL_MS longer, and until MIN_REQUESTS.
   */
  async measure(domain: string, deploy: () => Promise<string>, version?: string): Promise<Pick<Row, "load" | "seconds" | "error" | "note">> {
    const load = startTimedLoad(domain, HTTPS_PORT, LOAD_PATHS, { concurrency: CONCURRENCY, maxRequests: LOAD_MAX_REQUESTS, maxSeconds: LOAD_MAX_SECONDS });
    let error: string | undefined;
    let note = "";
    let done: TimedResponse | undefined;
    this.sharedSeen = Math.max(this.sharedSeen, await othersRunning());
    await load.firstAfter(0, (r) => r.ok, 60).catch(() => undefined);
    const start = Date.now();
    try {
      note = await deploy();
      const returned = Date.now();
      done = await load.firstAfter(returned, (r) => r.ok && (!version || r.version === version), LOAD_MAX_SECONDS);
    } catch (e) {
      error = String(e instanceof Error ? e.message : e).split("\n").slice(0, 6).join(" ");
    }
    const until = (done?.doneAt ?? Date.now()) + TAIL_MS;
    while ((Date.now() < until || load.sent() < MIN_REQUESTS) && !load.ended()) await sleep(100);
    const result = await load.stop();
    this.sharedSeen = Math.max(this.sharedSeen, await othersRunning());
    return { load: result, seconds: done ? (done.doneAt - start) / 1000 : undefined, error, note };
  }

  async diagnose(row: Row, engineOutput: string): Promise<string> {
    const ps = await execa("docker", ["ps", "-a", "--filter", `label=berth.site=${SITE}`, "--format", "{{.Names}} {{.Status}} {{.Ports}} {{.Label \"berth.tag\"}}"], { reject: false });
    // Only the lines about this site: other vhosts share the error log.
    const nginx = await onDevhost(this.devhost.container, `grep -F ${JSON.stringify(`server: ${DOMAIN}`)} /var/log/nginx/error.log | tail -n 20`, { reject: false });
    // The app answers 503 when its database query fails; Postgres says why, if it refused.
    const postgres = await execa("bash", ["-c", `docker ps -q --filter label=berth.site=${SITE} --filter label=berth.addon=postgres | xargs -r -n1 docker logs --since 15m 2>&1 | grep -E 'FATAL|ERROR|incomplete|could not' | tail -n 20`], { reject: false });
    const app = await execa("bash", ["-c", `docker ps -q --filter label=berth.site=${SITE} --filter label=berth.process=web | xargs -r -n1 docker logs --since 15m 2>&1 | grep -vE ' (GET|POST) /' | tail -n 20`], { reject: false });
    const start = row.load?.startedAt ?? 0;
    const failures = (row.load?.failures ?? []).slice(0, 20).map((f) => `  +${((f.sentAt - start) / 1000).toFixed(2)}s→+${((f.doneAt - start) / 1000).toFixed(2)}s ${f.path}: ${f.what}`);
    const resources = (row.steps?.resources ?? []).map((r) => `  ${r.op} ${r.name} ${r.seconds.toFixed(1)}s${r.step ? ` (${r.step})` : ""}`);
    return [
      `--- ${row.tool} ${row.change.key}: ${row.error ?? `${row.load?.failures.length} failed requests`}`,
      "failed requests (time from the loop's start):",
      ...failures,
      "resource steps:",
      ...resources,
      "docker ps:",
      ps.stdout,
      `nginx error.log, ${DOMAIN} (tail):`,
      nginx.stdout,
      "postgres log (errors, tail):",
      postgres.stdout,
      "running web container's log (all but requests, tail):",
      app.stdout,
      "engine output (tail):",
      engineOutput.split("\n").slice(-60).join("\n"),
    ].join("\n");
  }

  async berthRow(stack: LocalStack, change: Change, s: State) {
    await this.applyBerth(stack, s);
    // The log of each web container berth is about to delete, read before it goes: if the app
    // answered an error, it says why there ("database error: ...").
    const removedLogs: Promise<string>[] = [];
    const rec = new StepRecorder((step) => {
      if (!["delete", "delete-replaced"].includes(step.op) || !step.id || !step.urn.includes("-app-web-")) return;
      removedLogs.push(
        execa("bash", ["-c", `docker logs ${step.id} 2>&1 | grep -vE ' (GET|POST) /' | tail -n 20`], { reject: false }).then((r) => `${step.id!.slice(0, 12)}:\n${r.stdout}`),
      );
    });
    let output = "";
    let upSeconds: number | undefined;
    const m = await this.measure(
      DOMAIN,
      async () => {
        const t0 = Date.now();
        const r = await stack.stack.up({ onOutput: (o) => (output += o), onEvent: rec.onEvent });
        upSeconds = (Date.now() - t0) / 1000;
        return changesText(r.summary.resourceChanges);
      },
      change.version?.(s),
    );
    const row: Row = { change, tool: "berth", ...m, steps: rec.times(), upSeconds };
    if (row.error || (row.load?.failures.length ?? 0) > 0) {
      row.diagnostics = `${await this.diagnose(row, output)}\nlogs of the web containers deleted by this deploy (all but requests, tail):\n${(await Promise.all(removedLogs)).join("\n")}`;
      console.error(row.diagnostics);
    }
    this.rows.push(row);
    console.error(`bench: berth ${change.key}: ${m.load?.failures.length}/${m.load?.total} failed, ${m.seconds?.toFixed(1)} s${m.error ? `, ${m.error}` : ""}`);
  }

  async composeRow(change: Change, s: State) {
    const compose = this.compose!;
    if (change.composeMissing) {
      this.rows.push({ change, tool: "compose", note: change.composeMissing });
      return;
    }
    compose.write(this.composeState(s));
    const m = await this.measure(
      COMPOSE_DOMAIN,
      async () => {
        const recreated = await compose.up();
        return `${change.composeNote ? `${change.composeNote}; ` : ""}recreated ${recreated.join(", ") || "nothing"}`;
      },
      change.version?.(s),
    );
    this.rows.push({ change, tool: "compose", ...m });
    console.error(`bench: compose ${change.key}: ${m.load?.failures.length}/${m.load?.total} failed, ${m.seconds?.toFixed(1)} s${m.error ? `, ${m.error}` : ""}`);
  }

  /** The app's own boot: from `docker run` to the first 200 on /api/health (which needs the database). */
  async appBoot(tag: string): Promise<number> {
    const compose = this.compose!;
    const start = Date.now();
    const { stdout: id } = await execa("docker", ["run", "-d", "--label", "berth.bench=1", "--network", compose.network, "-e", `DATABASE_URL=${compose.databaseUrl}`, "-p", "127.0.0.1::8080", `${IMAGE}:${tag}`]);
    try {
      const port = (await execa("docker", ["port", id, "8080/tcp"])).stdout.split("\n")[0]!.split(":").pop();
      while (Date.now() - start < 120_000) {
        const ok = await fetch(`http://127.0.0.1:${port}/api/health`).then((r) => r.status === 200, () => false);
        if (ok) return (Date.now() - start) / 1000;
        await sleep(20);
      }
      throw new Error("the app did not answer 200 on /api/health within 120 s");
    } finally {
      await execa("docker", ["rm", "-f", id], { reject: false });
    }
  }

  /** Seconds for `op` on each stack, one after another. */
  async timed(stacks: LocalStack[], op: (s: LocalStack) => Promise<OpMap | undefined>): Promise<{ seconds: number; changed: string[] }> {
    const changed: string[] = [];
    const start = Date.now();
    for (const s of stacks) {
      const ops = await op(s);
      const text = changesText(ops);
      if (text !== "no changes") changed.push(`${s.name}: ${text}`);
    }
    return { seconds: (Date.now() - start) / 1000, changed };
  }

  async cleanup() {
    if (this.cleaned) return;
    this.cleaned = true;
    await this.compose?.down();
    await onDevhost(this.devhost.container, `rm -rf ${COMPOSE_VHOST} ${COMPOSE_TLS_DIR} && nginx -t 2>/dev/null && systemctl reload nginx`, { reject: false });
    for (const stack of this.stacks) {
      await stack.stack.destroy({ onOutput: quiet }).catch((e) => console.error(`bench: destroy ${stack.name} failed:`, e));
      // Each stack is named after its site.
      const site = stack.name;
      // Data volumes outlive `destroy` by design (retainOnDelete); these are the bench's own.
      await execa("docker", ["volume", "rm", "-f", `berth-${site}-${stack.name}-postgres-data`], { reject: false });
      await onDevhost(this.devhost.container, `rm -rf /var/backups/berth/${site}`, { reject: false });
      fs.rmSync(stack.dir, { recursive: true, force: true });
    }
    if (this.builtImages.length) await execa("docker", ["rmi", ...this.builtImages], { reject: false });
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const f1 = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(2));

async function machine(): Promise<string> {
  const docker = await execa("docker", ["version", "--format", "{{.Server.Version}}"], { reject: false });
  const ram = (os.totalmem() / 1024 ** 3).toFixed(1);
  return `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${ram} GiB RAM, Linux ${os.release()}, Docker ${docker.stdout.trim() || "?"}`;
}

function report(bench: Bench, previews: { one: Record<string, { seconds: number; changed: string[] }>; all: Record<string, { seconds: number; changed: string[] }> }, sites: number, machineLine: string): string {
  const boot = bench.bootSeconds.length ? median(bench.bootSeconds) : undefined;
  const lines: string[] = [];
  const reduced = QUICK || process.env.BENCH_ROWS || process.env.BENCH_SITES ? "; a REDUCED run (BENCH_QUICK, BENCH_ROWS or BENCH_SITES)" : "";
  lines.push(`Measured ${machineLine}${bench.sharedSeen ? "; shared with other test runs (vitest was running)" : ""}${reduced}.`);
  lines.push("");
  lines.push("| change | tool | failed / total requests | start → done (s) | longest gap (s) | notes |");
  lines.push("| --- | --- | --- | --- | --- | --- |");
  for (const r of bench.rows) {
    if (!r.load) {
      lines.push(`| ${r.change.label} | ${r.tool} | — | — | — | ${r.note} |`);
      continue;
    }
    const note = [r.note, r.error ? `FAILED: ${r.error}` : ""].filter(Boolean).join("; ");
    lines.push(`| ${r.change.label} | ${r.tool} | ${r.load.failures.length} / ${r.load.total} | ${f1(r.seconds)} | ${f2(r.load.longestGapMs / 1000)} | ${note} |`);
  }
  lines.push("");
  lines.push(`Steps of berth's deploys (s, from the engine's events, ±0.2 s); app boot (\`docker run\` → first 200 on /api/health, median of ${bench.bootSeconds.length}): ${f1(boot)} s.`);
  lines.push("");
  lines.push(`| change | ${STEPS.join(" | ")} | other resources | engine and program | \`up\` | beyond the app's boot |`);
  lines.push(`| --- | ${STEPS.map(() => "---").join(" | ")} | --- | --- | --- | --- |`);
  for (const r of bench.rows.filter((x) => x.tool === "berth" && x.steps)) {
    const t = r.steps!;
    const engine = r.upSeconds !== undefined ? r.upSeconds - t.busy : undefined;
    const beyond = r.seconds !== undefined && boot !== undefined ? r.seconds - boot : undefined;
    lines.push(`| ${r.change.key} | ${STEPS.map((k) => f1(t.seconds[k])).join(" | ")} | ${f1(t.busy - t.stepsBusy)} | ${f1(engine)} | ${f1(r.upSeconds)} | ${f1(beyond)} |`);
  }
  lines.push("");
  const flag = (x: { changed: string[] }) => (x.changed.length ? ` (not a no-op: ${x.changed.join("; ")})` : "");
  lines.push(`| berth, one after another | 1 site | ${sites} sites | per extra site |`);
  lines.push("| --- | --- | --- | --- |");
  for (const [what, key] of [["`pulumi preview`", "preview"], ["no-op `pulumi up`", "up"]] as const) {
    const one = previews.one[key]!;
    const all = previews.all[key]!;
    const perSite = sites > 1 ? (all.seconds - one.seconds) / (sites - 1) : undefined;
    lines.push(`| ${what} | ${f1(one.seconds)}${flag(one)} | ${f1(all.seconds)}${flag(all)} | ${f1(perSite)} |`);
  }
  return lines.join("\n");
}

async function main() {
  const { engineBin, pluginBin, providers, devhost } = await prepareEnvironment(path.resolve(__dirname, ".."));
  console.error(providers);
  const wanted = (process.env.BENCH_ROWS ?? (QUICK ? "tag,env" : CHANGES.map((c) => c.key).join(","))).split(",").map((k) => k.trim());
  const unknown = wanted.filter((k) => !CHANGES.some((c) => c.key === k));
  if (unknown.length) throw new Error(`BENCH_ROWS: unknown ${unknown.join(", ")}; rows are ${CHANGES.map((c) => c.key).join(", ")}`);
  const changes = CHANGES.filter((c) => wanted.includes(c.key));
  if (!Number.isInteger(SITES) || SITES < 1) throw new Error(`BENCH_SITES must be a whole number of sites, at least 1; got ${process.env.BENCH_SITES}`);

  const bench = new Bench(engineBin, pluginBin, devhost);
  const stop = () => {
    console.error("bench: interrupted, cleaning up");
    void bench.cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const machineLine = await machine();
  try {
    await bench.buildImages();
    const state: State = {
      tag: "v1",
      env: { GREETING: "hello" },
      sessionRotation: 1,
      sessionSecret: secret(),
      stripeKey: `sk_bench_${secret()}`,
      dbRotation: 1,
      healthInterval: { berth: "1000ms", compose: "1s" },
    };

    // berth's site and compose's project, both serving v1 with the same rows.
    console.error("bench: berth site up");
    const stack = await bench.newStack(SITE, state, SITE, DOMAIN);
    await bench.serving(DOMAIN, "v1");
    await bench.seedRows(DOMAIN);
    const base = devhostSite(devhost, SITE, DOMAIN);
    const hc = base.app.healthCheck as { interval: string; timeout: string; retries: number; startPeriod: string };
    const composeDir = path.join(bench.tmp, "compose");
    fs.mkdirSync(composeDir);
    bench.compose = new ComposeProject(
      {
        project: COMPOSE_PROJECT,
        image: IMAGE,
        hostPort: COMPOSE_PORT,
        port: Number(base.app.port),
        appMemory: String(base.app.memory),
        dbMemory: "512m",
        dbImage: `${base.database.image}:${base.database.tag}`,
        health: { path: "/api/health", timeout: hc.timeout, retries: hc.retries, startPeriod: hc.startPeriod },
        stopGraceSeconds: Number(base.app.stopTimeout),
      },
      composeDir,
    );
    // A project left by an interrupted run of this bench would hold the port.
    await bench.compose.down();
    console.error("bench: compose project up");
    bench.compose.write(bench.composeState(state));
    await bench.compose.up();
    await bench.composeVhost();
    await bench.serving(COMPOSE_DOMAIN, "v1");
    await bench.seedRows(COMPOSE_DOMAIN);

    for (let i = 0; i < BOOT_SAMPLES; i++) bench.bootSeconds.push(await bench.appBoot(state.tag));

    // Each change on berth, then the same on compose, back to back.
    for (const change of changes) {
      if (change.setup) {
        change.setup(state);
        await bench.applyBerth(stack, state);
        await stack.stack.up({ onOutput: quiet });
        bench.compose.write(bench.composeState(state));
        await bench.compose.up();
        await bench.serving(COMPOSE_DOMAIN);
      }
      change.edit(state);
      console.error(`bench: ${change.key}`);
      await bench.berthRow(stack, change, state);
      await bench.composeRow(change, state);
    }

    // Preview and no-op up, for one site and for SITES sites on the one host (a stack each).
    console.error(`bench: ${SITES - 1} more sites up`);
    const sites = [stack];
    for (let i = 2; i <= SITES; i++) sites.push(await bench.newStack(`${SITE}${i}`, state, `${SITE}${i}`, `${SITE}${i}.berth.test`));
    const preview = (s: LocalStack) => s.stack.preview({ onOutput: quiet }).then((r) => r.changeSummary);
    const noop = (s: LocalStack) => s.stack.up({ onOutput: quiet }).then((r) => r.summary.resourceChanges);
    const previews = {
      one: { preview: await bench.timed([stack], preview), up: await bench.timed([stack], noop) },
      all: { preview: await bench.timed(sites, preview), up: await bench.timed(sites, noop) },
    };

    console.log(report(bench, previews, SITES, machineLine));
  } finally {
    console.error("bench: cleaning up");
    await bench.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
