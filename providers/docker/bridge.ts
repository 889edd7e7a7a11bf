/**
 * What the Terraform bridge (pulumi-terraform-bridge v3.126.0, TB) does around every docker
 * resource, independent of Docker itself (SEMANTICS.md §0):
 *
 * - Check fills Terraform schema defaults into the checked inputs and lists the defaulted keys in
 *   `__defaults` (TB:pkg/tfbridge/schema.go:740-972). A default already used by the old inputs is
 *   reused. `name` is auto-named `<URN name>-<7 lowercase hex>`, reusing the old value on update
 *   (TB:pkg/tfbridge/info/autonaming.go; schema.go:786-795).
 * - Diff compares the new inputs with the stored state the SDKv2 way: an input left out of the
 *   program is its type's zero value, unless it is Optional+Computed (then the stored value stays);
 *   ForceNew changes replace; unchanged ForceNew properties are "stable"; delete-before-replace when
 *   the resource asks for it or the program itself set an auto-nameable `name`
 *   (TB:pkg/tfbridge/provider.go:1235-1253; schema.go:195-246).
 * - Read (refresh) rebuilds the inputs from the new state: the old input keys with the state's
 *   values, `__defaults` shrunk to the keys that did not change (TB provider.go:1501-1508;
 *   schema.go:1760-1830).
 */
import { createHash, randomBytes } from "node:crypto";
import type { CheckContext, CheckFailure, DiffKind, DiffResult, OperationContext, ResourceDefinition } from "../runtime/definition";
import { InitFailedError, refuseUnknownInputs } from "../runtime/definition";
import { containsUnknown, deepEqual, type Props, type Value } from "../runtime/properties";
import type { PropertyTypes, TypeSpec } from "../runtime/types";

export const DEFAULTS_KEY = "__defaults";

/** `<name>-<7 lowercase hex>`, drawn from the engine's per-resource random seed (PU resource_id.go). */
export function autoName(ctx: CheckContext): string {
  if (ctx.autonaming && ctx.autonaming.mode !== "disable" && ctx.autonaming.proposedName) return ctx.autonaming.proposedName;
  const bytes = ctx.randomSeed.length > 0 ? createHash("sha256").update(ctx.randomSeed).update(ctx.urn).digest() : randomBytes(4);
  return `${ctx.name}-${bytes.toString("hex").slice(0, 7)}`;
}

export interface CheckSpec {
  provider: string;
  token: string;
  inputs: PropertyTypes;
  /** Top-level Terraform `Default`s of implemented inputs. */
  defaults: Props;
  /** The resource has an auto-named `name` (SetAutonaming, PD:provider/resources.go:404). */
  autoNamed: boolean;
  /** Nested defaults (list/object elements) applied after the top-level ones. */
  nested?: (inputs: Props) => Props;
  /** Resource-specific validation (Terraform ValidateFunc and the like). */
  validate?: (inputs: Props) => CheckFailure[];
}

/** The bridge's Check: refuse what is not implemented, type-check, validate, fill defaults. */
export function bridgeCheck(spec: CheckSpec, news: Props, olds: Props | undefined, ctx: CheckContext): { inputs: Props; failures: CheckFailure[] } {
  const failures = refuseUnknownInputs(spec.provider, spec.token, news, spec.inputs);
  const result: Props = {};
  for (const [k, v] of Object.entries(news)) if (!k.startsWith("__") && v !== null && v !== undefined) result[k] = v;
  const oldDefaults = olds?.[DEFAULTS_KEY];
  const useOld = (k: string) => olds !== undefined && k in olds && (!Array.isArray(oldDefaults) || oldDefaults.includes(k));
  const defaulted: string[] = [];
  if (spec.autoNamed && result.name === undefined) {
    result.name = useOld("name") ? olds!.name! : autoName(ctx);
    defaulted.push("name");
  }
  for (const [k, dv] of Object.entries(spec.defaults)) {
    if (result[k] !== undefined) continue;
    result[k] = useOld(k) ? olds![k]! : dv;
    defaulted.push(k);
  }
  const inputs = spec.nested ? spec.nested(result) : result;
  if (failures.length === 0 && spec.validate) failures.push(...spec.validate(inputs));
  inputs[DEFAULTS_KEY] = defaulted.sort();
  return { inputs, failures };
}

/** The zero value SDKv2 compares an absent attribute as. */
export function zeroOf(t: TypeSpec): Value {
  if (t === "string") return "";
  if (t === "integer" || t === "number") return 0;
  if (t === "boolean") return false;
  if (t === "any") return null;
  if ("array" in t) return [];
  return "map" in t ? {} : null;
}

export interface DiffSpec {
  inputs: PropertyTypes;
  /** ForceNew inputs. */
  replace: readonly string[];
  /** Optional+Computed inputs (absent from the program: keep the state's value). */
  computed: readonly string[];
  /** Inputs whose Terraform type is a set (order and duplicates do not matter). */
  sets?: readonly string[];
  /** Custom equality (DiffSuppressFuncs, StateFuncs, nested defaults). Called with known values only. */
  equal?: Partial<Record<string, (state: Value | undefined, news: Value | undefined) => boolean>>;
  /** The resource always asks for delete-before-replace (ResourceInfo.DeleteBeforeReplace). */
  deleteBeforeReplace?: boolean;
  /** The resource's `name` is auto-nameable (the program setting it asks for delete-before-replace). */
  autoNamed: boolean;
}

function canonicalSet(v: Value[]): string[] {
  const key = (e: Value): string => JSON.stringify(sortKeys(e));
  return [...new Set(v.map(key))].sort();
}

function sortKeys(v: Value): Value {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k]!)]));
  return v;
}

/** Plain equality with SDKv2's "absent is the zero value" and set semantics. */
export function valuesEqual(t: TypeSpec, a: Value | undefined, b: Value | undefined, isSet: boolean): boolean {
  const za = a === undefined || a === null ? zeroOf(t) : a;
  const zb = b === undefined || b === null ? zeroOf(t) : b;
  if (isSet && Array.isArray(za) && Array.isArray(zb)) return deepEqual(canonicalSet(za), canonicalSet(zb));
  return deepEqual(za, zb);
}

/** Whether one input's new value plans no change against the state (absent Optional+Computed included). */
function unchanged(key: string, state: Props, news: Props, spec: DiffSpec): boolean {
  const t = spec.inputs[key]!;
  const o = state[key] ?? undefined;
  const n = news[key] ?? undefined;
  if (n === undefined && spec.computed.includes(key)) return true;
  if (n !== undefined && containsUnknown(n)) return false;
  return spec.equal?.[key] ? spec.equal[key]!(o, n) : valuesEqual(t, o, n, spec.sets?.includes(key) ?? false);
}

/** The bridge's Diff of new inputs against the stored state. */
export function bridgeDiff(state: Props, news: Props, spec: DiffSpec): DiffResult {
  const detailedDiff: Record<string, DiffKind> = {};
  const replaces: string[] = [];
  for (const key of Object.keys(spec.inputs)) {
    if (unchanged(key, state, news, spec)) continue;
    const o = state[key] ?? undefined;
    const n = news[key] ?? undefined;
    const replace = spec.replace.includes(key);
    const base = o === undefined ? "add" : n === undefined ? "delete" : "update";
    detailedDiff[key] = (replace ? `${base}-replace` : base) as DiffKind;
    if (replace) replaces.push(key);
  }
  const defaults = news[DEFAULTS_KEY];
  const programSetName = spec.autoNamed && Array.isArray(defaults) && news.name !== undefined && news.name !== null && !defaults.includes("name");
  return {
    changes: Object.keys(detailedDiff).length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && (!!spec.deleteBeforeReplace || programSetName),
    detailedDiff,
    stables: spec.replace.filter((k) => !replaces.includes(k)),
  };
}

/**
 * The state after an in-place update, as SDKv2 applies a diff to the prior state: an input with no
 * planned change keeps its stored value (read-back values and computed nested fields such as
 * `ports[].external` included); a changed one takes the new value; a removed one goes away.
 */
export function updatedState(state: Props, news: Props, spec: DiffSpec): Props {
  const out: Props = { ...state };
  for (const key of Object.keys(spec.inputs)) {
    if (unchanged(key, state, news, spec)) continue;
    const n = news[key];
    if (n !== undefined && n !== null) out[key] = n;
    else delete out[key];
  }
  return out;
}

/** extractInputs: the old input's shape with the new state's values, and whether it is unchanged. */
function extract(old: Value, now: Value): [Value, boolean] {
  if (Array.isArray(old) && Array.isArray(now)) {
    let same = old.length === now.length;
    const out: Value[] = [];
    for (let i = 0; i < old.length; i++) {
      if (i >= now.length) break;
      const [v, s] = extract(old[i]!, now[i]!);
      same &&= s;
      out.push(v);
    }
    return [out, same];
  }
  if (old && now && typeof old === "object" && typeof now === "object" && !Array.isArray(old) && !Array.isArray(now)) {
    const out: Props = {};
    let same = true;
    for (const k of Object.keys(old)) {
      if (k.startsWith("__")) continue;
      if (now[k] === undefined) {
        same = false;
        continue;
      }
      const [v, s] = extract(old[k]!, now[k]!);
      same &&= s;
      out[k] = v;
    }
    return [out, same];
  }
  return [now, deepEqual(old, now)];
}

/**
 * ExtractInputsFromOutputs on refresh (TB schema.go:1760-1830, 1950-1960): the old input keys with
 * the refreshed state's values; keys gone from the state are dropped. `__defaults` keeps only the
 * defaulted keys whose value did not change, so the next Check applies the Terraform default again
 * to a key the refresh changed (a stopped container's `mustRun`), and is dropped when empty
 * (defaults.go deleteDefaultsKey).
 */
export function refreshInputs(oldInputs: Props, state: Props): Props {
  const old = oldInputs[DEFAULTS_KEY];
  const defaults = new Set(Array.isArray(old) ? (old as string[]) : []);
  const out: Props = {};
  for (const [k, v] of Object.entries(oldInputs)) {
    if (k.startsWith("__")) continue;
    const now = state[k];
    if (now === undefined) {
      defaults.delete(k);
      continue;
    }
    const [value, same] = extract(v, now);
    out[k] = value;
    if (!same) defaults.delete(k);
  }
  if (Array.isArray(old) && defaults.size > 0) out[DEFAULTS_KEY] = [...defaults].sort();
  return out;
}

/** Only the implemented inputs, without engine keys (what Create hands to the Docker calls). */
export function plainInputs(inputs: Props, types: PropertyTypes): Props {
  const out: Props = {};
  for (const k of Object.keys(types)) if (inputs[k] !== undefined && inputs[k] !== null) out[k] = inputs[k]!;
  return out;
}

/** Terraform diagnostics as the bridge turns them into an error: go-multierror's list format. */
export function tfErrorText(message: string): string {
  return `1 error occurred:\n\t* ${message}\n\n`;
}

const VERBS = { create: "creating", read: "refreshing", update: "updating", delete: "deleting" } as const;

/**
 * The bridge's error wrapping around a resource's CRUD functions (TB provider.go:1337-1391,
 * 1480-1483, 1715-1770, 1833; tfshim/sdk-v2/diagnostics.go): a failure that left no state is the
 * bare diagnostics list; a failure that left state (a create that got an ID, and every update,
 * since SDKv2 hands back the planned state with the error) is an init error
 * `creating|updating <urn>: …`; refresh and delete failures are `refreshing|deleting <urn>: …`.
 */
export function withBridgeErrors<C>(def: ResourceDefinition<C>): ResourceDefinition<C> {
  const wrap =
    <A extends unknown[], R>(op: keyof typeof VERBS, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (e) {
        const urn = (a[1] as OperationContext<C>).urn;
        const text = tfErrorText(e instanceof Error ? e.message : String(e));
        if (e instanceof InitFailedError) throw new InitFailedError(`${VERBS[op]} ${urn}: ${text}`, e.id, e.properties);
        throw new Error(op === "create" ? text : `${VERBS[op]} ${urn}: ${text}`);
      }
    };
  return {
    ...def,
    create: wrap("create", def.create.bind(def)),
    read: wrap("read", def.read.bind(def)),
    update: wrap("update", def.update.bind(def)),
    delete: wrap("delete", def.delete.bind(def)),
  };
}
