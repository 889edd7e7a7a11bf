import { RenderError } from "./validate";

export { RenderError } from "./validate";

/**
 * POSIX single-quote `s` for bash/sh: everything between single quotes is
 * literal, and an embedded `'` becomes `'\''` (close, escaped quote, reopen).
 * Throws {@link RenderError} for NUL, which no shell word can hold.
 */
export function shellQuote(s: string): string {
  if (typeof s !== "string") throw new RenderError("shellQuote", `argument must be a string, got ${typeof s}`);
  if (s.includes("\0")) throw new RenderError("shellQuote", "argument must not contain NUL characters");
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
