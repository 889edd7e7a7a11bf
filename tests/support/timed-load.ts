/**
 * A bounded request loop through nginx that keeps the time of every response, so a caller can say
 * not only how many requests failed but how long the site gave no answer at all: the longest gap
 * between two successful responses. `startLoad` in tests/e2e/devhost.ts counts failures only; this
 * one is separate so its callers' results stay as they are.
 */
import { request } from "../e2e/devhost";

export interface TimedResponse {
  /** `Date.now()` when the request was sent and when its answer (or error) arrived. */
  sentAt: number;
  doneAt: number;
  path: string;
  ok: boolean;
  /** The `version` field of a successful `/api/version` answer. */
  version?: string;
  /** Why it failed: the status and the start of the body, or the error. */
  what?: string;
}

export interface TimedLoadResult {
  total: number;
  failures: TimedResponse[];
  /** Successful answers by the `version` field (for the paths that report one). */
  versions: Record<string, number>;
  /** Milliseconds between the two successive successful answers furthest apart, and when the gap began. */
  longestGapMs: number;
  longestGapFrom: number;
  startedAt: number;
  stoppedAt: number;
}

export interface TimedLoadOptions {
  /** Clients sending at the same time, each one request after another. @default 4 */
  concurrency?: number;
  /** Requests in all, whatever happens. @default 100_000 */
  maxRequests?: number;
  /** Seconds in all, whatever happens. @default 600 */
  maxSeconds?: number;
  /** One request's limit. @default 10_000 */
  timeoutMs?: number;
}

/**
 * Starts `concurrency` clients sending HTTPS requests to nginx on 127.0.0.1:`port` for `host`,
 * taking the paths in turn (a mix such as `/api/rows` and `/api/version` exercises the database
 * and tells the version apart). A 200 is a success; any other status, an error or a timeout is a
 * failure. It stops at `stop()`, after `maxRequests` or after `maxSeconds`, whichever comes first.
 */
export function startTimedLoad(host: string, port: number, paths: string[], opts: TimedLoadOptions = {}) {
  if (paths.length === 0) throw new Error("startTimedLoad: at least one path");
  const concurrency = opts.concurrency ?? 4;
  const maxRequests = opts.maxRequests ?? 100_000;
  const startedAt = Date.now();
  const deadline = startedAt + (opts.maxSeconds ?? 600) * 1000;
  const responses: TimedResponse[] = [];
  const waiters: Array<{ match: (r: TimedResponse) => boolean; resolve: (r: TimedResponse) => void; reject: (e: Error) => void }> = [];
  let sent = 0;
  let stopping = false;

  const record = (r: TimedResponse) => {
    responses.push(r);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.match(r)) {
        waiters[i]!.resolve(r);
        waiters.splice(i, 1);
      }
    }
  };
  const client = async () => {
    while (!stopping && sent < maxRequests && Date.now() < deadline) {
      const path = paths[sent % paths.length]!;
      sent++;
      const sentAt = Date.now();
      try {
        const r = await request(host, port, path, { timeoutMs: opts.timeoutMs ?? 10_000 });
        const doneAt = Date.now();
        if (r.status !== 200) {
          record({ sentAt, doneAt, path, ok: false, what: `HTTP ${r.status}: ${r.body.slice(0, 120)}` });
          continue;
        }
        let version: string | undefined;
        try {
          const body = JSON.parse(r.body) as unknown;
          if (body && typeof body === "object" && !Array.isArray(body) && "version" in body) version = String((body as { version: unknown }).version);
        } catch {
          record({ sentAt, doneAt, path, ok: false, what: `HTTP 200 with a body that is not JSON: ${r.body.slice(0, 120)}` });
          continue;
        }
        record({ sentAt, doneAt, path, ok: true, version });
      } catch (e) {
        record({ sentAt, doneAt: Date.now(), path, ok: false, what: String(e) });
      }
    }
  };
  let ended = false;
  const clients = Promise.all(Array.from({ length: concurrency }, client)).then(() => {
    ended = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`the request loop ended (${sent} requests) without a matching response`));
  });

  return {
    /** Requests sent so far. */
    sent: () => sent,
    /** Whether every client has stopped (at `stop()`, or at the count or time bound). */
    ended: () => ended,
    /**
     * The first response, sent at or after `after` (a `Date.now()` value), that `match` accepts;
     * rejects after `limitSeconds` or when the loop has ended without one.
     */
    firstAfter(after: number, match: (r: TimedResponse) => boolean, limitSeconds = 300): Promise<TimedResponse> {
      const accept = (r: TimedResponse) => r.sentAt >= after && match(r);
      const seen = responses.find(accept);
      if (seen) return Promise.resolve(seen);
      if (ended) return Promise.reject(new Error(`the request loop ended (${sent} requests) without a matching response`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching response within ${limitSeconds}s (${sent} requests sent)`));
        }, limitSeconds * 1000);
        const waiter = {
          match: accept,
          resolve: (r: TimedResponse) => (clearTimeout(timer), resolve(r)),
          reject: (e: Error) => (clearTimeout(timer), reject(e)),
        };
        waiters.push(waiter);
      });
    },
    async stop(): Promise<TimedLoadResult> {
      stopping = true;
      await clients;
      const stoppedAt = Date.now();
      const successes = responses.filter((r) => r.ok).map((r) => r.doneAt).sort((a, b) => a - b);
      let longestGapMs = 0;
      let longestGapFrom = startedAt;
      for (let i = 1; i < successes.length; i++) {
        const gap = successes[i]! - successes[i - 1]!;
        if (gap > longestGapMs) [longestGapMs, longestGapFrom] = [gap, successes[i - 1]!];
      }
      const versions: Record<string, number> = {};
      for (const r of responses) if (r.ok && r.version !== undefined) versions[r.version] = (versions[r.version] ?? 0) + 1;
      return { total: responses.length, failures: responses.filter((r) => !r.ok), versions, longestGapMs, longestGapFrom, startedAt, stoppedAt };
    },
  };
}
