import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { shellQuote } from "../../renderers/shell";
import { RenderError } from "../../renderers/validate";
import { run } from "./helpers";

describe("shellQuote", () => {
  it.each([
    ["", "''"],
    ["plain", "'plain'"],
    ["it's", "'it'\\''s'"],
    ["$HOME `id` $(id) \\ \" ; & | * ?", "'$HOME `id` $(id) \\ \" ; & | * ?'"],
    ["a\nb", "'a\nb'"],
    ["''", "''\\'''\\'''"],
  ])("%j -> %s", (input, expected) => {
    expect(shellQuote(input)).toBe(expected);
  });

  it("rejects NUL, which no shell word can hold", () => {
    expect(() => shellQuote("a\0b")).toThrow(RenderError);
    expect(() => shellQuote("a\0b")).toThrow(/must not contain NUL/);
  });

  it("property: bash reads every quoted string back unchanged", async () => {
    // One bash run for all samples: printf prints each argument followed by NUL, so any string without NUL round-trips.
    const samples = fc.sample(
      fc.oneof(fc.string({ unit: fc.constantFrom("a", " ", "'", '"', "\\", "$", "`", "\n", "\t", "!", "*", ";", "(", "#", "~", "{"), maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 })).filter((s) => !s.includes("\0")),
      { numRuns: 200, seed: 42 },
    );
    const r = await run("bash", ["-c", `printf '%s\\0' ${samples.map(shellQuote).join(" ")}`]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(samples);
  });
});
