/**
 * Dialling an SSH host the way pulumi-command's `Connection.Dial` does (SEMANTICS.md §6
 * "Connection"; PC remote/connection.go:41-255, connection_unix.go): the client configuration is
 * built once (host key, private key, password, agent), then the dial — a TCP connect bounded by
 * `perDialTimeout` followed by the SSH handshake — is retried with backoff until more than
 * `dialErrorLimit` attempts failed.
 *
 * Error texts follow golang.org/x/crypto/ssh and Go's net package where the stand-in can tell
 * which case it is, because the real texts end up in `pulumi up` output and in error matching.
 */
import * as net from "node:net";
import { type AnyAuthMethod, type AuthHandlerMiddleware, Client, type ConnectConfig, utils } from "ssh2";

/** `command:remote:Connection` as the stand-in implements it (no `proxy`). */
export interface Connection {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agentSocketPath?: string;
  dialErrorLimit: number;
  perDialTimeout: number;
  hostKey?: string;
}

/** Schema defaults (`a.SetDefault` in PC remote/connection.go; the Node SDK applies the same). */
export const CONNECTION_DEFAULTS = { user: "root", port: 22, dialErrorLimit: 10, perDialTimeout: 15 } as const;

/** Logs an ephemeral info line (pulumi-go-provider's `InfoStatus`). */
export type StatusLog = (message: string) => Promise<void> | void;

/** The stored `connection` value (plain, secrets revealed) with the defaults filled in. */
export function parseConnection(v: unknown): Connection {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("connection must be an object");
  const c = v as Record<string, unknown>;
  const str = (k: string) => (typeof c[k] === "string" ? (c[k] as string) : undefined);
  const num = (k: string) => (typeof c[k] === "number" ? (c[k] as number) : undefined);
  if (c.proxy !== undefined && c.proxy !== null) {
    throw new Error("the command stand-in does not implement command:remote:Connection.proxy (bastion dialling)");
  }
  const host = str("host");
  if (host === undefined) throw new Error("connection.host is required");
  return {
    host,
    port: num("port") ?? CONNECTION_DEFAULTS.port,
    user: str("user") ?? CONNECTION_DEFAULTS.user,
    password: str("password"),
    privateKey: str("privateKey"),
    privateKeyPassword: str("privateKeyPassword"),
    agentSocketPath: str("agentSocketPath"),
    dialErrorLimit: num("dialErrorLimit") ?? CONNECTION_DEFAULTS.dialErrorLimit,
    perDialTimeout: num("perDialTimeout") ?? CONNECTION_DEFAULTS.perDialTimeout,
    hostKey: str("hostKey"),
  };
}

/** Go's `net.JoinHostPort(host, fmt.Sprintf("%d", int(port)))`. */
function endpoint(c: Connection): string {
  const port = Math.trunc(c.port);
  return c.host.includes(":") ? `[${c.host}]:${port}` : `${c.host}:${port}`;
}

/** Go's texts for the errno values a dial commonly meets (syscall.Errno.Error()). */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network is unreachable",
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  ETIMEDOUT: "connection timed out",
  EADDRNOTAVAIL: "cannot assign requested address",
};

function errnoText(e: NodeJS.ErrnoException): string {
  return (e.code && ERRNO_TEXT[e.code]) ?? e.message;
}

/**
 * The parsed `hostKey`: `ssh.ParseAuthorizedKey` takes an authorized_keys line (options, key type,
 * base64 blob, comment). The blob's own type string must match.
 */
function parseHostKey(line: string): { type: string; blob: Buffer } {
  const fields = line.trim().split(/\s+/);
  for (let i = 0; i + 1 < fields.length; i++) {
    const blob = Buffer.from(fields[i + 1]!, "base64");
    if (blob.length < 4 || blob.toString("base64").replace(/=+$/, "") !== fields[i + 1]!.replace(/=+$/, "")) continue;
    const len = blob.readUInt32BE(0);
    if (4 + len > blob.length || blob.subarray(4, 4 + len).toString("latin1") !== fields[i]) continue;
    return { type: fields[i]!, blob };
  }
  throw new Error("failed to parse host key: ssh: no key found");
}

/** One authentication method in x/crypto's vocabulary: its method name and how ssh2 does it. */
interface AuthMethod {
  method: "publickey" | "password" | "keyboard-interactive";
  ssh2: AnyAuthMethod;
}

/** What `SSHConfig()` builds: done once per run, before any dial, and its errors are not retried. */
interface ClientSetup {
  auth: AuthMethod[];
  hostKey?: { type: string; blob: Buffer };
}

/** Dials the agent socket to prove it is there, as `dialAgent` does (its error fails the run). */
function probeAgent(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path });
    s.once("connect", () => {
      s.destroy();
      resolve();
    });
    s.once("error", (e: NodeJS.ErrnoException) => reject(new Error(`dial unix ${path}: connect: ${errnoText(e)}`)));
  });
}

async function clientSetup(c: Connection): Promise<ClientSetup> {
  const setup: ClientSetup = { auth: [] };
  // Host key: unset means InsecureIgnoreHostKey; set means FixedHostKey plus that one algorithm.
  if (c.hostKey !== undefined) setup.hostKey = parseHostKey(c.hostKey);
  const username = c.user;
  if (c.privateKey !== undefined) {
    const parsed = utils.parseKey(c.privateKey, c.privateKeyPassword);
    if (parsed instanceof Error) {
      // x/crypto's PassphraseMissingError text for an encrypted key without privateKeyPassword.
      if (c.privateKeyPassword === undefined && /encrypted|passphrase/i.test(parsed.message)) {
        throw new Error("ssh: this private key is passphrase protected");
      }
      throw new Error(parsed.message);
    }
    setup.auth.push({ method: "publickey", ssh2: { type: "publickey", username, key: c.privateKey, passphrase: c.privateKeyPassword } });
  }
  if (c.password !== undefined) {
    const password = c.password;
    setup.auth.push({ method: "password", ssh2: { type: "password", username, password } });
    setup.auth.push({
      method: "keyboard-interactive",
      ssh2: {
        type: "keyboard-interactive",
        username,
        // Every question gets the password (PC remote/connection.go SSHConfig).
        prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)),
      },
    });
  }
  const agentPath = c.agentSocketPath ?? (process.env.SSH_AUTH_SOCK || undefined);
  if (agentPath !== undefined) {
    await probeAgent(agentPath);
    setup.auth.push({ method: "publickey", ssh2: { type: "agent", username, agent: agentPath } });
  }
  return setup;
}

/**
 * x/crypto's `clientAuthenticate`: "none" first, then the first configured method whose *name*
 * the server still allows and that was not tried yet. A name is tried once, so with `privateKey`
 * set, the agent (also "publickey") is never offered.
 */
function authHandler(setup: ClientSetup, username: string, tried: string[]): AuthHandlerMiddleware {
  return (methodsLeft, _partial, next) => {
    if (tried.length === 0) {
      tried.push("none");
      next({ type: "none", username });
      return;
    }
    const allowed = methodsLeft ?? [];
    const a = setup.auth.find((m) => !tried.includes(m.method) && allowed.includes(m.method));
    if (!a) {
      next(false as unknown as AnyAuthMethod);
      return;
    }
    tried.push(a.method);
    next(a.ssh2);
  };
}

/** The TCP part of `ssh.Dial`: `net.DialTimeout`, where 0 means no limit. */
function dialTcp(c: Connection): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: c.host, port: Math.trunc(c.port) });
    let timer: NodeJS.Timeout | undefined;
    const fail = (msg: string) => {
      if (timer) clearTimeout(timer);
      s.destroy();
      reject(new Error(msg));
    };
    if (c.perDialTimeout > 0) timer = setTimeout(() => fail(`dial tcp ${endpoint(c)}: i/o timeout`), c.perDialTimeout * 1000);
    s.once("connect", () => {
      if (timer) clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") fail(`dial tcp: lookup ${c.host}: no such host`);
      else {
        const addr = (e as NodeJS.ErrnoException & { address?: string; port?: number }).address;
        const port = (e as NodeJS.ErrnoException & { port?: number }).port;
        const where = addr !== undefined && port !== undefined ? (addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`) : endpoint(c);
        fail(`dial tcp ${where}: connect: ${errnoText(e)}`);
      }
    });
  });
}

/** The SSH handshake over a connected socket. x/crypto puts no time limit on it. */
function handshake(sock: net.Socket, c: Connection, setup: ClientSetup): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const tried: string[] = [];
    let hostKeyMismatch = false;
    const config: ConnectConfig = {
      sock,
      username: c.user,
      readyTimeout: 0,
      keepaliveInterval: 0,
      authHandler: authHandler(setup, c.user, tried),
    };
    if (setup.hostKey) {
      const expected = setup.hostKey;
      config.algorithms = { serverHostKey: [expected.type as never] };
      config.hostVerifier = (key: Buffer) => {
        const ok = Buffer.isBuffer(key) && key.equals(expected.blob);
        if (!ok) hostKeyMismatch = true;
        return ok;
      };
    }
    let settled = false;
    client.once("ready", () => {
      settled = true;
      client.removeAllListeners("error");
      client.on("error", () => undefined);
      resolve(client);
    });
    client.on("error", (e: Error & { level?: string }) => {
      // ssh2 reports an unusable agent or a failed signature and then goes on to the next method.
      if (e.level === "agent" || (e.level === "client-authentication" && e.message !== "All configured authentication methods failed")) return;
      if (settled) return;
      settled = true;
      client.end();
      sock.destroy();
      let msg: string;
      if (hostKeyMismatch) msg = "ssh: host key mismatch";
      else if (e.level === "client-authentication") msg = `ssh: unable to authenticate, attempted methods [${tried.join(" ")}], no supported methods remain`;
      else msg = e.message;
      reject(new Error(`ssh: handshake failed: ${msg}`));
    });
    client.on("close", () => {
      if (settled) return;
      settled = true;
      reject(new Error(hostKeyMismatch ? "ssh: handshake failed: ssh: host key mismatch" : "ssh: handshake failed: EOF"));
    });
    client.connect(config);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `dialWithRetry` (PC remote/connection.go) over pulumi's `retry.Until`: the first delay is
 * 100 ms, each next one ×1.5, capped at 5 s. After a failed attempt number `try` (from 0) it gives
 * up when `try + 1 > dialErrorLimit` (never for -1), saying `after <try> failed attempts: <err>`;
 * otherwise it logs `Dial <n>/<limit> failed: retrying` as an ephemeral info line.
 */
export async function dialWithRetry<T>(msg: string, limit: number, status: StatusLog, attempt: () => Promise<T>): Promise<T> {
  let delay = 100;
  for (let attemptNo = 0; ; attemptNo++) {
    if (delay > 5000) delay = 5000;
    try {
      return await attempt();
    } catch (e) {
      const err = e instanceof Error ? e.message : String(e);
      const dials = attemptNo + 1;
      if (limit > -1 && dials > limit) throw new Error(`after ${attemptNo} failed attempts: ${err}`);
      await status(`${msg} ${dials}/${limit === -1 ? "inf" : limit} failed: retrying`);
    }
    await sleep(delay);
    delay = delay * 1.5;
  }
}

/** `Connection.Dial`: an authenticated ssh2 client. */
export async function dial(c: Connection, status: StatusLog): Promise<Client> {
  const setup = await clientSetup(c);
  return dialWithRetry("Dial", c.dialErrorLimit, status, async () => {
    const sock = await dialTcp(c);
    return handshake(sock, c, setup);
  });
}
