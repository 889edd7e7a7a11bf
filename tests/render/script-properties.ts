/**
 * The shape property shared by the script render tests: any string in an interpolated field is
 * either refused with a RenderError or leaves every line outside that field's own untouched.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { RenderError } from "../../renderers/validate";

export const HOSTILE_UNITS = ["a", "z", "0", ".", "-", "_", "/", "*", "@", ":", " ", "\t", "'", '"', "\\", "$", "`", "\n", "\r", ";", "&", "|", "(", ")", "{", "}", "<", ">", "#", "~", "%", "=", "!", "?", "[", "]", "\0", "é"];
export const FRAGMENTS = ["", "\n", "\nreboot", ";reboot", "$(id)", "`id`", "'", '"', " x", "/../etc", "..", "\r", "\0", "*", "${IFS}", "'$(id)'", "\\"];

/** Random strings, hostile characters, a valid value with a hostile fragment inserted, and values the field accepts. */
export function hostile(valid: string, accepted: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 24 }),
    fc.string({ unit: fc.constantFrom(...HOSTILE_UNITS), minLength: 1, maxLength: 24 }),
    fc.tuple(fc.constantFrom(...FRAGMENTS), fc.nat(valid.length)).map(([f, i]) => valid.slice(0, i) + f + valid.slice(i)),
    accepted,
    accepted,
  );
}

export interface FieldCase {
  render: (v: string) => string;
  /** Two accepted values: the lines where their scripts differ are the only ones the field may touch. */
  a: string;
  b: string;
  accepted: fc.Arbitrary<string>;
}

/** Runs the property; returns the scripts it accepted, for one batched `bash -n`. */
export function shapeProperty(c: FieldCase): string[] {
  const base = c.render(c.a).split("\n");
  const other = c.render(c.b).split("\n");
  expect(other.length).toBe(base.length);
  const fieldLines = new Set(base.flatMap((line, i) => (line === other[i] ? [] : [i])));
  expect(fieldLines.size).toBeGreaterThan(0);
  const scripts: string[] = [];
  fc.assert(
    fc.property(hostile(c.a, c.accepted), (v) => {
      let script: string;
      try {
        script = c.render(v);
      } catch (e) {
        expect(e).toBeInstanceOf(RenderError);
        return;
      }
      const lines = script.split("\n");
      expect(lines.length).toBe(base.length);
      lines.forEach((line, i) => {
        if (!fieldLines.has(i)) expect(line, `line ${i + 1} changed for ${JSON.stringify(v)}`).toBe(base[i]);
      });
      scripts.push(script);
    }),
    { numRuns: 100 },
  );
  expect(scripts.length, "the generator should produce some accepted values").toBeGreaterThan(0);
  return scripts;
}

/** `render` throws a RenderError for `field`, whose message starts with the field and says what is allowed. */
export function expectRejection(render: () => unknown, field: string, reason: RegExp): void {
  let error: unknown;
  try {
    render();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(RenderError);
  expect((error as RenderError).field).toBe(field);
  expect((error as RenderError).message.startsWith(`${field}: `)).toBe(true);
  expect((error as RenderError).message).toMatch(reason);
}
