import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
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
