/**
 * The random stand-in against SEMANTICS.md §7 (random_password, terraform-provider-random v3.9.0):
 * one case per rule, named after it.
 */
import { describe, expect, it } from "vitest";
import type { OperationContext } from "../../providers/runtime/definition";
import { UNKNOWN, type Props } from "../../providers/runtime/properties";
import { DEFAULT_SPECIAL, randomPassword as rp } from "../../providers/random/random-password";

const ctx = (preview = false): OperationContext<unknown> => ({
  urn: "urn:pulumi:s::p::random:index/randomPassword:RandomPassword::pw",
  name: "pw",
  type: rp.token,
  preview,
  config: {},
  log: async () => {},
});
const checkCtx = { urn: ctx().urn, name: "pw", type: rp.token, randomSeed: Buffer.alloc(32) };

async function created(inputs: Props) {
  return (await rp.create(inputs, ctx())).outputs;
}
async function replaces(olds: Props, news: Props) {
  const state = await created(olds);
  return rp.diff({ id: "none", olds: state, news, oldInputs: olds }, ctx()).replaces;
}

describe("random stand-in: RandomPassword (SEMANTICS.md §7)", () => {
  it.each([
    ["length", { length: 20 }, { length: 21 }],
    ["special", { length: 20 }, { length: 20, special: false }],
    ["upper", { length: 20 }, { length: 20, upper: false }],
    ["lower", { length: 20 }, { length: 20, lower: false }],
    ["numeric", { length: 20 }, { length: 20, numeric: false }],
    ["minUpper", { length: 20 }, { length: 20, minUpper: 2 }],
    ["minLower", { length: 20 }, { length: 20, minLower: 2 }],
    ["minNumeric", { length: 20 }, { length: 20, minNumeric: 2 }],
    ["minSpecial", { length: 20 }, { length: 20, minSpecial: 2 }],
    ["overrideSpecial", { length: 20 }, { length: 20, overrideSpecial: "!" }],
  ] as Array<[string, Props, Props]>)("§7 replace: a change to `%s` replaces", async (prop, olds, news) => {
    expect(await replaces(olds, news)).toContain(prop);
  });

  it("§7 replace: `overrideSpecial` going from \"\" to null does not replace", async () => {
    expect(await replaces({ length: 20, overrideSpecial: "" }, { length: 20 })).toEqual([]);
  });

  it.each([
    ["an existing key's value changes", { a: "1" }, { a: "2" }, true],
    ["an existing key's value changes to null", { a: "1" }, { a: null }, true],
    ["a key is removed", { a: "1", b: "2" }, { a: "1" }, true],
    ["a new key with a non-null value is added", { a: "1" }, { a: "1", b: "2" }, true],
    ["a new key with a null value is added", { a: "1" }, { a: "1", b: null }, false],
    ["nothing changes", { a: "1" }, { a: "1" }, false],
  ] as Array<[string, Props, Props, boolean]>)("§7 keepers: with keepers in state, replace when %s (%s → %s: %s)", async (_what, o, n, expected) => {
    expect((await replaces({ length: 20, keepers: o }, { length: 20, keepers: n })).includes("keepers")).toBe(expected);
  });

  it("§7 keepers: from no keepers to keepers with a real value replaces; to an all-null map does not", async () => {
    expect(await replaces({ length: 20 }, { length: 20, keepers: { a: "1" } })).toContain("keepers");
    expect(await replaces({ length: 20 }, { length: 20, keepers: { a: null } })).not.toContain("keepers");
  });

  it("§7 keepers: a keeper not known yet (preview) counts as a change that replaces", async () => {
    expect(await replaces({ length: 20, keepers: { a: "1" } }, { length: 20, keepers: { a: UNKNOWN } })).toContain("keepers");
  });

  it("§7 no input updates in place: Update only copies the plan into state and keeps the password", async () => {
    const state = await created({ length: 20, keepers: { a: "1" } });
    const updated = await rp.update({ id: "none", olds: state, news: { length: 20, keepers: { a: "1", b: null } }, oldInputs: {} }, ctx());
    expect(updated.result).toBe(state.result);
    expect(updated.bcryptHash).toBe(state.bcryptHash);
    expect(updated.keepers).toEqual({ a: "1", b: null });
  });

  it("§7 outputs: `result` and `bcryptHash` are produced (secret through the SDK's additionalSecretOutputs), the ID is \"none\"", async () => {
    const { id, outputs } = await rp.create({ length: 24 }, ctx());
    expect(id).toBe("none");
    expect(outputs.result).toHaveLength(24);
    const bcrypt = (await import("bcryptjs")).default;
    expect(bcrypt.compareSync(outputs.result as string, outputs.bcryptHash as string)).toBe(true);
    expect(rp.outputs).toEqual({ result: "string", bcryptHash: "string" });
  });

  it("§7 generation: defaults are upper, lower, numeric and special, the special set is the default one", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) for (const c of (await created({ length: 64 })).result as string) seen.add(c);
    expect([...seen].some((c) => /[A-Z]/.test(c)) && [...seen].some((c) => /[a-z]/.test(c)) && [...seen].some((c) => /\d/.test(c))).toBe(true);
    const specials = [...seen].filter((c) => !/[A-Za-z0-9]/.test(c));
    expect(specials.length).toBeGreaterThan(0);
    for (const c of specials) expect(DEFAULT_SPECIAL).toContain(c);
  });

  it("§7 generation: `min*` draws use their class's set even when the class is off, and `minSpecial` uses `overrideSpecial`", async () => {
    for (let i = 0; i < 10; i++) {
      const r = (await created({ length: 8, numeric: false, minNumeric: 2, special: false, minSpecial: 1, overrideSpecial: "~" })).result as string;
      expect(r.replace(/[^0-9]/g, "")).toHaveLength(2);
      expect(r.replace(/[^~]/g, "")).toHaveLength(1);
      expect(r).toMatch(/^[A-Za-z0-9~]{8}$/);
    }
  });

  it("§7 generation: special=false gives letters and digits only (what berth relies on for URLs and env files)", async () => {
    for (let i = 0; i < 10; i++) expect((await created({ length: 64, special: false })).result).toMatch(/^[A-Za-z0-9]{64}$/);
  });

  it("§7 length must be ≥1 and ≥ the sum of the min* values", () => {
    expect(rp.check({ length: 0 }, undefined, checkCtx).failures.map((f) => f.property)).toContain("length");
    expect(rp.check({ length: 3, minUpper: 2, minLower: 2 }, undefined, checkCtx).failures.map((f) => f.property)).toContain("length");
    expect(rp.check({ length: 4, minUpper: 2, minLower: 2 }, undefined, checkCtx).failures).toEqual([]);
  });

  it("§7 Read/refresh is a no-op: the state comes back unchanged", async () => {
    const state = await created({ length: 20 });
    const read = await rp.read({ id: "none", state, inputs: { length: 20 } }, ctx());
    expect(read?.outputs).toEqual(state);
    expect(read?.id).toBe("none");
  });

  it("§7 preview: create has no side effect and the result is not known yet", async () => {
    const { id, outputs } = await rp.create({ length: 20 }, ctx(true));
    expect(id).toBe("");
    expect(outputs.result).toBe(UNKNOWN);
  });

  it("the stand-in refuses properties it does not implement", () => {
    const r = rp.check({ length: 20, bogus: "x" }, undefined, checkCtx);
    expect(r.failures).toEqual([expect.objectContaining({ property: "bogus", reason: expect.stringMatching(/does not implement/) })]);
  });
});
