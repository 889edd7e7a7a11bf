/**
 * A Docker Engine API client, JSON over HTTP, standing in for the docker/docker Go client KD uses
 * (SEMANTICS.md §1). Transports: `unix://` (node http with `socketPath`), `tcp://`/`http://`
 * (plain HTTP), and `ssh://` (the local `ssh` binary running `docker system dial-stdio`,
 * `ssh-dial.ts`). Connections are pooled like the Go client's transport (keep-alive, at most 2
 * idle per host, closed after 30 s idle: docker/docker client `defaultHTTPClient` with Go's
 * `http.Transport` defaults), so an ssh host costs one ssh process per concurrent connection, not
 * per request. (One process per request overran sshd's MaxStartups 10:30:100 with 20 parallel
 * requests, and the real client does not do that either.)
 *
 * The client is built lazily, the first time an operation needs it, and cached per config, as KD's
 * `MakeClient` does (KD:internal/provider/config.go:116-206). Building it pings the daemon; a ping
 * failure is KD's message, and the CRUD functions prefix it with `failed to create Docker client: `.
 * The API version is negotiated from the ping's `Api-Version` header (client maximum 1.51, the
 * docker/docker v28 client's), and every later path is `/v<version>/…`.
 */
import * as http from "node:http";
import type { Duplex } from "node:stream";
import type { AuthConfigs } from "./registry-auth";
import { CommandConn, parseSshUrl, sshArgs } from "./ssh-dial";

export interface DockerConfig {
  /** The daemon address after defaults (env DOCKER_HOST, else the local socket) and contexts. */
  host: string;
  sshOpts: string[];
  /** `disableDockerDaemonCheck`: skip the ping (and so the version negotiation's first probe). */
  disableDockerDaemonCheck: boolean;
  /**
   * `registryAuth` as Configure parsed it: credentials by registry hostname, sent with pulls. Not
   * part of the client's identity (KD's client cache hashes only the connection settings,
   * KD:internal/provider/config.go:38-60).
   */
  authConfigs: AuthConfigs;
}

/** The docker/docker v28.5 client's own API version; negotiation never goes above it. */
const CLIENT_MAX_API = "1.51";
/** What the Go client assumes when the daemon's ping carries no version. */
const FALLBACK_API = "1.24";

/** An error the daemon answered with (HTTP status ≥ 400), worded as the Go client words it. */
export class DockerApiError extends Error {
  constructor(
    readonly status: number,
    readonly daemonMessage: string,
  ) {
    super(`Error response from daemon: ${daemonMessage}`);
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof DockerApiError && e.status === 404;
}

/** KD's containsIgnorableErrorMessage: a case-insensitive substring test on the error text. */
export function errorContains(e: unknown, ...needles: string[]): boolean {
  const text = (e instanceof Error ? e.message : String(e)).toLowerCase();
  return needles.some((n) => text.includes(n.toLowerCase()));
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Query = Record<string, string | number | boolean | undefined>;

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export class DockerClient {
  private version?: string;
  private readonly transport: { kind: "unix"; socketPath: string } | { kind: "tcp"; hostname: string; port: number } | { kind: "ssh"; args: string[] };

  /** The connection pool (Go transport: keep-alive, MaxIdleConnsPerHost 2, IdleConnTimeout 30 s). */
  private readonly agent: http.Agent;

  constructor(readonly config: DockerConfig) {
    const host = config.host;
    if (host.startsWith("unix://")) {
      this.transport = { kind: "unix", socketPath: host.slice("unix://".length) };
    } else if (host.startsWith("ssh://")) {
      this.transport = { kind: "ssh", args: sshArgs(parseSshUrl(host), config.sshOpts) };
    } else if (/^(tcp|http):\/\//.test(host)) {
      const u = new URL(host.replace(/^tcp:/, "http:"));
      this.transport = { kind: "tcp", hostname: u.hostname, port: Number(u.port || 2375) };
    } else {
      throw new Error(`unable to parse docker host \`${host}\``);
    }
    const pool = { keepAlive: true, maxFreeSockets: 2, timeout: 30_000 };
    const t = this.transport;
    if (t.kind === "ssh") {
      // Each new connection is a new local `ssh … docker system dial-stdio` process.
      this.agent = new (class extends http.Agent {
        override createConnection() {
          return new CommandConn("ssh", t.args) as unknown as Duplex as never;
        }
      })(pool);
    } else {
      this.agent = new http.Agent(pool);
    }
  }

  /** The API version in use (after negotiation). */
  get apiVersion(): string {
    return this.version ?? CLIENT_MAX_API;
  }

  /** The Host header and URL host the Go client uses for this transport (ssh: a dummy host). */
  private get urlHost(): string {
    if (this.transport.kind === "ssh") return "docker.example.com";
    if (this.transport.kind === "unix") return "api.moby.localhost";
    return `${this.transport.hostname}:${this.transport.port}`;
  }

  /** Sends one request on a pooled connection and reads the whole response. */
  private send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const hdrs: Record<string, string> = { Host: this.urlHost, "User-Agent": "Docker-Client/28.5.2 (linux)", ...headers };
    if (payload) {
      hdrs["Content-Type"] = "application/json";
      hdrs["Content-Length"] = String(payload.length);
    }
    const opts: http.RequestOptions = { method, path, headers: hdrs, agent: this.agent };
    const t = this.transport;
    if (t.kind === "unix") opts.socketPath = t.socketPath;
    else if (t.kind === "tcp") {
      opts.host = t.hostname;
      opts.port = t.port;
    } else {
      opts.host = this.urlHost;
    }
    return new Promise<Response>((resolve, reject) => {
      const req = http.request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", (e) => reject(this.connectError(method, path, e)));
      });
      req.on("error", (e) => reject(this.connectError(method, path, e)));
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Connection failures worded like the Go client's doRequest. */
  private connectError(method: string, path: string, e: Error): Error {
    const code = (e as NodeJS.ErrnoException).code;
    const goMethod = method.charAt(0) + method.slice(1).toLowerCase();
    const url = `http://${this.urlHost}${path}`;
    if (this.transport.kind !== "ssh") {
      if (code === "EACCES")
        return new Error(`permission denied while trying to connect to the Docker daemon socket at ${this.config.host}: ${goMethod} "${url}": ${e.message}`);
      if (code === "ENOENT" || code === "ECONNREFUSED" || code === "ETIMEDOUT")
        return new Error(`Cannot connect to the Docker daemon at ${this.config.host}. Is the docker daemon running?`);
    }
    return new Error(`error during connect: ${goMethod} "${url}": ${e.message}`);
  }

  private static check(res: Response): Response {
    if (res.status >= 200 && res.status < 400) return res;
    const text = res.body.toString("utf8");
    let message = text.trim();
    if (String(res.headers["content-type"] ?? "").includes("application/json")) {
      try {
        message = String((JSON.parse(text) as { message?: string }).message ?? "").trim();
      } catch {
        // not JSON after all: keep the raw text
      }
    }
    if (!message) message = `${res.status} ${http.STATUS_CODES[res.status] ?? ""}`.trim();
    throw new DockerApiError(res.status, message);
  }

  /**
   * The Go client's Ping: `HEAD /_ping` (unversioned), falling back to `GET` when the daemon
   * answered with an error; records the daemon's API version.
   */
  async ping(): Promise<void> {
    let res = await this.send("HEAD", "/_ping");
    if (res.status >= 400) res = DockerClient.check(await this.send("GET", "/_ping"));
    this.negotiate(res.headers["api-version"] as string | undefined);
  }

  private negotiate(serverVersion: string | undefined) {
    const v = serverVersion || FALLBACK_API;
    this.version = compareVersions(v, CLIENT_MAX_API) < 0 ? v : CLIENT_MAX_API;
  }

  private async ensureVersion() {
    if (this.version) return;
    // WithAPIVersionNegotiation: the first request pings (even with the daemon check disabled).
    await this.ping();
  }

  /** A versioned API call; returns the parsed JSON body (or undefined when empty). */
  async call<T = unknown>(method: string, path: string, opts: { query?: Query; body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
    await this.ensureVersion();
    const q = Object.entries(opts.query ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join("&");
    const full = `/v${this.version}${path}${q ? `?${q}` : ""}`;
    const res = DockerClient.check(await this.send(method, full, opts.body, opts.headers));
    const text = res.body.toString("utf8");
    if (!text.trim()) return undefined as T;
    if (String(res.headers["content-type"] ?? "").includes("application/json")) {
      try {
        return JSON.parse(text) as T;
      } catch {
        // a JSON stream (image pull): hand back the raw text
      }
    }
    return text as T;
  }
}

const cache = new Map<string, DockerClient>();

/**
 * KD's MakeClient: the cached client for this config, or a new one that pings the daemon first
 * (unless `disableDockerDaemonCheck`). Only a client that pinged fine is cached. Errors carry KD's
 * text; callers add the `failed to create Docker client: ` prefix.
 */
export async function makeClient(config: DockerConfig): Promise<DockerClient> {
  const key = JSON.stringify([config.host, config.sshOpts, config.disableDockerDaemonCheck]);
  const hit = cache.get(key);
  if (hit) return hit;
  const client = new DockerClient(config);
  if (!config.disableDockerDaemonCheck) {
    try {
      await client.ping();
    } catch (e) {
      throw new Error(
        `Error pinging Docker server, please make sure that ${config.host} is reachable and has a  '_ping' endpoint. Error: ${(e as Error).message}`,
      );
    }
  }
  cache.set(key, client);
  return client;
}

/** What every CRUD function does first (e.g. KD resource_docker_container_funcs.go:44-46). */
export async function clientFor(config: DockerConfig): Promise<DockerClient> {
  try {
    return await makeClient(config);
  } catch (e) {
    throw new Error(`failed to create Docker client: ${(e as Error).message}`);
  }
}

/** For tests: forget cached clients. */
export function clearClientCache() {
  cache.clear();
}
