/**
 * `random:index/randomPassword:RandomPassword` (Terraform `random_password`, plugin framework), as
 * SEMANTICS.md §7 reads it from hashicorp/terraform-provider-random v3.9.0: every input replaces,
 * Update only copies the plan into state, Read is a no-op, the ID is the constant "none".
 */
import { randomInt } from "node:crypto";
import bcrypt from "bcryptjs";
import { type CheckFailure, refuseUnknownInputs, type ResourceDefinition } from "../runtime/definition";
import type { PropertyTypes } from "../runtime/types";
import { containsUnknown, deepEqual, type Props, UNKNOWN, type Value } from "../runtime/properties";

export const TOKEN = "random:index/randomPassword:RandomPassword";

const BOOLEANS = ["special", "upper", "lower", "number", "numeric"] as const;
const MINIMUMS = ["minUpper", "minLower", "minNumeric", "minSpecial"] as const;
const INPUT_TYPES: PropertyTypes = {
  length: "integer",
  special: "boolean",
  upper: "boolean",
  lower: "boolean",
  number: "boolean",
  numeric: "boolean",
  minUpper: "integer",
  minLower: "integer",
  minNumeric: "integer",
  minSpecial: "integer",
  overrideSpecial: "string",
  keepers: { map: "string" },
};
const INPUTS = Object.keys(INPUT_TYPES);

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
/** The default special set (HR:internal/random/string.go). */
export const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** The planned attributes: the inputs with the schema's defaults (booleans true, minimums 0). */
export function plan(inputs: Props): Props {
  const numeric = (inputs.numeric ?? inputs.number ?? true) as boolean;
  const out: Props = {
    length: inputs.length ?? null,
    special: inputs.special ?? true,
    upper: inputs.upper ?? true,
    lower: inputs.lower ?? true,
    numeric,
    number: numeric,
  };
  for (const m of MINIMUMS) out[m] = inputs[m] ?? 0;
  if (inputs.overrideSpecial !== undefined && inputs.overrideSpecial !== null) out.overrideSpecial = inputs.overrideSpecial;
  if (inputs.keepers !== undefined && inputs.keepers !== null) out.keepers = inputs.keepers;
  return out;
}

/**
 * Generation as HR:internal/random/string.go does it: the `min*` characters first, each from its
 * own class's set whether or not that class is enabled, then the rest from the enabled classes,
 * then a shuffle. `crypto.randomInt` stands in for Go's crypto/rand.
 */
export function generate(p: Props): string {
  const length = p.length as number;
  const special = (p.overrideSpecial as string | undefined) ?? DEFAULT_SPECIAL;
  let all = "";
  if (p.upper) all += UPPER;
  if (p.lower) all += LOWER;
  if (p.numeric) all += DIGITS;
  if (p.special) all += special;
  const chars: string[] = [];
  const draw = (set: string, n: number) => {
    for (let i = 0; i < n; i++) chars.push(set[randomInt(set.length)]!);
  };
  draw(UPPER, p.minUpper as number);
  draw(LOWER, p.minLower as number);
  draw(DIGITS, p.minNumeric as number);
  draw(special, p.minSpecial as number);
  if (chars.length < length) {
    if (all.length === 0) throw new Error("the character set is empty: enable at least one of upper, lower, numeric, special");
    draw(all, length - chars.length);
  }
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join("");
}

/**
 * The keepers plan modifier (HR:internal/planmodifiers/map/mapplanmodifiers.go): with keepers in
 * state, a removed key, a changed value (even to null) or a new non-null key replaces; from no
 * keepers, only a map with some non-null value replaces.
 */
export function keepersReplace(oldKeepers: Value | undefined, newKeepers: Value | undefined): boolean {
  if (containsUnknown(newKeepers)) return true;
  const o = (oldKeepers ?? null) as Record<string, Value> | null;
  const n = (newKeepers ?? null) as Record<string, Value> | null;
  if (o === null) return n !== null && Object.values(n).some((v) => v !== null);
  for (const k of Object.keys(o)) {
    if (n === null || !(k in n) || n[k] !== o[k]) return true;
  }
  for (const k of Object.keys(n ?? {})) {
    if (!(k in o) && n![k] !== null) return true;
  }
  return false;
}

export const randomPassword: ResourceDefinition<unknown> = {
  token: TOKEN,
  inputs: INPUT_TYPES,
  outputs: { result: "string", bcryptHash: "string" },
  check(news) {
    const failures: CheckFailure[] = refuseUnknownInputs("random", TOKEN, news, INPUT_TYPES);
    const known = (v: Value | undefined) => v !== undefined && v !== null && !containsUnknown(v);
    if (news.length === undefined || news.length === null) failures.push({ property: "length", reason: "Missing required property 'length'" });
    else if (known(news.length) && (!Number.isInteger(news.length) || (news.length as number) < 1))
      failures.push({ property: "length", reason: "length must be an integer of at least 1" });
    for (const m of MINIMUMS)
      if (known(news[m]) && (news[m] as number) < 0) failures.push({ property: m, reason: `${m} must be at least 0` });
    if (failures.length === 0 && [news.length, ...MINIMUMS.map((m) => news[m])].every((v) => v === undefined || v === null || known(v))) {
      const p = plan(news);
      const sum = MINIMUMS.reduce((a, m) => a + (p[m] as number), 0);
      if ((p.length as number) < sum)
        failures.push({ property: "length", reason: `length (${p.length}) must be >= minUpper + minLower + minNumeric + minSpecial (${sum})` });
    }
    return { inputs: news, failures };
  },
  diff({ olds, news }) {
    const o = plan(olds);
    const n = plan(news);
    const replaces: string[] = [];
    for (const k of ["length", ...BOOLEANS, ...MINIMUMS] as const) {
      if (containsUnknown(n[k]) || !deepEqual(o[k], n[k])) replaces.push(k);
    }
    // "" -> null is the one overrideSpecial change that does not replace (resource_password.go).
    const os = o.overrideSpecial ?? null;
    const ns = n.overrideSpecial ?? null;
    if (containsUnknown(ns) || (!deepEqual(os, ns) && !(os === "" && ns === null))) replaces.push("overrideSpecial");
    if (keepersReplace(olds.keepers, news.keepers)) replaces.push("keepers");
    // Keepers changes that do not replace (null-valued keys) still change the stored inputs.
    const keepersChanged = !deepEqual(olds.keepers ?? null, news.keepers ?? null);
    const detailedDiff = Object.fromEntries(replaces.map((k) => [k, "update-replace" as const]));
    if (keepersChanged && !replaces.includes("keepers")) (detailedDiff as Record<string, string>).keepers = "update";
    return { changes: Object.keys(detailedDiff).length > 0, replaces, detailedDiff };
  },
  async create(inputs, ctx) {
    const p = plan(inputs);
    if (ctx.preview) return { id: "", outputs: { ...p, result: UNKNOWN, bcryptHash: UNKNOWN } };
    const result = generate(p);
    // The real provider hashes with Go's bcrypt at its default cost (10).
    return { id: "none", outputs: { ...p, result, bcryptHash: bcrypt.hashSync(result, 10) } };
  },
  async read({ id, state }) {
    // No-op (resource_password.go Read): state comes back unchanged, inputs rebuilt from it.
    const inputs: Props = {};
    for (const k of INPUTS) if (state[k] !== undefined && state[k] !== null) inputs[k] = state[k]!;
    return { id, outputs: state, inputs };
  },
  async update({ olds, news }) {
    // Update only copies the plan into state; the password itself never changes in place.
    return { ...plan(news), result: olds.result ?? null, bcryptHash: olds.bcryptHash ?? null };
  },
  async delete() {
    // Nothing remote to delete.
  },
};
