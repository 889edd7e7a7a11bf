/**
 * One run of a command over SSH, as pulumi-command's `CommandOutputs.run` does it (SEMANTICS.md §6
 * "How the command runs", "Outputs", "Logging", "Failures"; PC remote/commandOutputs.go:30-126):
 * dial, open one session, send each `environment` entry as an `env` request (a refusal fails the
 * run), then the previous outputs as PULUMI_COMMAND_STDOUT/STDERR (a refusal only warns), attach
 * stdin if non-empty, run, and keep stdout/stderr with one trailing newline trimmed.
 */
import type { Client, ClientChannel } from "ssh2";
import type { LogSeverity } from "../runtime/definition";
import { type Connection, dial } from "./connection";

export type Logging = "stdout" | "stderr" | "stdoutAndStderr" | "none";
export const LOGGING_VALUES: readonly Logging[] = ["stdout", "stderr", "stdoutAndStderr", "none"];

export interface RunSpec {
  connection: Connection;
  command: string;
  environment?: Record<string, string>;
  stdin?: string;
  logging?: Logging;
  /** The outputs stored before this run (empty for a Create). */
  previous: { stdout: string; stderr: string };
  addPreviousOutputInEnv?: boolean;
}

export type Log = (severity: LogSeverity, message: string, ephemeral?: boolean) => Promise<void> | void;

/** Go's `fmt.Sprintf("%q", s)` (strconv.Quote): Go escapes, printable Unicode kept as is. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (r === 0x20 || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (ch === "\x07") out += "\\a";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\v") out += "\\v";
    else if (r < 0x20 || r === 0x7f) out += "\\x" + r.toString(16).padStart(2, "0");
    else if (r >= 0xd800 && r <= 0xdfff) out += "\\ufffd";
    else if (r < 0x10000) out += "\\u" + r.toString(16).padStart(4, "0");
    else out += "\\U" + r.toString(16).padStart(8, "0");
  }
  return out + '"';
}

/** `logAndWrapSetenvErr`'s message, verbatim (a raw Go string, tabs included). */
export function setenvMessage(key: string): string {
  return (
    `Unable to set '${key}'. This only works if your SSH server is configured to accept\n` +
    `\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could\n` +
    `\tprefix the command itself with the variables in the form 'VAR=value command'`
  );
}

/** x/crypto's signal numbers, for `Process exited with status 128+N from signal NAME`. */
const SIGNALS: Record<string, number> = {
  ABRT: 6, ALRM: 14, FPE: 8, HUP: 1, ILL: 4, INT: 2, KILL: 9, PIPE: 13, QUIT: 3, SEGV: 11, TERM: 15, USR1: 10, USR2: 12,
};

/** The exit-status or exit-signal request, once it came. */
interface ExitInfo {
  status?: { code: number | null; signal?: string; desc?: string };
}

/** Test hook: the env requests the last run sent and whether the server accepted each. */
export interface EnvReply {
  key: string;
  accepted: boolean;
}

interface Ssh2Internals {
  _protocol: { exec(id: number, cmd: string, wantReply: boolean): void; env(id: number, key: string, val: string, wantReply: boolean): void };
  _chanMgr: { _channels: Record<number, unknown> };
}
interface ChannelInternals {
  outgoing: { id: number };
  _callbacks: ((failed: boolean | Error) => void)[];
}

/**
 * Opens a session and sends the env requests one at a time, each waiting for the server's reply,
 * before the exec request goes out — as x/crypto's `Session.Setenv` then `Session.Run` do.
 *
 * ssh2's own `exec(cmd, { env })` sends env requests without want-reply, so a refusal would go
 * unseen, and it sends exec right after them. The stand-in therefore holds back ssh2's exec
 * request (on this one client's protocol object) until the env replies are in. `setenv` decides,
 * per key, whether to go on; it returns an error to abort the run before the command starts.
 */
function openSession(
  client: Client,
  command: string,
  envs: [string, string][],
  setenv: (key: string, accepted: boolean) => Promise<Error | undefined>,
): Promise<{ stream: ClientChannel; exit: ExitInfo }> {
  const internals = client as unknown as Ssh2Internals;
  const proto = internals._protocol;
  const exec = proto.exec.bind(proto);
  return new Promise((resolve, reject) => {
    let aborted: Error | undefined;
    proto.exec = (id, cmd, wantReply) => {
      proto.exec = exec;
      const chan = Object.values(internals._chanMgr._channels).find(
        (c) => typeof c === "object" && c !== null && (c as ChannelInternals).outgoing?.id === id,
      ) as ChannelInternals | undefined;
      if (!chan) {
        reject(new Error("ssh: session channel not found"));
        return;
      }
      void (async () => {
        for (const [key, value] of envs) {
          const accepted = await new Promise<boolean>((done) => {
            // No request is outstanding, so this reply is the next one; ssh2's exec callback waits behind it.
            chan._callbacks.unshift((failed) => done(!failed));
            proto.env(id, key, value, true);
          });
          const err = await setenv(key, accepted);
          if (err) {
            aborted = err;
            reject(err);
            return;
          }
        }
        exec(id, cmd, wantReply);
      })().catch(reject);
    };
    client.exec(command, (err, stream) => {
      if (aborted) return;
      if (err) {
        reject(err.message === "Unable to exec" ? new Error(`ssh: command ${command} failed`) : err);
        return;
      }
      // ssh2 emits "exit" as the request arrives, possibly in the same packet batch as the exec
      // reply: listen before anything else runs. (Data is buffered until read.)
      const exit: ExitInfo = {};
      stream.on("exit", (code: number | null, signal?: string, _dump?: boolean, desc?: string) => {
        exit.status = { code, signal, desc };
      });
      resolve({ stream, exit });
    });
  });
}

/** Splits a byte stream into lines as Go's bufio.Scanner (ScanLines) does: `\n`, a trailing `\r` dropped. */
class LineSplitter {
  private rest = Buffer.alloc(0);
  constructor(private readonly emit: (line: string) => void) {}
  push(b: Buffer) {
    this.rest = Buffer.concat([this.rest, b]);
    for (let i = this.rest.indexOf(10); i >= 0; i = this.rest.indexOf(10)) {
      this.emitLine(this.rest.subarray(0, i));
      this.rest = this.rest.subarray(i + 1);
    }
  }
  end() {
    if (this.rest.length > 0) this.emitLine(this.rest);
    this.rest = Buffer.alloc(0);
  }
  private emitLine(b: Buffer) {
    const s = b.toString("utf8");
    this.emit(s.endsWith("\r") ? s.slice(0, -1) : s);
  }
}

/** Runs `spec.command`; resolves to the trimmed stdout/stderr, rejects with the provider's error texts. */
export async function runCommand(spec: RunSpec, log: Log, envReplies?: EnvReply[]): Promise<{ stdout: string; stderr: string }> {
  const client = await dial(spec.connection, (m) => log("info", m, true));
  try {
    const envs: [string, string][] = Object.entries(spec.environment ?? {});
    const userKeys = new Set(envs.map(([k]) => k));
    if (spec.addPreviousOutputInEnv !== false) {
      if (spec.previous.stdout !== "") envs.push(["PULUMI_COMMAND_STDOUT", spec.previous.stdout]);
      if (spec.previous.stderr !== "") envs.push(["PULUMI_COMMAND_STDERR", spec.previous.stderr]);
    }
    const { stream, exit } = await openSession(client, spec.command, envs, async (key, accepted) => {
      envReplies?.push({ key, accepted });
      if (accepted) return undefined;
      if (userKeys.has(key)) {
        await log("error", setenvMessage(key));
        return new Error(`could not set environment variable ${goQuote(key)}: ssh: setenv failed`);
      }
      // The previous-output variables are optimistic: warn and go on.
      await log("warning", setenvMessage(key));
      return undefined;
    });

    const logStdout = spec.logging === undefined || spec.logging === "stdout" || spec.logging === "stdoutAndStderr";
    const logStderr = spec.logging === undefined || spec.logging === "stderr" || spec.logging === "stdoutAndStderr";
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const combined: Buffer[] = [];
    const logged: Promise<void>[] = [];
    const lines = new LineSplitter((line) => {
      logged.push(Promise.resolve(log("info", line, true)));
    });
    stream.on("data", (b: Buffer) => {
      stdout.push(b);
      combined.push(b);
      if (logStdout) lines.push(b);
    });
    stream.stderr.on("data", (b: Buffer) => {
      stderr.push(b);
      combined.push(b);
      if (logStderr) lines.push(b);
    });
    const closed = new Promise<void>((resolve) => stream.on("close", () => resolve()));
    // x/crypto copies Stdin (an empty reader when unset) and then sends EOF.
    if (spec.stdin !== undefined && spec.stdin.length > 0) stream.end(spec.stdin);
    else stream.end();
    await closed;
    lines.end();
    await Promise.all(logged);

    const failure = exitError(exit.status);
    if (failure) throw new Error(`${failure}: running ${goQuote(spec.command)}:\n${Buffer.concat(combined).toString("utf8")}`);
    return {
      stdout: trimOneNewline(Buffer.concat(stdout).toString("utf8")),
      stderr: trimOneNewline(Buffer.concat(stderr).toString("utf8")),
    };
  } finally {
    client.end();
  }
}

/** `strings.TrimSuffix(s, "\n")`: one newline only. */
function trimOneNewline(s: string): string {
  return s.endsWith("\n") ? s.slice(0, -1) : s;
}

/** x/crypto's `Session.Wait` result: nil for status 0, an ExitError text, or ExitMissingError. */
function exitError(exit: { code: number | null; signal?: string; desc?: string } | undefined): string | undefined {
  if (!exit || (exit.code === null && !exit.signal)) return "wait: remote command exited without exit status or exit signal";
  let status = exit.code ?? -1;
  const signal = exit.signal?.replace(/^SIG/, "");
  if (status === 0) return undefined;
  if (status === -1) status = 128 + (signal && SIGNALS[signal] ? SIGNALS[signal] : 0);
  let s = `Process exited with status ${status}`;
  if (signal) s += ` from signal ${signal}`;
  if (exit.desc) s += `. Reason: ${exit.desc}`;
  return s;
}
