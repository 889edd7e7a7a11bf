import { chmodSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { fullPath } from "./global-setup";

export const PATH = fullPath();

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `berth-render-${label}-`));
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without throwing; a missing binary shows up as a failed result with the spawn error. */
export async function run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  const r = await execa(cmd, args, {
    reject: false,
    input: opts.input,
    cwd: opts.cwd,
    env: { PATH, ...opts.env },
    extendEnv: true,
  });
  const spawnError = r.failed && r.exitCode === undefined ? `\n(could not run ${cmd}: ${r.message})` : "";
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) + spawnError };
}

/**
 * A throwaway nginx prefix: minimal nginx.conf that includes `<prefix>/sites/*.conf`
 * inside `http {}`, with pid, logs and temp paths inside the prefix.
 */
export function nginxPrefix(): { prefix: string; sites: string; logs: string; args: string[] } {
  const prefix = tempDir("nginx");
  const sites = join(prefix, "sites");
  const logs = join(prefix, "logs");
  mkdirSync(sites);
  mkdirSync(logs);
  writeFileSync(
    join(prefix, "nginx.conf"),
    `worker_processes 1;
events { worker_connections 64; }
http {
    access_log ${logs}/access.log;
    client_body_temp_path ${prefix}/client_body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    include ${sites}/*.conf;
}
`,
  );
  const args = ["-p", `${prefix}/`, "-c", join(prefix, "nginx.conf"), "-g", `pid ${prefix}/nginx.pid; error_log ${logs}/error.log;`];
  return { prefix, sites, logs, args };
}

let certs: Promise<{ cert: string; key: string }> | undefined;

/** One self-signed EC certificate per test file, made with openssl req -x509. */
export function selfSignedCert(): Promise<{ cert: string; key: string }> {
  certs ??= (async () => {
    const dir = tempDir("tls");
    const cert = join(dir, "fullchain.pem");
    const key = join(dir, "privkey.pem");
    const r = await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert]);
    if (r.exitCode !== 0) throw new Error(`openssl req -x509 failed: ${r.stderr}`);
    return { cert, key };
  })();
  return certs;
}

/** Structure fingerprint used by the property tests: what an injected value would change. */
export function nginxShape(text: string): { semicolons: number; open: number; close: number; lines: number } {
  const count = (c: string) => text.split(c).length - 1;
  return { semicolons: count(";"), open: count("{"), close: count("}"), lines: count("\n") };
}

/** Fails a test file with the binary's name instead of a confusing spawn error further down. */
export async function requireBinaries(suite: string, bins: string[]): Promise<void> {
  for (const bin of bins) {
    const r = await run("sh", ["-c", `command -v ${bin}`]);
    if (r.exitCode !== 0) throw new Error(`${suite} render tests need ${bin} on PATH (${PATH}); install it (Debian: apt-get install ${bin})`);
  }
}

/** A running nginx the install and remove scripts drive as they drive a host's (see liveNginx). */
export interface LiveNginx {
  /** The prefix's `sites` directory: the scripts' confDir. */
  sites: string;
  logs: string;
  /** Runs a bash script with the fake `systemctl` and the prefix's `nginx` first on PATH. */
  runScript(script: string): Promise<RunResult>;
  /** The master's pid. */
  master(): number;
  /** The pids of the master's children (its workers), read from /proc. */
  workers(): number[];
  /** Whether a pid is a live (not zombie) child of the master. */
  isWorker(pid: number): boolean;
  /** The prefix's error log, for failure messages. */
  errorLog(): string;
  /** Stops the master (SIGQUIT) and waits for it. */
  stop(): Promise<void>;
}

/**
 * nginx from a throwaway prefix (nginxPrefix), running in the foreground under the test with its
 * master and one worker, serving nothing until a script installs a site. `runScript` puts two
 * stand-ins first on PATH: `systemctl`, which answers `is-active`, `show -p MainPID` and `reload`
 * (SIGHUP) for this master and refuses anything else, and `nginx`, the real binary with the
 * prefix's arguments. berth's site scripts then run unchanged against it, `nginx -t`, the reload
 * and its waits for the worker generations included.
 */
export async function liveNginx(): Promise<LiveNginx> {
  const n = nginxPrefix();
  const pidFile = join(n.prefix, "nginx.pid");
  const bin = tempDir("live-bin");
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  writeFileSync(
    join(bin, "systemctl"),
    `#!/bin/sh
pid=$(cat ${q(pidFile)} 2>/dev/null)
case "$*" in
  "is-active --quiet nginx") kill -0 "$pid" 2>/dev/null ;;
  "show -p MainPID --value nginx") echo "$pid" ;;
  "reload nginx") kill -HUP "$pid" ;;
  *) echo "fake systemctl: not faked: $*" >&2; exit 1 ;;
esac
`,
  );
  writeFileSync(join(bin, "nginx"), `#!/bin/sh\nexec /usr/sbin/nginx ${n.args.map(q).join(" ")} "$@"\n`);
  chmodSync(join(bin, "systemctl"), 0o755);
  chmodSync(join(bin, "nginx"), 0o755);
  const args = [...n.args];
  args[args.length - 1] += " daemon off;";
  const proc = execa("nginx", args, { reject: false, env: { PATH } });
  const errorLog = () => {
    try {
      return readFileSync(join(n.logs, "error.log"), "utf8");
    } catch {
      return "(no error log)";
    }
  };
  const master = () => Number(readFileSync(pidFile, "utf8").trim());
  const stat = (pid: number) => {
    try {
      // pid (comm) state ppid ...; nginx's comm has no spaces.
      const [, , state, ppid] = readFileSync(`/proc/${pid}/stat`, "utf8").split(" ");
      return { state, ppid: Number(ppid) };
    } catch {
      return undefined;
    }
  };
  const workers = () =>
    readdirSync("/proc")
      .filter((d) => /^[0-9]+$/.test(d))
      .map(Number)
      .filter((pid) => stat(pid)?.ppid === master());
  const started = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode}):\n${(await proc).stderr}\n${errorLog()}`);
    if (existsSync(pidFile) && workers().length > 0) break;
    if (Date.now() - started > 10_000) throw new Error(`nginx did not start a worker within 10 s:\n${errorLog()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    sites: n.sites,
    logs: n.logs,
    runScript: (script) => run("bash", ["-c", script], { env: { PATH: `${bin}:${PATH}` } }),
    master,
    workers,
    isWorker: (pid) => {
      const s = stat(pid);
      return s !== undefined && s.state !== "Z" && s.ppid === master();
    },
    errorLog,
    async stop() {
      // Only the master this helper started; its workers exit with it.
      if (proc.exitCode === null) proc.kill("SIGQUIT");
      await proc;
    },
  };
}
