/**
 * The command stand-in against SEMANTICS.md §6 (pulumi-command v1.2.1 `remote.Command`, a native
 * pulumi-go-provider resource) and its §0 secret handling: one case per rule, named after it.
 *
 * The rules with real effects run over real SSH against the devhost (OpenSSH, AcceptEnv LANG LC_*
 * only, public-key auth only). Two things the devhost cannot show are checked against an in-process
 * ssh2 server instead: password / keyboard-interactive auth (the devhost refuses passwords), and the
 * values of accepted PULUMI_COMMAND_* variables (the devhost's AcceptEnv refuses them).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { execa } from "execa";
import { Server, utils as sshUtils } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandProvider } from "../../providers/command/provider";
import { diffInputs, envRequestLog, remoteCommand as rc } from "../../providers/command/remote-command";
import { goQuote, setenvMessage } from "../../providers/command/run";
import { InitFailedError, type LogSeverity, type OperationContext } from "../../providers/runtime/definition";
import { type Props, secret, UNKNOWN } from "../../providers/runtime/properties";
import { listen } from "../../providers/runtime/server";
import { REPO } from "./stand-ins";

/**
 * An ed25519 key pair made by ssh-keygen. ssh2's own generator now and then writes a key its parser
 * refuses ("Malformed OpenSSH private key": 13 of 3000 here), which made a fresh-check fail.
 */
function sshKeyPair(): { private: string; public: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bst-key-"));
  try {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "stand-in test", "-f", path.join(dir, "key")]);
    return { private: fs.readFileSync(path.join(dir, "key"), "utf8"), public: fs.readFileSync(path.join(dir, "key.pub"), "utf8") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface LogLine {
  severity: LogSeverity;
  message: string;
  ephemeral: boolean;
}

function context(preview = false, name = "cmd"): OperationContext<unknown> & { logs: LogLine[] } {
  const logs: LogLine[] = [];
  return {
    urn: `urn:pulumi:s::p::command:remote:Command::${name}`,
    name,
    type: rc.token,
    preview,
    config: {},
    logs,
    log: async (severity, message, ephemeral) => {
      logs.push({ severity, message, ephemeral: !!ephemeral });
    },
  };
}
const checkCtx = { urn: context().urn, name: "cmd", type: rc.token, randomSeed: Buffer.alloc(32) };

let devhost: { address: string; port: number; key: string; hostKey: string };
/** A scratch directory on the devhost for marker files. */
const scratch = `/tmp/berth-command-conformance-${randomBytes(4).toString("hex")}`;

/** The devhost connection, as the SDK sends it (its defaults applied). */
function conn(extra: Props = {}): Props {
  return { host: devhost.address, port: devhost.port, user: "root", privateKey: devhost.key, dialErrorLimit: 10, perDialTimeout: 15, ...extra };
}

/** Runs a shell command on the devhost independently of the stand-in (system ssh). */
async function onHost(script: string): Promise<string> {
  const info = await execa("bash", ["scripts/devhost.sh", "ssh", script], { cwd: REPO });
  return info.stdout;
}

async function create(inputs: Props, ctx = context()) {
  return rc.create(rc.check(inputs, undefined, checkCtx).inputs, ctx);
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the operation to fail");
}

beforeAll(async () => {
  const info = Object.fromEntries(
    (await execa("bash", ["scripts/devhost.sh", "info"], { cwd: REPO })).stdout
      .split(/\s+/)
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  devhost = {
    address: info.DEVHOST_ADDRESS!,
    port: Number(info.DEVHOST_SSH_PORT),
    key: fs.readFileSync(info.DEVHOST_KEY!, "utf8"),
    hostKey: fs.readFileSync(info.DEVHOST_HOST_PUBKEY_FILE!, "utf8").trim(),
  };
  await onHost(`mkdir -p ${scratch}`);
});

afterAll(async () => {
  if (devhost) await onHost(`rm -rf ${scratch}`);
});

describe("command stand-in: declarations (SEMANTICS.md §0, §6)", () => {
  it("§0 secrets: like pulumi-go-provider it accepts secrets (AcceptSecrets true) and supports preview; version 1.2.1; no config keys", () => {
    expect({
      name: commandProvider.name,
      version: commandProvider.version,
      acceptSecrets: commandProvider.acceptSecrets,
      supportsPreview: commandProvider.supportsPreview,
      keys: commandProvider.config.keys,
    }).toEqual({ name: "command", version: "1.2.1", acceptSecrets: true, supportsPreview: true, keys: [] });
    expect(commandProvider.config.check({ version: "1.2.1" }).failures).toEqual([]);
    expect(commandProvider.config.check({ foo: "x" }).failures.map((f) => f.property)).toEqual(["foo"]);
  });

  it("§6 inputs: all nine inputs are declared, `connection` with every field but `proxy`; outputs add stdout and stderr", () => {
    expect(Object.keys(rc.inputs).sort()).toEqual(
      ["addPreviousOutputInEnv", "connection", "create", "delete", "environment", "logging", "stdin", "triggers", "update"].sort(),
    );
    const c = rc.inputs.connection as { object: Record<string, unknown>; required: string[] };
    expect(Object.keys(c.object).sort()).toEqual(
      ["agentSocketPath", "dialErrorLimit", "host", "hostKey", "password", "perDialTimeout", "port", "privateKey", "privateKeyPassword", "user"].sort(),
    );
    expect(c.required).toEqual(["host"]);
    expect(rc.inputs.triggers).toEqual({ array: "any" });
    expect(rc.outputs).toEqual({ stdout: "string", stderr: "string" });
  });

  it("§6 check: `connection` and `connection.host` are required; `proxy`, unknown inputs and a `logging` outside the enum are refused; triggers take any values", () => {
    const props = (news: Props) => rc.check(news, undefined, checkCtx).failures.map((f) => f.property);
    expect(props({ create: "true" })).toEqual(["connection"]);
    expect(props({ connection: { port: 22 } })).toEqual(["connection.host"]);
    expect(props({ connection: conn({ proxy: { host: "bastion" } }) })).toEqual(["connection.proxy"]);
    expect(props({ connection: conn(), interpreter: ["sh"] })).toEqual(["interpreter"]);
    expect(props({ connection: conn(), logging: "everything" })).toEqual(["logging"]);
    expect(props({ connection: conn(), triggers: ["a", 1, true, { k: ["v"] }, null] })).toEqual([]);
    expect(props({ connection: UNKNOWN, create: UNKNOWN, triggers: [UNKNOWN] })).toEqual([]);
  });

  it("§6 connection defaults: Check fills user \"root\", port 22, dialErrorLimit 10, perDialTimeout 15", () => {
    expect(rc.check({ connection: { host: "h" } }, undefined, checkCtx).inputs.connection).toEqual({
      host: "h",
      user: "root",
      port: 22,
      dialErrorLimit: 10,
      perDialTimeout: 15,
    });
  });
});

describe("command stand-in: diff (SEMANTICS.md §6 Replace vs update)", () => {
  const base: Props = { connection: { host: "h", port: 22, user: "root" }, create: "c" };

  it.each([
    ["the list is added", base, { ...base, triggers: ["a"] }, { triggers: "add-replace" }],
    ["an empty list is added", base, { ...base, triggers: [] }, { triggers: "add-replace" }],
    ["the list is removed", { ...base, triggers: ["a"] }, base, { triggers: "delete-replace" }],
  ] as Array<[string, Props, Props, Record<string, string>]>)(
    "§6 replace: the provider itself replaces only on the key `triggers` — %s",
    (_what, olds, news, detailed) => {
      const d = diffInputs(olds, news);
      expect(d).toMatchObject({ changes: true, replaces: ["triggers"], detailedDiff: detailed });
    },
  );

  it.each([
    ["an element changes", ["a", "b"], ["a", "c"], { "triggers[1]": "update" }],
    ["an element is added", ["a"], ["a", "b"], { "triggers[1]": "add" }],
    ["an element is removed", ["a", "b"], ["a"], { "triggers[1]": "delete" }],
    ["all elements go", ["a"], [], { "triggers[0]": "delete" }],
    ["a nested value changes", [{ k: 1 }], [{ k: 2 }], { "triggers[0].k": "update" }],
    ["an element becomes unknown", ["a"], [UNKNOWN], { "triggers[0]": "update" }],
  ] as Array<[string, unknown[], unknown[], Record<string, string>]>)(
    "§6 replace: %s → `triggers[i]` as a plain update/add/delete with no replaces (the SDK's replaceOnChanges `triggers[*]` makes the engine replace)",
    (_what, o, n, detailed) => {
      const d = diffInputs({ ...base, triggers: o } as Props, { ...base, triggers: n } as Props);
      expect(d).toEqual({ changes: true, replaces: [], detailedDiff: detailed, deleteBeforeReplace: false });
    },
  );

  it.each([
    ["create", { create: "c2" }, { create: "update" }],
    ["update", { update: "u" }, { update: "add" }],
    ["delete", { delete: "d" }, { delete: "add" }],
    ["stdin", { stdin: "s" }, { stdin: "add" }],
    ["environment", { environment: { A: "1" } }, { environment: "add" }],
    ["logging", { logging: "none" }, { logging: "add" }],
    ["addPreviousOutputInEnv", { addPreviousOutputInEnv: false }, { addPreviousOutputInEnv: "add" }],
    // connection is always a secret, and pulumi's diff does not look inside secrets.
    ["connection (a new host)", { connection: { host: "h2", port: 22, user: "root" } }, { connection: "update" }],
    ["connection (a new key)", { connection: { host: "h", port: 22, user: "root", privateKey: "k" } }, { connection: "update" }],
  ] as Array<[string, Props, Record<string, string>]>)("§6 update: a change to `%s` is an in-place update", (_what, change, detailed) => {
    expect(diffInputs(base, { ...base, ...change })).toEqual({ changes: true, replaces: [], detailedDiff: detailed, deleteBeforeReplace: false });
  });

  it("§6 update: a changed `environment` entry is keyed by its path (`environment.A`, `environment[\"x.y\"]`), still in place", () => {
    const olds = { ...base, environment: { A: "0", B: "b" } };
    expect(diffInputs(olds, { ...base, environment: { A: "1", "x.y": "2" } })).toEqual({
      changes: true,
      replaces: [],
      detailedDiff: { "environment.A": "update", "environment.B": "delete", 'environment["x.y"]': "add" },
      deleteBeforeReplace: false,
    });
  });

  it("§6 update: removing an input is an in-place update too", () => {
    expect(diffInputs({ ...base, stdin: "s" }, base)).toEqual({ changes: true, replaces: [], detailedDiff: { stdin: "delete" }, deleteBeforeReplace: false });
  });

  it("§6 diff: old inputs are compared with new inputs; stored outputs take no part", () => {
    const state = { ...base, stdout: "out", stderr: "err" };
    expect(rc.diff({ id: "x", olds: state, news: base, oldInputs: base }, context(true))).toMatchObject({ changes: false, replaces: [] });
    // Without old inputs from the engine, they are rebuilt from state's input properties.
    expect(rc.diff({ id: "x", olds: state, news: base, oldInputs: {} }, context(true))).toMatchObject({ changes: false });
  });

  it("§6 diff: an unknown new value counts as a change", () => {
    expect(diffInputs(base, { ...base, create: UNKNOWN }).detailedDiff).toEqual({ create: "update" });
  });

  it("§6 replace: never delete-before-replace (the new command is created first, the old `delete` runs at the end)", () => {
    expect(diffInputs({ ...base, triggers: ["a"] }, base).deleteBeforeReplace).toBe(false);
    expect(diffInputs(base, { ...base, triggers: ["a"] }).deleteBeforeReplace).toBe(false);
  });
});

describe("command stand-in: create (SEMANTICS.md §6 Create, How the command runs, Outputs, Logging)", () => {
  it("§6 create: runs `create` over SSH; the ID is the resource name plus 8 lowercase hex chars, no separator", async () => {
    const marker = `${scratch}/created`;
    const r = await create({ connection: conn(), create: `echo made > ${marker}; echo hello` }, context(false, "setup"));
    expect(r.id).toMatch(/^setup[0-9a-f]{8}$/);
    expect(r.outputs).toMatchObject({ stdout: "hello", stderr: "", create: `echo made > ${marker}; echo hello` });
    expect(await onHost(`cat ${marker}`)).toBe("made");
  });

  it("§6 create: in preview nothing runs and stdout/stderr are unknown", async () => {
    const marker = `${scratch}/preview`;
    const r = await create({ connection: conn(), create: `touch ${marker}` }, context(true));
    expect(r.outputs).toMatchObject({ stdout: UNKNOWN, stderr: UNKNOWN, create: `touch ${marker}` });
    expect(await onHost(`test -e ${marker} && echo exists || echo absent`)).toBe("absent");
  });

  it("§6 create: with `create` unset nothing runs — not even a dial — and stdout/stderr are empty", async () => {
    // Port 1 refuses connections: a dial would fail the create.
    const r = await create({ connection: conn({ port: 1, dialErrorLimit: 0 }) });
    expect(r.outputs).toMatchObject({ stdout: "", stderr: "" });
  });

  it("§6 outputs: stdout and stderr are stored with exactly one trailing newline trimmed", async () => {
    const r = await create({ connection: conn(), create: "printf 'a\\n\\n'; printf 'b\\n\\n\\n' >&2" });
    expect(r.outputs).toMatchObject({ stdout: "a\n", stderr: "b\n\n" });
  });

  it("§6 stdin: attached only when non-empty; the command then reads it to EOF", async () => {
    const withStdin = await create({ connection: conn(), create: "cat; echo end", stdin: "line1\nline2" });
    expect(withStdin.outputs.stdout).toBe("line1\nline2end");
    const empty = await create({ connection: conn(), create: "cat; echo end", stdin: "" });
    expect(empty.outputs.stdout).toBe("end");
  });

  it("§6 create: a real Create never sends PULUMI_COMMAND_STDOUT/STDERR (a new resource has empty outputs)", async () => {
    envRequestLog.length = 0;
    await create({ connection: conn(), create: "true" });
    expect(envRequestLog).toEqual([]);
  });

  it("§6 environment: an entry the server refuses (the devhost's sshd has AcceptEnv LANG LC_* only) fails the run with `could not set environment variable \"K\": …`, and the command does not run", async () => {
    const marker = `${scratch}/env-refused`;
    const ctx = context();
    const e = await failure(create({ connection: conn(), create: `touch ${marker}`, environment: { BERTH_VAR: "1" } }, ctx));
    expect(e.message).toBe('could not set environment variable "BERTH_VAR": ssh: setenv failed');
    expect(e).not.toBeInstanceOf(InitFailedError);
    expect(ctx.logs).toContainEqual({ severity: "error", message: setenvMessage("BERTH_VAR"), ephemeral: false });
    expect(await onHost(`test -e ${marker} && echo exists || echo absent`)).toBe("absent");
  });

  it("§6 environment: an entry the server accepts reaches the command", async () => {
    const r = await create({ connection: conn(), create: 'echo "$LC_BERTH"', environment: { LC_BERTH: "value 1" } });
    expect(r.outputs.stdout).toBe("value 1");
  });

  const streams = "echo o1; echo e1 >&2; sleep 0.2; echo o2; echo e2 >&2";
  it.each([
    ["unset", undefined, ["o1", "e1", "o2", "e2"]],
    ["stdout", "stdout", ["o1", "o2"]],
    ["stderr", "stderr", ["e1", "e2"]],
    ["stdoutAndStderr", "stdoutAndStderr", ["o1", "e1", "o2", "e2"]],
    ["none", "none", []],
  ] as Array<[string, string | undefined, string[]]>)(
    "§6 logging %s: logs those streams line by line as ephemeral info; capture is unaffected",
    async (_what, logging, lines) => {
      const ctx = context();
      const r = await create({ connection: conn(), create: streams, ...(logging ? { logging } : {}) }, ctx);
      expect(r.outputs).toMatchObject({ stdout: "o1\no2", stderr: "e1\ne2" });
      expect(ctx.logs.filter((l) => l.severity === "info").map((l) => l.message).sort()).toEqual([...lines].sort());
      expect(ctx.logs.every((l) => l.ephemeral)).toBe(true);
    },
  );
});

describe("command stand-in: update, delete, refresh (SEMANTICS.md §6)", () => {
  it("§6 update: runs `update` when set; the new stdout/stderr replace the old", async () => {
    const inputs = { connection: conn(), create: "echo created", update: "echo updated; echo uerr >&2" };
    const c = await create(inputs);
    const out = await rc.update({ id: c.id, olds: c.outputs, news: { ...inputs, stdin: "x" }, oldInputs: inputs }, context());
    expect(out).toMatchObject({ stdout: "updated", stderr: "uerr", stdin: "x" });
  });

  it("§6 update: without `update`, runs `create` again", async () => {
    const marker = `${scratch}/count`;
    const inputs = { connection: conn(), create: `echo x >> ${marker}; wc -l < ${marker}` };
    const c = await create(inputs);
    const out = await rc.update({ id: c.id, olds: c.outputs, news: { ...inputs, stdin: "changed" }, oldInputs: inputs }, context());
    expect([c.outputs.stdout, out.stdout]).toEqual(["1", "2"]);
  });

  it("§6 update: in preview nothing runs and stdout/stderr are unknown", async () => {
    const marker = `${scratch}/update-preview`;
    const olds = { connection: conn(), create: "true", stdout: "old", stderr: "" };
    const out = await rc.update({ id: "x", olds, news: { connection: conn(), create: `touch ${marker}` }, oldInputs: {} }, context(true));
    expect(out).toMatchObject({ stdout: UNKNOWN, stderr: UNKNOWN, create: `touch ${marker}` });
    expect(await onHost(`test -e ${marker} && echo exists || echo absent`)).toBe("absent");
  });

  it("§6 PULUMI_COMMAND_*: an Update sends the previous non-empty outputs; a refusal (default AcceptEnv) only warns and the run goes on", async () => {
    envRequestLog.length = 0;
    const ctx = context();
    const olds = { connection: conn(), create: "true", stdout: "old out", stderr: "old err" };
    const out = await rc.update({ id: "x", olds, news: { connection: conn(), create: 'echo "[$PULUMI_COMMAND_STDOUT]"' }, oldInputs: {} }, ctx);
    expect(envRequestLog).toEqual([
      { key: "PULUMI_COMMAND_STDOUT", accepted: false },
      { key: "PULUMI_COMMAND_STDERR", accepted: false },
    ]);
    expect(ctx.logs.filter((l) => l.severity === "warning").map((l) => l.message)).toEqual([
      setenvMessage("PULUMI_COMMAND_STDOUT"),
      setenvMessage("PULUMI_COMMAND_STDERR"),
    ]);
    expect(out.stdout).toBe("[]");
  });

  it("§6 failure: a failed Update throws, so the engine keeps the previous state (and retries next time)", async () => {
    const olds = { connection: conn(), create: "true", stdout: "", stderr: "" };
    const e = await failure(rc.update({ id: "x", olds, news: { connection: conn(), create: "exit 4" }, oldInputs: {} }, context()));
    expect(e.message).toBe('Process exited with status 4: running "exit 4":\n');
  });

  it("§6 delete: runs `delete` from state, with the state's connection, environment, stdin and logging", async () => {
    const marker = `${scratch}/deleted`;
    const state = {
      connection: conn(),
      create: "true",
      delete: `cat > ${marker}; echo "$LC_BERTH" >> ${marker}`,
      stdin: "from state",
      environment: { LC_BERTH: "state env" },
      logging: "none",
      stdout: "",
      stderr: "",
    };
    const ctx = context();
    await rc.delete({ id: "x", state, oldInputs: { ...state, delete: "false", connection: conn({ host: "203.0.113.1" }) } }, ctx);
    expect(await onHost(`cat ${marker}`)).toBe("from statestate env");
    expect(ctx.logs).toEqual([]);
  });

  it("§6 delete: with `delete` unset nothing runs (not even a dial)", async () => {
    await rc.delete({ id: "x", state: { connection: conn({ port: 1, dialErrorLimit: 0 }), create: "true", stdout: "", stderr: "" }, oldInputs: {} }, context());
  });

  it("§6 failure: a failed Delete throws (the resource stays in state)", async () => {
    const e = await failure(rc.delete({ id: "x", state: { connection: conn(), delete: "echo bye; exit 2", stdout: "", stderr: "" }, oldInputs: {} }, context()));
    expect(e.message).toBe('Process exited with status 2: running "echo bye; exit 2":\nbye\n');
  });

  it("§6 refresh: there is no Read; state and inputs come back unchanged", async () => {
    const state = { connection: conn({ port: 1 }), create: "x", stdout: "o", stderr: "e" };
    const inputs = { connection: conn({ port: 1 }), create: "x" };
    expect(await rc.read({ id: "id1", state, inputs }, context())).toEqual({ id: "id1", outputs: state, inputs });
  });
});

describe("command stand-in: failures (SEMANTICS.md §6 Failures)", () => {
  it.each([
    ["a non-zero exit", "echo out; echo err >&2; exit 3", /^Process exited with status 3: running "echo out; echo err >&2; exit 3":\nout\nerr\n$/],
    ["a signal", "kill -KILL $$", /^Process exited with status 137 from signal KILL: running "kill -KILL \$\$":\n$/],
  ] as Array<[string, string, RegExp]>)("§6 failure: %s is `<err>: running \"<cmd>\":\\n<combined stdout+stderr>`", async (_what, cmd, re) => {
    const e = await failure(create({ connection: conn(), create: cmd }));
    expect(e.message).toMatch(re);
  });

  it("§6 failure: the command is Go-%q-quoted in the message (the full text, even a secret one)", async () => {
    const cmd = 'printf "%s" "tab\there"\necho \'é\' >/dev/null; exit 1 # \\ \x01';
    const e = await failure(create({ connection: conn(), create: cmd }));
    expect(e.message).toBe(`Process exited with status 1: running ${goQuote(cmd)}:\ntab\there`);
    expect(goQuote(cmd)).toBe('"printf \\"%s\\" \\"tab\\there\\"\\necho \'é\' >/dev/null; exit 1 # \\\\ \\x01"');
    expect(goQuote("\u2028\u{1F600}\x7f")).toBe('"\\u2028\u{1F600}\\x7f"');
  });

  it("§6 failure: a failed Create is a plain error — no partial state, so nothing is recorded and the next up creates again", async () => {
    const e = await failure(create({ connection: conn(), create: "exit 1" }));
    expect(e).not.toBeInstanceOf(InitFailedError);
  });
});

describe("command stand-in: connection and dialling (SEMANTICS.md §6 Connection, Failures)", () => {
  it("§6 connection: `user` defaults to root", async () => {
    const r = await create({ connection: { host: devhost.address, port: devhost.port, privateKey: devhost.key }, create: "id -un" });
    expect(r.outputs.stdout).toBe("root");
  });

  it("§6 connection: with `hostKey` unset the host key is not checked", async () => {
    // No known_hosts, no hostKey: the devhost's key is simply accepted.
    const r = await create({ connection: conn(), create: "echo ok" });
    expect(r.outputs.stdout).toBe("ok");
  });

  it("§6 connection: with `hostKey` set (an authorized_keys-style line) the server's key must match", async () => {
    const ok = await create({ connection: conn({ hostKey: devhost.hostKey }), create: "echo ok" });
    expect(ok.outputs.stdout).toBe("ok");
    const other = sshUtils.parseKey(sshKeyPair().public);
    if (other instanceof Error) throw other;
    const wrong = `ssh-ed25519 ${other.getPublicSSH().subarray(0).toString("base64")} someone`;
    const e = await failure(create({ connection: conn({ hostKey: wrong, dialErrorLimit: 0 }), create: "true" }));
    expect(e.message).toBe("after 0 failed attempts: ssh: handshake failed: ssh: host key mismatch");
    // An unparsable key fails before any dial, without retries.
    const bad = await failure(create({ connection: conn({ hostKey: "not a key" }), create: "true" }));
    expect(bad.message).toBe("failed to parse host key: ssh: no key found");
  });

  it("§6 dial: retried until more than `dialErrorLimit` attempts failed (backoff from 100 ms, ×1.5), then `after <limit> failed attempts: <err>` (the real text counts the retries, one less than the attempts) with no `running` wrapper", async () => {
    const ctx = context();
    const t0 = Date.now();
    const e = await failure(create({ connection: conn({ port: 1, dialErrorLimit: 3 }), create: "true" }, ctx));
    const elapsed = Date.now() - t0;
    expect(e.message).toBe("after 3 failed attempts: dial tcp 127.0.0.1:1: connect: connection refused");
    expect(ctx.logs).toEqual([1, 2, 3].map((n) => ({ severity: "info", message: `Dial ${n}/3 failed: retrying`, ephemeral: true })));
    // Waits of 100 + 150 + 225 ms between the four attempts.
    expect(elapsed).toBeGreaterThanOrEqual(470);
    expect(elapsed).toBeLessThan(3000);
  });

  it("§6 dial: `dialErrorLimit` -1 retries without limit", async () => {
    // A port that starts forwarding to the devhost only after a few failed dials.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const forward = net.createServer((s) => {
      const up = net.connect({ host: devhost.address, port: devhost.port });
      s.pipe(up).pipe(s);
      up.on("error", () => s.destroy());
      s.on("error", () => up.destroy());
    });
    const timer = setTimeout(() => forward.listen(port, "127.0.0.1"), 1200);
    try {
      const ctx = context();
      const r = await create({ connection: conn({ port, dialErrorLimit: -1 }), create: "echo through" }, ctx);
      expect(r.outputs.stdout).toBe("through");
      const retries = ctx.logs.filter((l) => /^Dial \d+\/inf failed: retrying$/.test(l.message));
      expect(retries.length).toBeGreaterThanOrEqual(4);
    } finally {
      clearTimeout(timer);
      await new Promise<void>((r) => forward.close(() => r()));
    }
  });

  it("§6 dial: `perDialTimeout` bounds each TCP connect (`dial tcp …: i/o timeout`)", async () => {
    // A listener with a full accept backlog that never accepts: further connects hang in SYN.
    const py = spawn("python3", ["-c", "import socket,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen(0);print(s.getsockname()[1],flush=True);time.sleep(30)"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const port = await new Promise<number>((resolve) => py.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))));
      const fillers = [net.connect({ host: "127.0.0.1", port }), net.connect({ host: "127.0.0.1", port })];
      fillers.forEach((f) => f.on("error", () => undefined));
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      const e = await failure(create({ connection: conn({ port, perDialTimeout: 1, dialErrorLimit: 0 }), create: "true" }));
      expect(e.message).toBe(`after 0 failed attempts: dial tcp 127.0.0.1:${port}: i/o timeout`);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
      expect(Date.now() - t0).toBeLessThan(5000);
      fillers.forEach((f) => f.destroy());
    } finally {
      py.kill();
    }
  });
});

/** An ssh2 server for what the devhost cannot show: password auth and accepted env requests. */
async function fakeServer(opts: { methods: string[]; password: string; acceptEnv?: boolean }) {
  const attempts: string[] = [];
  const execs: { command: string; env: Record<string, string> }[] = [];
  const server = new Server({ hostKeys: [sshKeyPair().private] }, (client) => {
    client.on("authentication", (ctx) => {
      attempts.push(ctx.method);
      const methods = opts.methods as never[];
      if (!opts.methods.includes(ctx.method)) return ctx.reject(methods);
      if (ctx.method === "password" && ctx.password === opts.password) return ctx.accept();
      if (ctx.method === "keyboard-interactive") {
        return ctx.prompt(
          [
            { prompt: "Password: ", echo: false },
            { prompt: "Again: ", echo: false },
          ],
          (answers) => (answers.every((a) => a === opts.password) ? ctx.accept() : ctx.reject(methods)),
        );
      }
      ctx.reject(methods);
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        const session = accept();
        const env: Record<string, string> = {};
        session.on("env", (acc, rej, info) => {
          if (opts.acceptEnv) {
            env[info.key] = info.val;
            acc?.();
          } else rej?.();
        });
        session.on("exec", (acc, _rej, info) => {
          execs.push({ command: info.command, env: { ...env } });
          const ch = acc();
          ch.write(`ran ${info.command}\n`);
          ch.exit(0);
          ch.end();
        });
      });
    });
    client.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return { port, attempts, execs, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("command stand-in: authentication (SEMANTICS.md §6 Connection)", () => {
  it("§6 auth order: `privateKey` first, then `password`, then keyboard-interactive (each answer is the password); only methods the server offers are tried", async () => {
    const other = sshKeyPair().private;
    const pw = await fakeServer({ methods: ["publickey", "password"], password: "pw" });
    try {
      const r = await create({ connection: { host: "127.0.0.1", port: pw.port, privateKey: other, password: "pw", dialErrorLimit: 0 }, create: "echo hi" });
      expect(r.outputs.stdout).toBe("ran echo hi");
      expect(pw.attempts).toEqual(["none", "publickey", "password"]);
    } finally {
      await pw.close();
    }
    const kbd = await fakeServer({ methods: ["publickey", "keyboard-interactive"], password: "pw" });
    try {
      // The server does not offer the password method, so it is not tried; keyboard-interactive answers both questions.
      const r = await create({ connection: { host: "127.0.0.1", port: kbd.port, password: "pw", dialErrorLimit: 0 }, create: "echo kb" });
      expect(r.outputs.stdout).toBe("ran echo kb");
      expect(kbd.attempts).toEqual(["none", "keyboard-interactive"]);
    } finally {
      await kbd.close();
    }
  });

  it("§6 auth: a password on a server that only takes keys fails `unable to authenticate, attempted methods [none]`", async () => {
    const e = await failure(create({ connection: { host: devhost.address, port: devhost.port, password: "x", dialErrorLimit: 0 }, create: "true" }));
    expect(e.message).toBe("after 0 failed attempts: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none], no supported methods remain");
  });

  describe("with a real ssh-agent holding the devhost key", () => {
    let agent: ChildProcess;
    let sock: string;
    beforeAll(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-agent-"));
      sock = path.join(dir, "agent.sock");
      agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
      for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
      const keyFile = path.join(dir, "id");
      fs.writeFileSync(keyFile, devhost.key, { mode: 0o600 });
      await execa("ssh-add", [keyFile], { env: { SSH_AUTH_SOCK: sock } });
    });
    afterAll(() => {
      agent?.kill();
    });

    it("§6 auth: the SSH agent at `agentSocketPath`, else at $SSH_AUTH_SOCK", async () => {
      const viaPath = await create({ connection: { host: devhost.address, port: devhost.port, agentSocketPath: sock }, create: "echo agent" });
      expect(viaPath.outputs.stdout).toBe("agent");
      const saved = process.env.SSH_AUTH_SOCK;
      process.env.SSH_AUTH_SOCK = sock;
      try {
        const viaEnv = await create({ connection: { host: devhost.address, port: devhost.port }, create: "echo env agent" });
        expect(viaEnv.outputs.stdout).toBe("env agent");
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
      }
    });

    it("§6 auth order: x/crypto tries each method name once, so with `privateKey` set the agent (also \"publickey\") is never offered", async () => {
      const wrongKey = sshKeyPair().private;
      const e = await failure(
        create({ connection: { host: devhost.address, port: devhost.port, privateKey: wrongKey, agentSocketPath: sock, dialErrorLimit: 0 }, create: "true" }),
      );
      expect(e.message).toBe("after 0 failed attempts: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain");
    });
  });

  it("§6 auth: an agent socket that is set but cannot be dialled fails the whole run, before any dial", async () => {
    const e = await failure(create({ connection: conn({ agentSocketPath: "/nonexistent/agent.sock" }), create: "true" }));
    expect(e.message).toBe("dial unix /nonexistent/agent.sock: connect: no such file or directory");
  });
});

describe("command stand-in: previous outputs in the environment (SEMANTICS.md §6 Delete)", () => {
  it("§6 PULUMI_COMMAND_*: Update and Delete send the previous stdout/stderr when non-empty, unless addPreviousOutputInEnv is false (Update: the new inputs; Delete: state)", async () => {
    const srv = await fakeServer({ methods: ["password"], password: "pw", acceptEnv: true });
    try {
      const c = { host: "127.0.0.1", port: srv.port, password: "pw", dialErrorLimit: 0 };
      const olds = { connection: c, create: "c", stdout: "prev out", stderr: "" };
      await rc.update({ id: "x", olds, news: { connection: c, create: "u1", environment: { K: "v" } }, oldInputs: {} }, context());
      await rc.update({ id: "x", olds, news: { connection: c, create: "u2", addPreviousOutputInEnv: false }, oldInputs: {} }, context());
      await rc.delete({ id: "x", state: { ...olds, delete: "d1", stderr: "prev err" }, oldInputs: {} }, context());
      await rc.delete({ id: "x", state: { ...olds, delete: "d2", addPreviousOutputInEnv: false }, oldInputs: {} }, context());
      expect(srv.execs).toEqual([
        { command: "u1", env: { K: "v", PULUMI_COMMAND_STDOUT: "prev out" } },
        { command: "u2", env: {} },
        { command: "d1", env: { PULUMI_COMMAND_STDOUT: "prev out", PULUMI_COMMAND_STDERR: "prev err" } },
        { command: "d2", env: {} },
      ]);
    } finally {
      await srv.close();
    }
  });
});

describe("command stand-in over the provider protocol (SEMANTICS.md §0, §6)", () => {
  let stop: () => Promise<void>;
  let client: provrpc.ResourceProviderClient;
  const urn = "urn:pulumi:s::p::command:remote:Command::proto";
  const call = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req) =>
    new Promise<Res>((resolve, reject) => fn.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));
  const struct = (p: Props) => structproto.Struct.fromJavaScript(p as Record<string, structproto.JavaScriptValue>);

  beforeAll(async () => {
    const server = await listen(commandProvider);
    stop = server.stop;
    client = new provrpc.ResourceProviderClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const req = new provproto.ConfigureRequest();
    req.setArgs(struct({}));
    req.setAcceptsecrets(true);
    await call(client.configure, req);
  });
  afterAll(async () => {
    client?.close();
    await stop?.();
  });

  it("§6 secrets: `connection` is always secret, an output whose same-named input was secret stays secret, stdout/stderr never become secret", async () => {
    const req = new provproto.CreateRequest();
    req.setUrn(urn);
    req.setType(rc.token);
    req.setProperties(struct({ connection: conn(), create: "cat", stdin: secret("the secret") }));
    const resp = await call<provproto.CreateRequest, provproto.CreateResponse>(client.create, req);
    const out = resp.getProperties()!.toJavaScript() as Props;
    expect(out.connection).toEqual(secret(conn()));
    expect(out.stdin).toEqual(secret("the secret"));
    expect(out.stdout).toBe("the secret");
    expect(out.create).toBe("cat");
  });

  it("§6 raw Diff response: a changed trigger element is reported as `triggers[0]` UPDATE with no replaces and no delete-before-replace", async () => {
    const olds = { connection: secret({ host: "h" }), create: "c", triggers: ["a"] };
    const req = new provproto.DiffRequest();
    req.setUrn(urn);
    req.setType(rc.token);
    req.setId("proto12345678");
    req.setOlds(struct({ ...olds, stdout: "", stderr: "" }));
    req.setOldInputs(struct(olds));
    req.setNews(struct({ ...olds, triggers: ["b"] }));
    const resp = await call<provproto.DiffRequest, provproto.DiffResponse>(client.diff, req);
    const detailed: Record<string, number> = {};
    resp.getDetaileddiffMap().forEach((v, k) => {
      detailed[k] = v.getKind();
    });
    expect({
      changes: resp.getChanges(),
      replaces: resp.getReplacesList(),
      diffs: resp.getDiffsList(),
      detailed,
      dbr: resp.getDeletebeforereplace(),
    }).toEqual({
      changes: provproto.DiffResponse.DiffChanges.DIFF_SOME,
      replaces: [],
      diffs: ["triggers"],
      detailed: { "triggers[0]": provproto.PropertyDiff.Kind.UPDATE },
      dbr: false,
    });
  });
});
