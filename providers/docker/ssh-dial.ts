/**
 * The `ssh://` transport, as docker/cli's connection helper builds it (SEMANTICS.md §1; DC:
 * cli/connhelper/connhelper.go:38-98, cli/connhelper/ssh/ssh.go:103-162,
 * cli/connhelper/commandconn/commandconn.go:35-73): it runs the LOCAL `ssh` binary with the remote
 * command `docker system dial-stdio` and speaks HTTP over the process's stdin/stdout. One process
 * per connection, no multiplexing.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { Duplex } from "node:stream";

export interface SshSpec {
  user?: string;
  host: string;
  port?: string;
  path?: string;
}

/**
 * Parses `ssh://[user@]host[:port][/path]` the way docker/cli's `ssh.NewSpec` does: no password,
 * no query, no fragment, a non-empty host.
 */
export function parseSshUrl(daemonUrl: string): SshSpec {
  let u: URL;
  try {
    u = new URL(daemonUrl);
  } catch (e) {
    throw new Error(`invalid SSH URL: ${(e as Error).message}`);
  }
  const fail = (why: string) => new Error(`ssh host connection is not valid: invalid SSH URL: ${why}`);
  if (u.protocol !== "ssh:") throw fail(`incorrect scheme: ${u.protocol.replace(/:$/, "")}`);
  if (u.password) throw fail("plain-text password is not supported");
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw fail("hostname is empty");
  if (u.search) throw fail(`query parameters are not allowed: "${u.search.slice(1)}"`);
  if (u.hash) throw fail(`fragments are not allowed: "${u.hash.slice(1)}"`);
  return {
    user: u.username ? decodeURIComponent(u.username) : undefined,
    host,
    port: u.port || undefined,
    path: u.pathname && u.pathname !== "/" ? decodeURIComponent(u.pathname) : undefined,
  };
}

/** POSIX shell quoting for the few values docker/cli quotes (user, port, host, remote command words). */
function quote(s: string): string {
  if (s !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/**
 * The `ssh` argv (without `ssh` itself): `[-l user] [-p port] <sshOpts…> -o ConnectTimeout=30 -T --
 * <host> docker [--host=unix://<path>] system dial-stdio`. The timeout is one argv element with a
 * space (`"-o ConnectTimeout=30"`), added only if no option mentions ConnectTimeout; `-T` only if
 * not already given (connhelper.go addSSHTimeout / disablePseudoTerminalAllocation).
 */
export function sshArgs(spec: SshSpec, sshOpts: readonly string[]): string[] {
  const flags = [...sshOpts];
  if (!flags.join("").includes("ConnectTimeout")) flags.push("-o ConnectTimeout=30");
  if (!flags.includes("-T")) flags.push("-T");
  const remote = ["docker", "system", "dial-stdio"];
  if (spec.path && spec.path.replace(/^\/+|\/+$/g, "") !== "") remote.splice(1, 0, `--host=unix://${spec.path}`);
  const args: string[] = [];
  if (spec.user) args.push("-l", quote(spec.user));
  if (spec.port) args.push("-p", quote(spec.port));
  args.push(...flags, "--", quote(spec.host), remote.map(quote).join(" "));
  return args;
}

/**
 * A net.Conn-like stream over one `ssh` process (commandconn.New). When the process's stdout ends
 * and the process exited non-zero, reads fail with commandconn's message, stderr included. It
 * carries as many HTTP requests as the pool sends it (keep-alive), like the Go client's conn.
 */
export class CommandConn extends Duplex {
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = "";
  private exited?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exitWaiters: (() => void)[] = [];

  constructor(
    private readonly cmd: string,
    private readonly args: readonly string[],
  ) {
    super();
    this.child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: process.env });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr += d.toString("utf8");
    });
    this.child.on("exit", (code, signal) => {
      this.exited = { code, signal };
      this.exitWaiters.splice(0).forEach((w) => w());
    });
    this.child.on("error", (e) => this.destroy(e));
    this.child.stdout.on("data", (d: Buffer) => {
      this.touch();
      if (!this.push(d)) this.child.stdout.pause();
    });
    this.child.stdout.on("end", () => void this.onEof());
    this.child.stdin.on("error", () => {
      // EPIPE after the process went away: the read side reports why.
    });
  }

  /** commandconn.handleEOF: wait (up to 10 s) for the process, then EOF or the command's error. */
  private async onEof() {
    if (!this.exited) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10_000);
        this.exitWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const argv = `[${[this.cmd, ...this.args].join(" ")}]`;
    if (!this.exited) {
      this.destroy(new Error(`command ${argv} did not exit after EOF: stderr=${JSON.stringify(this.stderr)}`));
      return;
    }
    const { code, signal } = this.exited;
    if (code === 0) {
      this.push(null);
      return;
    }
    const status = signal ? `signal: ${signal.toLowerCase().replace(/^sig/, "")}` : `exit status ${code}`;
    this.destroy(
      new Error(
        `command ${argv} has exited with ${status}, make sure the URL is valid, and Docker 18.09 or later is installed on the remote host: stderr=${this.stderr}`,
      ),
    );
  }

  override _read() {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void) {
    this.touch();
    if (this.child.stdin.destroyed) return cb();
    this.child.stdin.write(chunk, () => cb());
  }

  override _final(cb: (e?: Error | null) => void) {
    this.child.stdin.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void) {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // commandconn.kill: SIGTERM, then SIGKILL after 3 s.
    if (!this.exited) {
      this.child.kill("SIGTERM");
      const t = setTimeout(() => {
        if (!this.exited) this.child.kill("SIGKILL");
      }, 3000);
      t.unref();
      this.child.once("exit", () => clearTimeout(t));
    }
    cb(err);
  }

  // The socket methods node's http client and agent call on a connection.
  /** Idle timeout in ms (0: none), as `net.Socket#timeout`. */
  timeout = 0;
  private idleTimer?: NodeJS.Timeout;

  private touch() {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.timeout > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit("timeout"), this.timeout);
      this.idleTimer.unref();
    }
  }

  setTimeout(ms: number, cb?: () => void) {
    this.timeout = ms;
    if (cb) this.once("timeout", cb);
    this.touch();
    return this;
  }
  setNoDelay() {
    return this;
  }
  setKeepAlive() {
    return this;
  }
  /** A pooled idle connection must not keep the process alive (the agent unrefs free sockets). */
  ref() {
    this.child.ref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr] as unknown as { ref?: () => void }[]) s.ref?.();
    return this;
  }
  unref() {
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    return this;
  }
}
