/**
 * Shared validation for the renderers. Every value a renderer interpolates into
 * a config file or script passes through one of these first, so a hostile or
 * mistaken value fails the deploy with a message instead of silently adding a
 * directive, a unit line or a shell command.
 */

/** Thrown when a spec value cannot be rendered safely. `field` is the spec path, e.g. `tls.keyPath`. */
export class RenderError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = "RenderError";
  }
}

/** JSON.stringify keeps control characters visible in messages without echoing them raw. */
export function show(value: unknown): string {
  try {
    const s = JSON.stringify(value);
    if (s === undefined) return String(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(value);
  }
}

export function matchString(field: string, value: unknown, re: RegExp, allowed: string): string {
  // `re` is always anchored with ^...$ and no `m` flag, so in JS `$` cannot match before a trailing newline.
  if (typeof value !== "string") throw new RenderError(field, `must be a string (${allowed}), got ${show(value)}`);
  if (!re.test(value)) throw new RenderError(field, `must be ${allowed}, got ${show(value)}`);
  return value;
}

export function intInRange(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RenderError(field, `must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

export function bool(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new RenderError(field, `must be true or false, got ${show(value)}`);
  return value;
}

export function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new RenderError(field, `must be one of ${allowed.join(", ")}, got ${show(value)}`);
  }
  return value as T;
}

export function array<T>(field: string, value: unknown, minLength = 0): T[] {
  if (!Array.isArray(value)) throw new RenderError(field, `must be an array, got ${show(value)}`);
  if (value.length < minLength) throw new RenderError(field, `must have at least ${minLength} entr${minLength === 1 ? "y" : "ies"}`);
  return value as T[];
}

const FS_PATH = /^\/[A-Za-z0-9._/-]+$/;

/**
 * Absolute filesystem path. The charset has no whitespace, quotes, `;`, `{`, `}`,
 * `$` or `%`, so the path needs no quoting in nginx, systemd or bash; `..`
 * segments are refused so a path cannot climb out of the directory it names.
 */
export function fsPath(field: string, value: unknown): string {
  const p = matchString(field, value, FS_PATH, "an absolute path of letters, digits and . _ / - (pattern ^/[A-Za-z0-9._/-]+$)");
  if (p.split("/").includes("..")) throw new RenderError(field, `must not contain a ".." segment, got ${show(p)}`);
  return p;
}

const URL_PATH = /^\/[A-Za-z0-9._~/-]*$/;

/** URL path prefix as used in nginx `location`: no spaces, quotes, regex metacharacters or percent-encoding. */
export function urlPath(field: string, value: unknown): string {
  return matchString(field, value, URL_PATH, "a URL path starting with / of letters, digits and . _ ~ / - (pattern ^/[A-Za-z0-9._~/-]*$)");
}

/** Unix user or group name as Debian's adduser accepts by default. */
export const POSIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export const POSIX_NAME_ALLOWED = "a user/group name: lowercase letter or _, then up to 31 of a-z 0-9 _ - (pattern ^[a-z_][a-z0-9_-]{0,31}$)";
