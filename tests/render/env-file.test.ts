import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { RenderError, renderEnvFile } from "../../renderers/env-file";

describe("renderEnvFile", () => {
  it.each([
    ["empty", {}, ""],
    ["sorted keys, plain values", { PORT: "3000", DATABASE_URL: "postgres://app@127.0.0.1:5432/app", _x: "" }, 'DATABASE_URL="postgres://app@127.0.0.1:5432/app"\nPORT="3000"\n_x=""\n'],
    ["quotes and backslashes escaped; $, #, ', spaces and = kept literally", { A: 'say "hi"', B: "C:\\dir\\", C: "$HOME #not-a-comment 'x' a=b  " }, 'A="say \\"hi\\""\nB="C:\\\\dir\\\\"\nC="$HOME #not-a-comment \'x\' a=b  "\n'],
    ["unicode kept", { GREETING: "grüß dich ✓" }, 'GREETING="grüß dich ✓"\n'],
  ] as [string, Record<string, string>, string][])("%s", (_name, vars, expected) => {
    expect(renderEnvFile(vars)).toBe(expected);
  });

  it.each([
    ["key starting with a digit", { "1A": "x" }, /^key "1A": must be a variable name/],
    ["key with a dash", { "A-B": "x" }, /^key "A-B": must be a variable name/],
    ["key with a newline", { "A\nB": "x" }, /^key "A\\nB": /],
    ["empty key", { "": "x" }, /^key "": /],
    ["value with a newline", { A: "x\ny" }, /^A: value must not contain NUL, carriage return or newline characters/],
    ["value with CR", { A: "x\r" }, /^A: value must not contain NUL, carriage return or newline/],
    ["value with NUL", { A: "x\0" }, /^A: value must not contain NUL/],
    ["value not a string", { A: 3 }, /^A: value must be a string/],
  ] as [string, Record<string, unknown>, RegExp][])("rejects %s", (_name, vars, message) => {
    expect(() => renderEnvFile(vars as Record<string, string>)).toThrow(RenderError);
    expect(() => renderEnvFile(vars as Record<string, string>)).toThrow(message);
  });

  it("property: output has exactly one line per key, or RenderError", () => {
    const key = fc.oneof(fc.string({ maxLength: 8 }), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/));
    const value = fc.oneof(fc.string({ unit: fc.constantFrom("a", " ", "\n", "\r", "\0", '"', "\\", "$", "#", "=", "'", "\u2028"), maxLength: 16 }), fc.string({ unit: "grapheme", maxLength: 16 }));
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 6 }), (vars) => {
        let text: string;
        try {
          text = renderEnvFile(vars);
        } catch (e) {
          expect(e).toBeInstanceOf(RenderError);
          return;
        }
        const lines = text === "" ? [] : text.slice(0, -1).split(/\r\n|\r|\n/);
        expect(lines.length).toBe(Object.keys(vars).length);
        // Each line is KEY="..." with every inner quote escaped, so the value cannot end early.
        for (const l of lines) expect(l).toMatch(/^[A-Za-z_][A-Za-z0-9_]*="(?:[^"\\]|\\["\\])*"$/);
      }),
      { numRuns: 200 },
    );
  });
});
