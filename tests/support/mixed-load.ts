/**
 * A bounded request loop through nginx over several paths in turn, so a deploy is watched both on a
 * path that needs the database (`/api/rows`: a database password rotation can only fail there) and
 * on one that tells the releases apart (`/api/version`). `startLoad` in tests/e2e/devhost.ts asks
 * one path and counts versions only; its callers keep it as it is.
 */
import { request } from "../e2e/devhost";

export interface MixedFailure {
  /** Milliseconds after the loop started that the request was sent. */
  at: number;
  /** When it was sent (UTC), to find it in the app's and the database's logs. */
  when: string;
  path: string;
  /** The status and the start of the body, or the error. */
  what: string;
}

export interface MixedLoadResult {
  /** Requests sent and answered (or failed). */
  total: number;
  /** Requests that did not answer 200 with the body their path promises, with what they got. */
  failures: MixedFailure[];
  /** 200 answers by the `version` field of the body, for the paths whose body has one. */
  versions: Record<string, number>;
  /** Successful answers by path. */
  byPath: Record<string, number>;
  /** The slowest answer, in milliseconds: a deploy that stalls requests shows here before it fails them. */
  slowestMs: number;
  seconds: number;
}

export interface MixedLoadOptions {
  /** Clients sending at the same time, each one request after the other. @default 4 */
  concurrency?: number;
  /** Requests in all, whatever happens. @default 20_000 */
  maxRequests?: number;
  /** Seconds in all, whatever happens. @default 300 */
  maxSeconds?: number;
  /** One request's limit. @default 10_000 */
  timeoutMs?: number;
}

/**
 * What a 200 body must be: a JSON array for `/api/rows` (an error page from a proxy in between can
 * carry a 200 too), a JSON object otherwise. Returns the `version` field when there is one.
 */
function check(path: string, body: string): { ok: true; version?: string } | { ok: false; what: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, what: `HTTP 200 with a body that is not JSON: ${body.slice(0, 120)}` };
  }
  if (path.startsWith("/api/rows")) return Array.isArray(json) ? { ok: true } : { ok: false, what: `HTTP 200 without the rows: ${body.slice(0, 120)}` };
  if (json === null || typeof json !== "object" || Array.isArray(json)) return { ok: false, what: `HTTP 200 with an unexpected body: ${body.slice(0, 120)}` };
  const version = (json as { version?: unknown }).version;
  return version === undefined ? { ok: true } : { ok: true, version: String(version) };
}

/**
 * Starts `concurrency` clients sending HTTPS requests to nginx on 127.0.0.1:`port` for `host`,
 * taking `paths` in turn. A 200 with the expected body is a success; any other status, a timeout or
 * an error is a failure. It stops at `stop()`, after `maxRequests` or after `maxSeconds`, whichever
 * comes first. Loopback only.
 */
export function startMixedLoad(host: string, port: number, paths: string[], opts: MixedLoadOptions = {}) {
  if (paths.length === 0) throw new Error("startMixedLoad: at least one path");
  const concurrency = opts.concurrency ?? 4;
  const maxRequests = opts.maxRequests ?? 20_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const started = Date.now();
  const deadline = started + (opts.maxSeconds ?? 300) * 1000;
  const result: MixedLoadResult = { total: 0, failures: [], versions: {}, byPath: {}, slowestMs: 0, seconds: 0 };
  let sent = 0;
  let stopping = false;
  const client = async () => {
    while (!stopping && sent < maxRequests && Date.now() < deadline) {
      const path = paths[sent % paths.length]!;
      sent++;
      const sentAt = Date.now();
      let failure: string | undefined;
      try {
        const r = await request(host, port, path, { timeoutMs });
        if (r.status !== 200) failure = `HTTP ${r.status}: ${r.body.slice(0, 120)}`;
        else {
          const c = check(path, r.body);
          if (!c.ok) failure = c.what;
          else {
            result.byPath[path] = (result.byPath[path] ?? 0) + 1;
            if (c.version !== undefined) result.versions[c.version] = (result.versions[c.version] ?? 0) + 1;
          }
        }
      } catch (e) {
        failure = String(e);
      }
      result.total++;
      result.slowestMs = Math.max(result.slowestMs, Date.now() - sentAt);
      if (failure !== undefined) result.failures.push({ at: sentAt - started, when: new Date(sentAt).toISOString(), path, what: failure });
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  return {
    /** Requests sent so far. */
    sent: () => sent,
    async stop(): Promise<MixedLoadResult> {
      stopping = true;
      await Promise.all(clients);
      result.seconds = (Date.now() - started) / 1000;
      return result;
    },
  };
}
