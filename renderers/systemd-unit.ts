/**
 * systemd service and timer units: spec in, unit file text out. systemd's unit
 * parser treats a newline as a new key, a trailing `\` as a continuation, `%`
 * as a specifier and (in Exec lines) `$` as variable expansion, so everything
 * interpolated is either checked against a narrow pattern or quoted/escaped.
 */
import { POSIX_NAME, POSIX_NAME_ALLOWED, RenderError, array, bool, fsPath, intInRange, matchString, oneOf, show } from "./validate";

export { RenderError } from "./validate";

/** A `.service` unit. */
export interface SystemdServiceSpec {
  /** Unit name without the `.service` suffix, `^[a-z0-9][a-z0-9_.@-]{0,63}$`. */
  name: string;
  /** One-line `Description=`: printable, no control characters, no leading/trailing space or trailing `\`, at most 200 chars. */
  description: string;
  /**
   * `Type=`. `exec` reports a failed exec (missing binary, bad user) as a failed start.
   * @default "exec"
   */
  type?: "simple" | "exec" | "oneshot" | "notify";
  /** Command argv: argv[0] an absolute path; every argument is quoted, so `$`, `%`, spaces and quotes reach the process literally. */
  execStart: string[];
  /** Commands run before `execStart`, each an argv like `execStart`; a failure aborts the start. */
  execStartPre?: string[][];
  /** `User=`; omitted means root. Pattern `^[a-z_][a-z0-9_-]{0,31}$`. */
  user?: string;
  /** `Group=`; omitted means the user's primary group. Same pattern as `user`. */
  group?: string;
  /** `WorkingDirectory=`, absolute path. */
  workingDirectory?: string;
  /** `EnvironmentFile=`, absolute path (see renderEnvFile); required to exist when the service starts. */
  environmentFile?: string;
  /** `Environment=` pairs; keys `^[A-Za-z_][A-Za-z0-9_]*$`, values without control characters. Not for secrets (units are world-readable); use `environmentFile`. */
  environment?: Record<string, string>;
  /**
   * `Restart=`. `always` is refused for `oneshot` (systemd refuses it too).
   * @default "on-failure"
   */
  restart?: "always" | "on-failure" | "no";
  /** `RestartSec=` in whole seconds, 0-3600. Omitted means systemd's 100ms. */
  restartSec?: number;
  /** `After=` unit names with suffix, e.g. `network-online.target`, `docker.service`. */
  after?: string[];
  /** `Wants=` unit names with suffix. */
  wants?: string[];
  /** `Requires=` unit names with suffix. */
  requires?: string[];
  /** `ReadWritePaths=` absolute paths: the only places a hardened service (`ProtectSystem=strict`) may write. */
  readWritePaths?: string[];
  /**
   * Sandboxing suited to a network service running as an unprivileged user
   * (see HARDENING): read-only OS, no home dirs, private /tmp and /dev, no
   * capabilities, no kernel tweaking, `@system-service` syscalls, umask 0077.
   * @default true
   */
  hardening?: boolean;
  /**
   * With `hardening`, leave out `MemoryDenyWriteExecute=yes`: JIT runtimes
   * (Node.js, JVM, .NET, PHP opcache JIT) need writable+executable memory and
   * crash under it.
   * @default false
   */
  allowJit?: boolean;
  /**
   * `WantedBy=` target; `null` leaves out `[Install]` (for oneshots started by a timer).
   * @default "multi-user.target"
   */
  wantedBy?: string | null;
}

/** A `.timer` unit. */
export interface SystemdTimerSpec {
  /** Timer name without `.timer`, same pattern as a service name. */
  name: string;
  /** One-line `Description=` (same rules as the service's). */
  description: string;
  /**
   * `OnCalendar=` expression, e.g. `*-*-* 03:15:00` or `daily`. Charset
   * `^[A-Za-z0-9 :*\/,.~-]+$`; its syntax is only checked by systemd (the render
   * tests run `systemd-analyze calendar`).
   */
  onCalendar: string;
  /**
   * `Persistent=`: run at boot if the last run was missed while the host was down.
   * @default true
   */
  persistent?: boolean;
  /** `RandomizedDelaySec=` in whole seconds, 0-86400, to spread load. */
  randomizedDelaySec?: number;
  /** Unit activated, with suffix, e.g. `backup.service`. @default `<name>.service` */
  unit?: string;
}

const UNIT_BASE = /^[a-z0-9][a-z0-9_.@-]{0,63}$/;
const UNIT_REF = /^[A-Za-z0-9][A-Za-z0-9_.@:\\-]{0,200}\.(service|socket|target|timer|mount|path|slice|device|swap|automount|scope)$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CALENDAR = /^[A-Za-z0-9 :*/,.~-]+$/;
// C0 controls, DEL and the C1 block; U+2028/2029 are harmless to systemd but confuse editors and diffs.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Directives of `hardening: true`. Picked to keep a plain HTTP API or a
 * backup job working: no PrivateNetwork or IPAddressDeny (it talks to the
 * network), no ProcSubset=pid (runtimes size thread pools from /proc/cpuinfo
 * and /proc/meminfo), no PrivateUsers (needs per-service checking of which
 * users and groups must stay visible). Writes need `readWritePaths`
 * because of ProtectSystem=strict.
 */
const HARDENING = [
  "NoNewPrivileges=yes",
  "ProtectSystem=strict",
  "ProtectHome=yes",
  "PrivateTmp=yes",
  "PrivateDevices=yes",
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectKernelLogs=yes",
  "ProtectControlGroups=yes",
  "ProtectClock=yes",
  "ProtectHostname=yes",
  "ProtectProc=invisible",
  "RestrictSUIDSGID=yes",
  "RestrictRealtime=yes",
  "RestrictNamespaces=yes",
  "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
  "LockPersonality=yes",
  "RemoveIPC=yes",
  "SystemCallArchitectures=native",
  "SystemCallFilter=@system-service",
  "SystemCallErrorNumber=EPERM",
  "CapabilityBoundingSet=",
  "AmbientCapabilities=",
  "UMask=0077",
];

function unitBase(field: string, value: unknown): string {
  return matchString(field, value, UNIT_BASE, "a unit name without suffix: a-z 0-9, then up to 63 of a-z 0-9 _ . @ - (pattern ^[a-z0-9][a-z0-9_.@-]{0,63}$)");
}

function unitRef(field: string, value: unknown): string {
  return matchString(field, value, UNIT_REF, "a unit name with its suffix such as docker.service or network-online.target (letters, digits, _ . @ : \\ -)");
}

function description(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 200) {
    throw new RenderError(field, `must be a one-line string of 1-200 characters, got ${show(value)}`);
  }
  if (CONTROL.test(value)) throw new RenderError(field, `must not contain newlines or other control characters, got ${show(value)}`);
  // systemd strips surrounding whitespace and joins a line ending in `\` with the next one.
  if (value.trim() !== value) throw new RenderError(field, `must not start or end with whitespace, got ${show(value)}`);
  if (value.endsWith("\\")) throw new RenderError(field, `must not end with a backslash (systemd would join the next line), got ${show(value)}`);
  return value.replace(/%/g, "%%");
}

/**
 * Quotes one Exec argument for systemd: inside double quotes `\` and `"` are
 * backslash-escaped, `%` (specifiers) is doubled and `$` (environment
 * expansion in Exec lines) is doubled.
 */
function execArg(field: string, value: unknown): string {
  if (typeof value !== "string") throw new RenderError(field, `must be a string, got ${show(value)}`);
  if (CONTROL.test(value)) throw new RenderError(field, `must not contain newlines or other control characters, got ${show(value)}`);
  return `"${value.replace(/[\\"]/g, "\\$&").replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

function argv(field: string, value: unknown): string {
  const args = array<unknown>(field, value, 1);
  // The binary stays unquoted: it is a checked path, and systemd looks for prefixes like `-` and `!` there.
  const bin = fsPath(`${field}[0]`, args[0]);
  return [bin, ...args.slice(1).map((a, i) => execArg(`${field}[${i + 1}]`, a))].join(" ");
}

function optional<T>(value: T | undefined, check: (v: T) => string): string | undefined {
  return value === undefined ? undefined : check(value);
}

function unitList(field: string, value: string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const units = array<unknown>(field, value).map((u, i) => unitRef(`${field}[${i}]`, u));
  return units.length === 0 ? undefined : units.join(" ");
}

function render(sections: [string, [string, string | undefined][]][]): string {
  return sections
    .map(([title, entries]) => [`[${title}]`, ...entries.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`)].join("\n"))
    .join("\n\n") + "\n";
}

const HEADER = "# Generated by berth; local edits are overwritten on the next deploy.\n";

/** Renders a `.service` unit; throws {@link RenderError} naming the field when a value is not allowed. */
export function renderSystemdService(spec: SystemdServiceSpec): string {
  if (typeof spec !== "object" || spec === null) throw new RenderError("spec", "must be an object");
  unitBase("name", spec.name);
  const desc = description("description", spec.description);
  const type = oneOf("type", spec.type ?? "exec", ["simple", "exec", "oneshot", "notify"] as const);
  const execStart = argv("execStart", spec.execStart);
  const pre = spec.execStartPre === undefined ? [] : array<unknown>("execStartPre", spec.execStartPre).map((a, i) => argv(`execStartPre[${i}]`, a));
  const user = optional(spec.user, (v) => matchString("user", v, POSIX_NAME, POSIX_NAME_ALLOWED));
  const group = optional(spec.group, (v) => matchString("group", v, POSIX_NAME, POSIX_NAME_ALLOWED));
  const workingDirectory = optional(spec.workingDirectory, (v) => fsPath("workingDirectory", v));
  const environmentFile = optional(spec.environmentFile, (v) => fsPath("environmentFile", v));
  const env: [string, string][] = [];
  if (spec.environment !== undefined) {
    if (typeof spec.environment !== "object" || spec.environment === null) throw new RenderError("environment", "must be an object of string values");
    for (const key of Object.keys(spec.environment).sort()) {
      matchString(`environment key ${show(key)}`, key, ENV_KEY, "a variable name (pattern ^[A-Za-z_][A-Za-z0-9_]*$)");
      const value = spec.environment[key];
      const field = `environment.${key}`;
      if (typeof value !== "string") throw new RenderError(field, `must be a string, got ${show(value)}`);
      if (CONTROL.test(value)) throw new RenderError(field, `must not contain newlines or other control characters, got ${show(value)}`);
      // Environment= does not expand `$`, but does expand `%` specifiers.
      env.push(["Environment", `"${`${key}=${value}`.replace(/[\\"]/g, "\\$&").replace(/%/g, "%%")}"`]);
    }
  }
  const restart = oneOf("restart", spec.restart ?? "on-failure", ["always", "on-failure", "no"] as const);
  if (type === "oneshot" && restart === "always") throw new RenderError("restart", `must not be "always" for a oneshot service (systemd refuses it); use "on-failure" or "no"`);
  const restartSec = optional(spec.restartSec, (v) => String(intInRange("restartSec", v, 0, 3600)));
  const after = unitList("after", spec.after);
  const wants = unitList("wants", spec.wants);
  const requires = unitList("requires", spec.requires);
  const rw = spec.readWritePaths === undefined ? [] : array<unknown>("readWritePaths", spec.readWritePaths).map((p, i) => fsPath(`readWritePaths[${i}]`, p));
  const hardening = bool("hardening", spec.hardening ?? true);
  const allowJit = bool("allowJit", spec.allowJit ?? false);
  const wantedBy = spec.wantedBy === null ? null : unitRef("wantedBy", spec.wantedBy ?? "multi-user.target");

  const service: [string, string | undefined][] = [
    ["Type", type],
    ...pre.map((p): [string, string] => ["ExecStartPre", p]),
    ["ExecStart", execStart],
    ["User", user],
    ["Group", group],
    ["WorkingDirectory", workingDirectory],
    ["EnvironmentFile", environmentFile],
    ...env,
    ["Restart", restart],
    ["RestartSec", restartSec],
    ["ReadWritePaths", rw.length === 0 ? undefined : rw.join(" ")],
  ];
  if (hardening) {
    for (const h of HARDENING) {
      const i = h.indexOf("=");
      service.push([h.slice(0, i), h.slice(i + 1)]);
    }
    if (!allowJit) service.push(["MemoryDenyWriteExecute", "yes"]);
  }
  const sections: [string, [string, string | undefined][]][] = [
    ["Unit", [["Description", desc], ["After", after], ["Wants", wants], ["Requires", requires]]],
    ["Service", service],
  ];
  if (wantedBy !== null) sections.push(["Install", [["WantedBy", wantedBy]]]);
  return HEADER + render(sections);
}

/** Renders a `.timer` unit; throws {@link RenderError} naming the field when a value is not allowed. */
export function renderSystemdTimer(spec: SystemdTimerSpec): string {
  if (typeof spec !== "object" || spec === null) throw new RenderError("spec", "must be an object");
  const name = unitBase("name", spec.name);
  const desc = description("description", spec.description);
  const onCalendar = matchString("onCalendar", spec.onCalendar, CALENDAR, "a calendar expression of letters, digits, space and : * / , . ~ - (pattern ^[A-Za-z0-9 :*/,.~-]+$)");
  if (onCalendar.trim() !== onCalendar) throw new RenderError("onCalendar", `must not start or end with a space, got ${show(onCalendar)}`);
  const persistent = bool("persistent", spec.persistent ?? true);
  const delay = optional(spec.randomizedDelaySec, (v) => String(intInRange("randomizedDelaySec", v, 0, 86_400)));
  const unit = unitRef("unit", spec.unit ?? `${name}.service`);
  return HEADER + render([
    ["Unit", [["Description", desc]]],
    ["Timer", [["OnCalendar", onCalendar], ["Persistent", persistent ? "yes" : "no"], ["RandomizedDelaySec", delay], ["Unit", unit]]],
    ["Install", [["WantedBy", "timers.target"]]],
  ]);
}
