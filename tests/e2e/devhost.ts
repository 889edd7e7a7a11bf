/** Talking to the devhost the way an operator would: HTTPS through its nginx, and a root shell. */
import * as https from "node:https";
import { execa } from "execa";

export interface SiteResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** An HTTPS request to nginx on the devhost, for `host`, trusting whatever certificate it serves. */
export function request(
  host: string,
  port: number,
  path: string,
  opts: { method?: string; body?: string; timeoutMs?: number } = {},
): Promise<SiteResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: opts.method ?? "GET",
        servername: host,
        headers: { host: `${host}:${port}`, ...(opts.body !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(opts.body) } : {}) },
        rejectUnauthorized: false,
        timeout: opts.timeoutMs ?? 10_000,
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${path}`)));
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** The certificate nginx serves for `host` (to tell self-signed from ACME-issued). */
export function peerCertificate(host: string, port: number): Promise<{ issuer: string; subjectaltname?: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, path: "/", servername: host, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as import("node:tls").TLSSocket).getPeerCertificate();
      res.resume();
      resolve({ issuer: Object.entries(cert.issuer ?? {}).map(([k, v]) => `${k}=${v}`).join(","), subjectaltname: cert.subjectaltname });
    });
    req.on("error", reject);
    req.end();
  });
}

/** A root shell command on the devhost. */
export async function onDevhost(container: string, script: string, opts: { reject?: boolean } = {}) {
  const r = await execa("docker", ["exec", container, "bash", "-c", script], { reject: opts.reject ?? true });
  return { exitCode: r.exitCode ?? 0, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Polls until `check` returns true or the time runs out. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export interface LoadResult {
  total: number;
  /** Requests that did not answer 200 (errors included), with what they got. */
  failures: Array<{ at: number; what: string }>;
  /** 200 answers by the `version` field of the body. */
  versions: Record<string, number>;
  seconds: number;
}

/**
 * A bounded request loop through nginx: `concurrency` workers, each stopping at `stop()`, after
 * `maxRequests` in all, or after `maxSeconds`, whichever comes first. Loopback only.
 */
export function startLoad(host: string, port: number, path: string, opts: { concurrency?: number; maxRequests?: number; maxSeconds?: number } = {}) {
  const concurrency = opts.concurrency ?? 4;
  const maxRequests = opts.maxRequests ?? 20_000;
  const deadline = Date.now() + (opts.maxSeconds ?? 300) * 1000;
  const started = Date.now();
  const result: LoadResult = { total: 0, failures: [], versions: {}, seconds: 0 };
  let stopping = false;
  const worker = async () => {
    while (!stopping && result.total < maxRequests && Date.now() < deadline) {
      result.total++;
      const at = Date.now() - started;
      try {
        const r = await request(host, port, path, { timeoutMs: 10_000 });
        if (r.status !== 200) result.failures.push({ at, what: `HTTP ${r.status}: ${r.body.slice(0, 120)}` });
        else {
          const version = String((JSON.parse(r.body) as { version?: string }).version);
          result.versions[version] = (result.versions[version] ?? 0) + 1;
        }
      } catch (e) {
        result.failures.push({ at, what: String(e) });
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    /** Requests sent so far. */
    sent: () => result.total,
    async stop(): Promise<LoadResult> {
      stopping = true;
      await Promise.all(workers);
      result.seconds = (Date.now() - started) / 1000;
      return result;
    },
  };
}
