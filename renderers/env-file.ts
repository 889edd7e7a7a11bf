/**
 * Environment files for systemd's `EnvironmentFile=` (also readable by
 * docker compose's `env_file`). One `KEY="value"` line per variable.
 */
import { RenderError, show } from "./validate";

export { RenderError } from "./validate";

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Renders `vars` as an env file: keys checked and sorted (stable output, so an
 * unchanged set of variables gives a byte-identical file and no redeploy),
 * values double-quoted with `\` and `"` backslash-escaped. systemd's parser
 * unescapes exactly those inside double quotes and does not expand `$`.
 * Throws {@link RenderError} for a bad key or a value with NUL, CR or LF: the
 * format has no way to carry them (systemd would split the line or cut the value).
 */
export function renderEnvFile(vars: Record<string, string>): string {
  if (typeof vars !== "object" || vars === null || Array.isArray(vars)) throw new RenderError("vars", `must be an object of string values, got ${show(vars)}`);
  const lines: string[] = [];
  for (const key of Object.keys(vars).sort()) {
    if (!KEY.test(key)) throw new RenderError(`key ${show(key)}`, "must be a variable name: letter or _, then letters, digits or _ (pattern ^[A-Za-z_][A-Za-z0-9_]*$)");
    const value = vars[key];
    if (typeof value !== "string") throw new RenderError(key, `value must be a string, got ${show(value)}`);
    if (/[\0\r\n]/.test(value)) {
      throw new RenderError(key, "value must not contain NUL, carriage return or newline characters (an env file holds one variable per line); encode multi-line values, e.g. base64");
    }
    lines.push(`${key}="${value.replace(/[\\"]/g, "\\$&")}"\n`);
  }
  return lines.join("");
}
