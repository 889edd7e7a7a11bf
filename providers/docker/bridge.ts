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
 *   values, and no `__defaults` (TB provider.go:1501-1508; schema.go:1760-1830).
 */
import { createHash, randomBytes } from "node:crypto";
import type { CheckContext, CheckFailure, DiffKind, DiffResult } from "../runtime/definition";
import { refuseUnknownInputs } from "../runtime/definition";
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

/** The bridge's Diff of new inputs against the stored state. */
export function bridgeDiff(state: Props, news: Props, spec: DiffSpec): DiffResult {
  const detailedDiff: Record<string, DiffKind> = {};
  const replaces: string[] = [];
  for (const [key, t] of Object.entries(spec.inputs)) {
    const o = state[key] ?? undefined;
    const n = news[key] ?? undefined;
    if (n === undefined && spec.computed.includes(key)) continue;
    const unknown = n !== undefined && containsUnknown(n);
    const same = !unknown && (spec.equal?.[key] ? spec.equal[key]!(o, n) : valuesEqual(t, o, n, spec.sets?.includes(key) ?? false));
    if (same) continue;
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

/** The state after an in-place update: new inputs, Optional+Computed ones kept when left out. */
export function updatedState(state: Props, news: Props, spec: { inputs: PropertyTypes; computed: readonly string[] }): Props {
  const out: Props = { ...state };
  for (const key of Object.keys(spec.inputs)) {
    const n = news[key];
    if (n !== undefined && n !== null) out[key] = n;
    else if (!spec.computed.includes(key)) delete out[key];
  }
  return out;
}

function extract(old: Value, now: Value | undefined): Value | undefined {
  if (now === undefined) return undefined;
  if (Array.isArray(old) && Array.isArray(now) && old.length === now.length) return old.map((e, i) => extract(e, now[i]) ?? null);
  if (old && now && typeof old === "object" && typeof now === "object" && !Array.isArray(old) && !Array.isArray(now)) {
    const out: Props = {};
    for (const k of Object.keys(old)) {
      if (k.startsWith("__")) continue;
      const v = extract(old[k]!, now[k]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return now;
}

/** ExtractInputsFromOutputs on refresh: the old input keys, with the refreshed state's values. */
export function refreshInputs(oldInputs: Props, state: Props): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(oldInputs)) {
    if (k.startsWith("__")) continue;
    const e = extract(v, state[k] ?? undefined);
    if (e !== undefined && e !== null) out[k] = e;
  }
  return out;
}

/** Only the implemented inputs, without engine keys (what Create hands to the Docker calls). */
export function plainInputs(inputs: Props, types: PropertyTypes): Props {
  const out: Props = {};
  for (const k of Object.keys(types)) if (inputs[k] !== undefined && inputs[k] !== null) out[k] = inputs[k]!;
  return out;
}
