/**
 * `command:remote:Command` (pulumi-command v1.2.1, a native pulumi-go-provider `infer` resource),
 * as SEMANTICS.md §6 reads it: the diff compares old inputs with new inputs and only `triggers`
 * replaces; Create runs `create`, Update runs `update` or else `create` again, Delete runs the
 * stored `delete`; there is no Read, so refresh changes nothing.
 */
import { randomBytes } from "node:crypto";
import { type CheckFailure, type DiffKind, type DiffResult, refuseUnknownInputs, type ResourceDefinition } from "../runtime/definition";
import { containsUnknown, type Props, UNKNOWN, type Value } from "../runtime/properties";
import type { PropertyTypes, TypeSpec } from "../runtime/types";
import { CONNECTION_DEFAULTS, parseConnection } from "./connection";
import { type EnvReply, type Logging, LOGGING_VALUES, runCommand } from "./run";

export const TOKEN = "command:remote:Command";

/**
 * `command:remote:Connection` without `proxy`: bastion dialling is not implemented, so a `proxy`
 * is refused by Check (as an undeclared field).
 */
export const CONNECTION_TYPE: TypeSpec = {
  object: {
    host: "string",
    port: "number",
    user: "string",
    password: "string",
    privateKey: "string",
    privateKeyPassword: "string",
    agentSocketPath: "string",
    dialErrorLimit: "integer",
    perDialTimeout: "integer",
    hostKey: "string",
  },
  required: ["host"],
};

const INPUT_TYPES: PropertyTypes = {
  connection: CONNECTION_TYPE,
  create: "string",
  update: "string",
  delete: "string",
  stdin: "string",
  environment: { map: "string" },
  // Elements are the schema's `pulumi.json#/Any` (the provider's `*[]any`): any JSON value.
  triggers: { array: "any" },
  logging: "string",
  addPreviousOutputInEnv: "boolean",
};
const INPUTS = Object.keys(INPUT_TYPES);

/** Test hook: every env request of the resource's runs, with the server's answer. */
export const envRequestLog: EnvReply[] = [];

const str = (v: Value | undefined) => (typeof v === "string" ? v : undefined);

/** The inputs as stored (the real provider re-encodes its input struct: no engine `__` keys). */
function inputsOf(p: Props): Props {
  const out: Props = {};
  for (const k of INPUTS) if (p[k] !== undefined && p[k] !== null) out[k] = p[k]!;
  return out;
}

/**
 * pulumi's `PropertyPath.String()` for one more key: identifiers (`[A-Za-z0-9_]`) join with a
 * dot, anything else becomes `["key"]` with `"` escaped.
 */
function pathKey(prefix: string, key: string): string {
  if (/^[A-Za-z0-9_]*$/.test(key) && key !== "") return prefix === "" ? key : `${prefix}.${key}`;
  return `${prefix}["${key.replace(/"/g, '\\"')}"]`;
}

const isObject = (v: unknown): v is Record<string, Value> => !!v && typeof v === "object" && !Array.isArray(v);
const hasValue = (v: Value | undefined) => v !== undefined && v !== null;

/**
 * pulumi's `PropertyMap.Diff` + `NewDetailedDiffFromObjectDiff` on plain values, the diff
 * pulumi-go-provider computes between old and new inputs (GP:infer/resource.go:1155-1252). An
 * unknown value never equals anything. `opaque` keys are compared as leaves: `connection` is
 * always a secret, and pulumi does not descend into secrets, so a changed host shows as
 * `connection`, not `connection.host`.
 */
export function detailedDiff(olds: Props, news: Props, opaque: readonly string[] = ["connection"]): Record<string, DiffKind> {
  const acc: Record<string, DiffKind> = {};
  const leafEqual = (a: Value, b: Value): boolean => {
    if (containsUnknown(a) || containsUnknown(b)) return false;
    return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
  };
  const valueDiff = (path: string, o: Value, n: Value, top: boolean) => {
    if (!(top && opaque.includes(path))) {
      if (Array.isArray(o) && Array.isArray(n)) {
        for (let i = 0; i < Math.max(o.length, n.length); i++) {
          const p = `${path}[${i}]`;
          if (i >= o.length) acc[p] = "add";
          else if (i >= n.length) acc[p] = "delete";
          else valueDiff(p, o[i]!, n[i]!, false);
        }
        return;
      }
      if (isObject(o) && isObject(n)) {
        objectDiff(path, o, n);
        return;
      }
    }
    if (leafEqual(o, n)) return;
    // ValueDiff leaves: null -> value is an add, value -> null a delete (inside arrays).
    acc[path] = o === null && n !== null ? "add" : o !== null && n === null ? "delete" : "update";
  };
  const objectDiff = (prefix: string, o: Record<string, Value>, n: Record<string, Value>) => {
    for (const [k, ov] of Object.entries(o)) {
      const p = pathKey(prefix, k);
      if (k in n) {
        const nv = n[k]!;
        const same = sameValue(ov, nv, prefix === "" && opaque.includes(k));
        if (same) continue;
        if (!hasValue(ov)) acc[p] = "add";
        else if (!hasValue(nv)) acc[p] = "delete";
        else valueDiff(p, ov, nv, prefix === "");
      } else if (hasValue(ov)) acc[p] = "delete";
    }
    for (const [k, nv] of Object.entries(n)) if (!(k in o) && hasValue(nv)) acc[pathKey(prefix, k)] = "add";
  };
  const sameValue = (a: Value, b: Value, leaf: boolean): boolean => {
    if (!leaf && Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((e, i) => sameValue(e, b[i]!, false));
    if (!leaf && isObject(a) && isObject(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      return [...keys].every((k) => {
        const x = a[k];
        const y = b[k];
        if (x === undefined || y === undefined) return !hasValue(x ?? null) && !hasValue(y ?? null);
        return sameValue(x, y, false);
      });
    }
    return leafEqual(a, b);
  };
  objectDiff("", olds, news);
  return acc;
}

function canonical(v: Value): Value {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k]!)]));
  return v;
}

/**
 * The provider's own replace rule: a detailed-diff key that is exactly an input property with
 * `replaceOnChanges` in the schema — only `triggers` — turns into its replace kind. Element keys
 * (`triggers[0]`) stay plain; the SDK's `replaceOnChanges: ["triggers[*]"]` makes the engine
 * replace for those (SEMANTICS.md §6 "Replace vs update").
 */
export function diffInputs(oldInputs: Props, news: Props): DiffResult {
  const n: Props = {};
  for (const [k, v] of Object.entries(news)) if (k !== "version" && !k.startsWith("__")) n[k] = v;
  const detailed = detailedDiff(oldInputs, n);
  const replaces: string[] = [];
  for (const [k, kind] of Object.entries(detailed)) {
    if (k !== "triggers") continue;
    detailed[k] = kind === "add" ? "add-replace" : kind === "delete" ? "delete-replace" : "update-replace";
    replaces.push(k);
  }
  return { changes: Object.keys(detailed).length > 0, replaces, detailedDiff: detailed, deleteBeforeReplace: false };
}

/** Applies the connection defaults inside a known `connection` object (pulumi-go-provider's `applyDefaults`). */
function withConnectionDefaults(news: Props): Props {
  const c = news.connection;
  if (!isObject(c)) return news;
  const filled: Record<string, Value> = { ...c };
  for (const [k, v] of Object.entries(CONNECTION_DEFAULTS)) if (filled[k] === undefined || filled[k] === null) filled[k] = v;
  return { ...news, connection: filled };
}

function logging(v: Value | undefined): Logging | undefined {
  return LOGGING_VALUES.includes(v as Logging) ? (v as Logging) : undefined;
}

function environment(v: Value | undefined): Record<string, string> | undefined {
  return isObject(v) ? (v as Record<string, string>) : undefined;
}

/** Runs `command` with the given inputs' connection, environment, stdin and logging. */
function run(command: string, p: Props, previous: { stdout: string; stderr: string }, log: Parameters<typeof runCommand>[1]) {
  return runCommand(
    {
      connection: parseConnection(p.connection),
      command,
      environment: environment(p.environment),
      stdin: str(p.stdin),
      logging: logging(p.logging),
      previous,
      addPreviousOutputInEnv: typeof p.addPreviousOutputInEnv === "boolean" ? p.addPreviousOutputInEnv : undefined,
    },
    log,
    envRequestLog,
  );
}

export const remoteCommand: ResourceDefinition<unknown> = {
  token: TOKEN,
  inputs: INPUT_TYPES,
  outputs: { stdout: "string", stderr: "string" },
  // `connection` is `provider:"secret"` (PC remote/command.go), so it is secret in every state.
  secretOutputs: ["connection"],
  check(news) {
    const failures: CheckFailure[] = refuseUnknownInputs("command", TOKEN, news, INPUT_TYPES);
    if (news.connection === undefined || news.connection === null) failures.push({ property: "connection", reason: "Missing required property 'connection'" });
    const l = news.logging;
    if (typeof l === "string" && l !== UNKNOWN && !LOGGING_VALUES.includes(l as Logging)) {
      failures.push({ property: "logging", reason: `logging must be one of ${LOGGING_VALUES.map((v) => `"${v}"`).join(", ")}, got "${l}"` });
    }
    return { inputs: withConnectionDefaults(news), failures };
  },
  diff({ olds, news, oldInputs }) {
    // Old inputs when the engine sends them; otherwise rebuilt from state, as pulumi-go-provider does.
    const old = Object.keys(oldInputs).length > 0 ? oldInputs : inputsOf(olds);
    return diffInputs(old, news);
  },
  async create(inputs, ctx) {
    // NewUniqueHex(name, 8, 0): 4 random bytes as 8 lowercase hex chars, appended without a separator.
    const id = ctx.name + randomBytes(4).toString("hex");
    const state = inputsOf(inputs);
    if (ctx.preview) return { id, outputs: { ...state, stdout: UNKNOWN, stderr: UNKNOWN } };
    const create = str(inputs.create);
    if (create === undefined) return { id, outputs: { ...state, stdout: "", stderr: "" } };
    // A failure is a plain error: no partial state, so the engine records nothing.
    const out = await run(create, inputs, { stdout: "", stderr: "" }, ctx.log);
    return { id, outputs: { ...state, ...out } };
  },
  async read({ id, state, inputs }) {
    // No Read: pulumi-go-provider returns the state and inputs unchanged.
    return { id, outputs: state, inputs };
  },
  async update({ olds, news }, ctx) {
    const previous = { stdout: str(olds.stdout) ?? "", stderr: str(olds.stderr) ?? "" };
    const state = inputsOf(news);
    // In preview every output depends on every input, and some input changed: stdout/stderr are unknown.
    if (ctx.preview) return { ...state, stdout: UNKNOWN, stderr: UNKNOWN };
    const command = str(news.update) ?? str(news.create);
    if (command === undefined) return { ...state, ...previous };
    // A failure throws: the engine keeps the previous state.
    const out = await run(command, news, previous, ctx.log);
    return { ...state, ...out };
  },
  async delete({ state }, ctx) {
    const command = str(state.delete);
    if (command === undefined) return;
    // Everything from state: the old connection, environment, stdin, logging and outputs.
    await run(command, state, { stdout: str(state.stdout) ?? "", stderr: str(state.stderr) ?? "" }, ctx.log);
  },
};
