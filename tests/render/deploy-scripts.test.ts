import { afterEach, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { chmodSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  RenderError,
  renderBackupScript,
  renderReleaseCleanupScript,
  renderReleasePortScript,
  renderReservePortScript,
  renderDatabaseLoginScript,
  renderDatabaseLoginSql,
  renderDropDatabaseLoginScript,
  renderDockerEnvFile,
  renderHealthGateScript,
  renderReleaseScript,
  renderRestoreDrillScript,
  type BackupScriptSpec,
  type ReleaseScriptSpec,
} from "../../renderers/deploy-scripts";
import { PATH, requireBinaries, run, tempDir } from "./helpers";
import { expectRejection, shapeProperty, type FieldCase } from "./script-properties";

/*
 * The backup, restore-drill and release scripts need Docker and a Postgres container: here they are
 * checked statically (exact text, shellcheck, bash -n, properties) plus the branches that end before
 * any docker call. The host layer (tests/host) runs them for real on the devhost.
 */

beforeAll(() => requireBinaries("deploy-scripts", ["bash", "curl", "shellcheck", "mktemp", "head"]));

const IMAGE = `sha256:${"0123456789abcdef".repeat(4)}`;
const BACKUP_SPEC: BackupScriptSpec = { siteName: "shop", database: "shop", user: "shop_owner", directory: "/var/backups/berth/shop", keep: 14 };
const RELEASE_SPEC: ReleaseScriptSpec = { imageId: IMAGE, network: "berth-shop", command: ["npx", "prisma", "migrate", "deploy"], labels: { "berth.site": "shop", "berth.process": "release", "berth.tag": "v1.2.3" } };
const HEALTH_SPEC = { port: 3001, path: "/api/health", intervalSeconds: 2, timeoutSeconds: 60 };

const BACKUP = `#!/bin/bash
# Installed by berth: backs up the shop database. Usage: $0 <label>
set -euo pipefail
label=\${1:?usage: $0 <label>}
if ! [[ $label =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "berth-backup: label must be a tag-like word" >&2
  exit 2
fi
dir='/var/backups/berth/shop'
install -d -m 0700 "$dir"
container=$(docker ps -q --filter label=berth.site='shop' --filter label=berth.addon=postgres | head -n 1)
if [ -z "$container" ]; then
  echo "berth-backup: no running postgres container for site shop" >&2
  exit 1
fi
name="$(date -u +%Y%m%dT%H%M%SZ)-$label.dump"
tmp=$(mktemp "$dir/.partial.XXXXXX")
trap 'rm -f "$tmp"' EXIT
docker exec "$container" pg_dump -Fc -U 'shop_owner' -d 'shop' > "$tmp"
# An empty file is not a dump: pg_dump -Fc always writes a header.
[ -s "$tmp" ]
chmod 0600 "$tmp"
mv -f "$tmp" "$dir/$name"
trap - EXIT
ls -1t "$dir"/*.dump | tail -n +$((14 + 1)) | xargs -r rm -f --
echo "berth-backup: $dir/$name ($(stat -c %s "$dir/$name") bytes)"
`;

const RESTORE_DRILL = `#!/bin/bash
# Installed by berth: restores a shop backup into a scratch database. Usage: $0 [--keep] [dump]
set -euo pipefail
keep=0
if [ "\${1:-}" = "--keep" ]; then keep=1; shift; fi
dump=\${1:-$(ls -1t '/var/backups/berth/shop'/*.dump 2>/dev/null | head -n 1 || true)}
if [ -z "$dump" ] || [ ! -s "$dump" ]; then
  echo "berth-restore-drill: no dump found in /var/backups/berth/shop" >&2
  exit 1
fi
container=$(docker ps -q --filter label=berth.site='shop' --filter label=berth.addon=postgres | head -n 1)
if [ -z "$container" ]; then
  echo "berth-restore-drill: no running postgres container for site shop" >&2
  exit 1
fi
scratch="restore_drill_$(date -u +%Y%m%d%H%M%S)"
psql() { docker exec -i "$container" psql -v ON_ERROR_STOP=1 -U 'shop_owner' "$@"; }
psql -d postgres -qc "CREATE DATABASE $scratch"
if [ "$keep" = 0 ]; then trap 'psql -d postgres -qc "DROP DATABASE IF EXISTS $scratch" >/dev/null' EXIT; fi
docker exec -i "$container" pg_restore --no-owner --exit-on-error -U 'shop_owner' -d "$scratch" < "$dump"
echo "berth-restore-drill: restored $dump into $scratch"
# Row counts per table: what a drill compares against production.
psql -d "$scratch" -At -c "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1" |
  while read -r table; do
    echo "$table $(psql -d "$scratch" -At -c "SELECT count(*) FROM public.$table" </dev/null)"
  done
if [ "$keep" = 1 ]; then echo "berth-restore-drill: kept database $scratch"; fi
`;

const RELEASE = `set -euo pipefail
env_file=$(mktemp)
trap 'rm -f "$env_file"' EXIT
chmod 0600 "$env_file"
cat > "$env_file"
echo "berth: release phase in sha256:0123456789ab: npx prisma migrate deploy"
docker run --rm --network 'berth-shop' --env-file "$env_file" --label 'berth.site=shop' --label 'berth.process=release' --label 'berth.tag=v1.2.3' --entrypoint '' sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 'npx' 'prisma' 'migrate' 'deploy'
`;

const HEALTH_GATE = `set -euo pipefail
url=http://127.0.0.1:3001/api/health
body=$(mktemp)
trap 'rm -f "$body"' EXIT
deadline=$(( $(date +%s) + 60 ))
while :; do
  # Emptied first: curl leaves the file alone when it gets no answer, and a stale body would mislead.
  : >"$body"
  code=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 "$url" || true)
  if [ "$code" = 200 ]; then
    echo "berth: health gate passed: $url"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "berth: health gate failed: $url did not answer 200 within 60s (last: HTTP \${code:-none} $(head -c 300 "$body"))" >&2
    exit 1
  fi
  sleep 2
done
`;

describe("deploy scripts: exact output", () => {
  it.each([
    ["backup", () => renderBackupScript(BACKUP_SPEC), BACKUP],
    ["restore drill", () => renderRestoreDrillScript({ siteName: "shop", user: "shop_owner", directory: "/var/backups/berth/shop" }), RESTORE_DRILL],
    ["release", () => renderReleaseScript(RELEASE_SPEC), RELEASE],
    ["health gate", () => renderHealthGateScript(HEALTH_SPEC), HEALTH_GATE],
  ] as [string, () => string, string][])("%s", (_name, render, expected) => {
    expect(render()).toBe(expected);
  });

  it.each([
    // The echo line shows the command with everything outside a safe set replaced by ?, so it cannot expand.
    [["sh", "-c", 'echo "$HOME" `id` \\ it\'s'], "sh -c echo ??HOME? ?id? ? it?s", "'sh' '-c' 'echo \"$HOME\" `id` \\ it'\\''s'"],
    [["node", "migrate.js", "--to=v2", "user@host:/x"], "node migrate.js --to=v2 user@host:/x", "'node' 'migrate.js' '--to=v2' 'user@host:/x'"],
    [[""], "", "''"],
  ])("release command %j is echoed safely and passed quoted", (command, echoed, argv) => {
    const script = renderReleaseScript({ ...RELEASE_SPEC, command, labels: {} });
    const lines = script.split("\n");
    expect(lines[5]).toBe(`echo "berth: release phase in sha256:0123456789ab: ${echoed}"`);
    expect(lines[6]).toBe(`docker run --rm --network 'berth-shop' --env-file "$env_file"  --entrypoint '' ${IMAGE} ${argv}`);
  });

  it.each([
    [1, 5],
    [2, 10],
    [3, 10],
    [60, 10],
  ])("health gate: interval %is gives each poll --max-time %i", (intervalSeconds, maxTime) => {
    expect(renderHealthGateScript({ ...HEALTH_SPEC, intervalSeconds })).toContain(` --max-time ${maxTime} "$url"`);
  });

  it("backup: keep lands in the retention line", () => {
    expect(renderBackupScript({ ...BACKUP_SPEC, keep: 1 })).toContain('\nls -1t "$dir"/*.dump | tail -n +$((1 + 1)) | xargs -r rm -f --\n');
  });
});

describe("renderDockerEnvFile", () => {
  it.each([
    ["empty", {}, ""],
    ["one", { DATABASE_URL: "postgres://u:p@db/x" }, "DATABASE_URL=postgres://u:p@db/x\n"],
    // Sorted by code unit: upper case, then _, then lower case.
    ["sorted", { b: "4", _A: "3", B: "2", A_1: "1", A: "0" }, "A=0\nA_1=1\nB=2\n_A=3\nb=4\n"],
    // Docker takes a value literally: quotes, $, =, #, backslashes and spaces stay as they are.
    ["literal values", { Q: `"quoted" 'single'`, D: "$HOME ${X} $(id) `id`", E: "a=b=c", H: "#not a comment", S: "  padded  ", B: "back\\slash", EMPTY: "", U: "ünïcödé ✓" }, `B=back\\slash\nD=$HOME \${X} $(id) \`id\`\nE=a=b=c\nEMPTY=\nH=#not a comment\nQ="quoted" 'single'\nS=  padded  \nU=ünïcödé ✓\n`],
  ] as [string, Record<string, string>, string][])("%s", (_name, vars, expected) => {
    expect(renderDockerEnvFile(vars)).toBe(expected);
  });

  const SECRET = "hunter2-SECRET-VALUE";
  it.each([
    ["newline", `${SECRET}\nINJECTED=1`],
    ["trailing newline", `${SECRET}\n`],
    ["carriage return", `${SECRET}\r`],
    ["NUL", `${SECRET}\0`],
    ["CRLF", `${SECRET}\r\nX=1`],
  ])("a value with %s is refused, named by its key, without echoing the value", (_name, value) => {
    let error: unknown;
    try {
      renderDockerEnvFile({ OK: "fine", DATABASE_PASSWORD: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RenderError);
    expect((error as RenderError).field).toBe("DATABASE_PASSWORD");
    expect((error as RenderError).message).toBe("DATABASE_PASSWORD: value must not contain NUL, carriage return or newline characters");
    expect((error as RenderError).message).not.toContain("hunter2");
    expect(String((error as RenderError).stack)).not.toContain("hunter2");
  });

  it.each([
    ["undefined", undefined, "undefined"],
    ["number", 5432, "number"],
    ["object", { secret: "hunter2" }, "object"],
  ])("a %s value is refused without being shown", (_name, value, type) => {
    const render = () => renderDockerEnvFile({ API_KEY: value as unknown as string });
    expect(render).toThrow(RenderError);
    expect(render).toThrow(new RenderError("API_KEY", `value must be a string, got ${type}`));
  });

  it.each([
    ["leading digit", "1PASSWORD"],
    ["hyphen", "API-KEY"],
    ["space", "API KEY"],
    ["equals", "A=B"],
    ["newline", "A\nB"],
    ["$(...)", "$(id)"],
    ["empty", ""],
  ])("a key with %s is refused and the message names the key, not the value", (_name, key) => {
    let error: unknown;
    try {
      renderDockerEnvFile({ GOOD: "x", [key]: "hunter2" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RenderError);
    expect((error as RenderError).field).toBe(`key ${JSON.stringify(key)}`);
    expect((error as RenderError).message).toMatch(/must be a variable name/);
    expect((error as RenderError).message).not.toContain("hunter2");
  });

  it("property: any value is refused without being shown, or written as one literal line", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: fc.constantFrom("a", " ", "=", "'", '"', "$", "`", "\\", "#", "\n", "\r", "\0", "é", "\u2028"), maxLength: 30 })), (raw) => {
        const value = `S3CR3T${raw}`;
        let text: string;
        try {
          text = renderDockerEnvFile({ Z_LAST: "z", A_FIRST: value });
        } catch (e) {
          expect(e).toBeInstanceOf(RenderError);
          expect((e as RenderError).message).not.toContain("S3CR3T");
          expect(value).toMatch(/[\0\r\n]/);
          return;
        }
        expect(text).toBe(`A_FIRST=${value}\nZ_LAST=z\n`);
        expect(text.split("\n")).toHaveLength(3);
      }),
      { numRuns: 200 },
    );
  });
});

type Case = [string, () => unknown, string, RegExp];
const BAD_PATHS: [string, string][] = [
  ["relative", "var/backups"],
  ["newline", "/var/backups\n"],
  [";", "/var/backups;reboot"],
  ["$(...)", "/var/$(reboot)"],
  ["quote", "/var/back'ups"],
  ["space", "/var/my backups"],
  [".. segment", "/var/backups/../../etc"],
];
const BAD_NAMES: [string, string][] = [
  ["uppercase", "Shop"],
  ["space", "shop db"],
  ["newline", "shop\n"],
  [";", "shop;drop"],
  ["$(...)", "$(id)"],
  ["quote", "sh'op"],
  ["empty", ""],
];
const errorCases: Case[] = [
  ["backup: site name with ..", () => renderBackupScript({ ...BACKUP_SPEC, siteName: "../x" }), "siteName", /must be a site name/],
  ["backup: site name with $(...)", () => renderBackupScript({ ...BACKUP_SPEC, siteName: "$(id)" }), "siteName", /must be a site name/],
  ...BAD_NAMES.map(([name, v]): Case => [`backup: database ${name}`, () => renderBackupScript({ ...BACKUP_SPEC, database: v }), "database", /must be a user\/group name/]),
  ...BAD_NAMES.map(([name, v]): Case => [`backup: user ${name}`, () => renderBackupScript({ ...BACKUP_SPEC, user: v }), "user", /must be a user\/group name/]),
  ...BAD_PATHS.map(([name, v]): Case => [`backup: directory ${name}`, () => renderBackupScript({ ...BACKUP_SPEC, directory: v }), "directory", /must (be an absolute path|not contain a "\.\." segment)/]),
  ["backup: keep 0", () => renderBackupScript({ ...BACKUP_SPEC, keep: 0 }), "keep", /must be an integer from 1 to 1000/],
  ["backup: keep 1001", () => renderBackupScript({ ...BACKUP_SPEC, keep: 1001 }), "keep", /must be an integer from 1 to 1000/],
  ["backup: keep 2.5", () => renderBackupScript({ ...BACKUP_SPEC, keep: 2.5 }), "keep", /must be an integer/],
  ["restore drill: site name with space", () => renderRestoreDrillScript({ siteName: "my shop", user: "shop", directory: "/var/b" }), "siteName", /must be a site name/],
  ...BAD_NAMES.map(([name, v]): Case => [`restore drill: user ${name}`, () => renderRestoreDrillScript({ siteName: "shop", user: v, directory: "/var/b" }), "user", /must be a user\/group name/]),
  ...BAD_PATHS.map(([name, v]): Case => [`restore drill: directory ${name}`, () => renderRestoreDrillScript({ siteName: "shop", user: "shop", directory: v }), "directory", /must (be an absolute path|not contain a "\.\." segment)/]),
  ...(
    [
      ["short", "sha256:0123"],
      ["upper-case hex", `sha256:${"0123456789ABCDEF".repeat(4)}`],
      ["no algorithm", "0123456789abcdef".repeat(4)],
      ["a tag", "nginx:latest"],
      ["a reference with digest", `nginx@sha256:${"0123456789abcdef".repeat(4)}`],
      ["trailing newline", `${IMAGE}\n`],
      ["trailing command", `${IMAGE};reboot`],
      ["option", "--privileged"],
      ["empty", ""],
    ] as [string, string][]
  ).map(([name, v]): Case => [`release: imageId ${name}`, () => renderReleaseScript({ ...RELEASE_SPEC, imageId: v }), "imageId", /must be an image id \(sha256:<64 hex>\)/]),
  ...(
    [
      ["leading hyphen (an option)", "--privileged"],
      ["space", "berth shop"],
      [";", "net;reboot"],
      ["$(...)", "$(id)"],
      ["newline", "net\n"],
      ["slash", "a/b"],
    ] as [string, string][]
  ).map(([name, v]): Case => [`release: network ${name}`, () => renderReleaseScript({ ...RELEASE_SPEC, network: v }), "network", /must be a Docker network name/]),
  ["release: empty command", () => renderReleaseScript({ ...RELEASE_SPEC, command: [] }), "command", /must have at least 1 entry/],
  ["release: multi-line first arg", () => renderReleaseScript({ ...RELEASE_SPEC, command: ["sh\nreboot"] }), "command[0]", /must be a single-line string/],
  ["release: multi-line later arg", () => renderReleaseScript({ ...RELEASE_SPEC, command: ["sh", "-c", "migrate\nreboot"] }), "command[2]", /must be a single-line string/],
  ["release: carriage return", () => renderReleaseScript({ ...RELEASE_SPEC, command: ["migrate\r"] }), "command[0]", /must be a single-line string/],
  ["release: NUL", () => renderReleaseScript({ ...RELEASE_SPEC, command: ["mig\0rate"] }), "command[0]", /must be a single-line string/],
  ["release: not a string", () => renderReleaseScript({ ...RELEASE_SPEC, command: ["npx", 5 as unknown as string] }), "command[1]", /must be a single-line string, got 5/],
  ["release: label key with space", () => renderReleaseScript({ ...RELEASE_SPEC, labels: { "berth site": "shop" } }), "labels", /must be a label key/],
  ["release: label key upper case", () => renderReleaseScript({ ...RELEASE_SPEC, labels: { "Berth.Site": "shop" } }), "labels", /must be a label key/],
  ["release: label value with space", () => renderReleaseScript({ ...RELEASE_SPEC, labels: { "berth.tag": "v1 v2" } }), "labels.berth.tag", /must be a label value/],
  ["release: label value with newline", () => renderReleaseScript({ ...RELEASE_SPEC, labels: { "berth.tag": "v1\n" } }), "labels.berth.tag", /must be a label value/],
  ["release: label value with quote", () => renderReleaseScript({ ...RELEASE_SPEC, labels: { "berth.tag": "v1'" } }), "labels.berth.tag", /must be a label value/],
  ["health: port 0", () => renderHealthGateScript({ ...HEALTH_SPEC, port: 0 }), "port", /must be an integer from 1 to 65535/],
  ["health: port 65536", () => renderHealthGateScript({ ...HEALTH_SPEC, port: 65536 }), "port", /must be an integer from 1 to 65535/],
  ["health: port as string", () => renderHealthGateScript({ ...HEALTH_SPEC, port: "3000" as unknown as number }), "port", /must be an integer/],
  ...(
    [
      ["relative", "api/health"],
      ["space", "/api/he alth"],
      [";", "/api;reboot"],
      ["$(...)", "/$(id)"],
      ["quote", "/api'"],
      ["newline", "/api\n"],
      ["query", "/api?x=1"],
      ["percent", "/api%20x"],
      ["empty", ""],
    ] as [string, string][]
  ).map(([name, v]): Case => [`health: path ${name}`, () => renderHealthGateScript({ ...HEALTH_SPEC, path: v }), "path", /must be a URL path/]),
  ["health: interval 0", () => renderHealthGateScript({ ...HEALTH_SPEC, intervalSeconds: 0 }), "intervalSeconds", /must be an integer from 1 to 60/],
  ["health: interval 61", () => renderHealthGateScript({ ...HEALTH_SPEC, intervalSeconds: 61 }), "intervalSeconds", /must be an integer from 1 to 60/],
  ["health: timeout 0", () => renderHealthGateScript({ ...HEALTH_SPEC, timeoutSeconds: 0 }), "timeoutSeconds", /must be an integer from 1 to 3600/],
  ["health: timeout 3601", () => renderHealthGateScript({ ...HEALTH_SPEC, timeoutSeconds: 3601 }), "timeoutSeconds", /must be an integer from 1 to 3600/],
];

describe("deploy scripts: rejected values", () => {
  it.each(errorCases)("%s", (_name, render, field, reason) => expectRejection(render, field, reason));
});

// ---- properties: any string in an interpolated field is refused or leaves the script's shape alone ----


/** `bash -n` on every script, in one bash process. */
async function expectBashSyntax(scripts: string[]): Promise<void> {
  const dir = tempDir("syntax");
  const files = [...new Set(scripts)].map((s, i) => {
    const f = join(dir, `${i}.sh`);
    writeFileSync(f, s);
    return f;
  });
  const r = await run("bash", ["-c", 'for f in "$@"; do bash -n "$f" 2>&1 || { echo "bash -n rejected $f:"; cat "$f"; }; done', "bash", ...files]);
  expect(r.stdout + r.stderr).toBe("");
  expect(r.exitCode).toBe(0);
}

const NAME_ARB = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,12}$/);
const PATH_ARB = fc.stringMatching(/^\/[A-Za-z0-9._-]{1,10}(\/[A-Za-z0-9._-]{1,10}){0,3}$/);
/** Single-line strings of anything a shell might trip on: release arguments accept all of them. */
const ARG_ARB = fc.string({ unit: fc.constantFrom("a", " ", "'", '"', "\\", "$", "`", "!", "*", ";", "(", "#", "~", "{", "-", "=", "é", "\t"), maxLength: 20 });

const fieldCases: [string, FieldCase][] = [
  ["backup siteName", { render: (v) => renderBackupScript({ ...BACKUP_SPEC, siteName: v }), a: "shop", b: "blog-2", accepted: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/) }],
  ["backup database", { render: (v) => renderBackupScript({ ...BACKUP_SPEC, database: v }), a: "shop", b: "app_db", accepted: NAME_ARB }],
  ["backup user", { render: (v) => renderBackupScript({ ...BACKUP_SPEC, user: v }), a: "shop", b: "app_user", accepted: NAME_ARB }],
  ["backup directory", { render: (v) => renderBackupScript({ ...BACKUP_SPEC, directory: v }), a: "/var/backups/shop", b: "/b", accepted: PATH_ARB }],
  ["restore drill user", { render: (v) => renderRestoreDrillScript({ siteName: "shop", user: v, directory: "/var/b" }), a: "shop", b: "app_user", accepted: NAME_ARB }],
  ["restore drill directory", { render: (v) => renderRestoreDrillScript({ siteName: "shop", user: "shop", directory: v }), a: "/var/backups/shop", b: "/b", accepted: PATH_ARB }],
  ["release network", { render: (v) => renderReleaseScript({ ...RELEASE_SPEC, network: v }), a: "berth-shop", b: "n", accepted: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,12}$/) }],
  ["release imageId", { render: (v) => renderReleaseScript({ ...RELEASE_SPEC, imageId: v }), a: IMAGE, b: `sha256:${"f".repeat(64)}`, accepted: fc.stringMatching(/^sha256:[0-9a-f]{64}$/) }],
  ["release command[1]", { render: (v) => renderReleaseScript({ ...RELEASE_SPEC, command: ["sh", v] }), a: "-c", b: "x y", accepted: ARG_ARB }],
  ["release label value", { render: (v) => renderReleaseScript({ ...RELEASE_SPEC, labels: { "berth.tag": v } }), a: "v1", b: "2024-01.rc_1", accepted: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}$/) }],
  ["health path", { render: (v) => renderHealthGateScript({ ...HEALTH_SPEC, path: v }), a: "/api/health", b: "/", accepted: fc.stringMatching(/^\/[A-Za-z0-9._~/-]{0,12}$/) }],
];

describe("deploy scripts: properties", () => {
  it.each(fieldCases)("property: %s is refused or only changes its own lines, and bash -n accepts the script", async (_name, c) => {
    await expectBashSyntax(shapeProperty(c));
  });

  it("property: bash reads every accepted release argument back unchanged", async () => {
    // The docker line's words after the image id are the command: have bash print them instead of running docker.
    const samples = fc.sample(fc.oneof(ARG_ARB, fc.string({ maxLength: 20 })).filter((s) => !/[\0\r\n]/.test(s)), { numRuns: 100, seed: 7 });
    const line = renderReleaseScript({ ...RELEASE_SPEC, command: ["printf", ...samples], labels: {} }).split("\n")[6]!;
    const words = line.slice(line.indexOf(`${IMAGE} `) + IMAGE.length + 1);
    const r = await run("bash", ["-c", words.replace(/^'printf'/, "printf '%s\\0'")]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(samples);
  });
});

// ---- shellcheck ----

describe("deploy scripts: shellcheck", () => {
  it.each([
    // SC2012 ("use find instead of ls"): the dump names are <UTC timestamp>-<tag-like label>.dump in a
    // directory whose path has no whitespace, quotes or glob characters, so ls -1t output splits safely,
    // and ls -t is the simplest way to order them by age.
    ["backup", BACKUP, ["SC2012"]],
    ["backup, keep 1", renderBackupScript({ ...BACKUP_SPEC, keep: 1 }), ["SC2012"]],
    ["restore drill", RESTORE_DRILL, ["SC2012"]],
    ["release", RELEASE, []],
    ["release without labels and a shell command", renderReleaseScript({ ...RELEASE_SPEC, command: ["sh", "-c", "echo \"$X\" 'y'"], labels: {} }), []],
    ["health gate", HEALTH_GATE, []],
    ["database login", renderDatabaseLoginScript({ siteName: "shop", owner: "shop_owner" }), []],
    ["database login drop", renderDropDatabaseLoginScript({ siteName: "shop", owner: "shop_owner", login: "shop_owner_1a2b3c4d", database: "shop" }), []],
    // SC2016: the single-quoted `{{...}}` is a docker --format template, not shell.
    ["port reservation", renderReservePortScript({ key: "shop-0123456789abcdef" }), ["SC2016"]],
    ["port release", renderReleasePortScript({ key: "shop-0123456789abcdef" }), []],
    ["release cleanup", renderReleaseCleanupScript({ siteName: "shop", network: "berth-shop-production", keep: ["a".repeat(64)], stopTimeoutSeconds: 30 }), []],
  ] as [string, string, string[]][])("shellcheck -s bash: %s", async (_name, script, excluded) => {
    const r = await run("shellcheck", ["-s", "bash", ...(excluded.length > 0 ? ["-e", excluded.join(",")] : []), "-"], { input: script });
    expect(r.exitCode, `shellcheck:\n${r.stdout}${r.stderr}`).toBe(0);
  });
});

describe("release cleanup", () => {
  const A = "a".repeat(64);
  const B = "b".repeat(64);
  it("keeps the serving release's containers and stops the others with the stop timeout", () => {
    expect(renderReleaseCleanupScript({ siteName: "shop", network: "berth-shop-production", keep: [A, B], stopTimeoutSeconds: 45 })).toBe(`set -euo pipefail
keep=' ${A} ${B} '
stale=()
for id in $(docker ps -aq --no-trunc --filter label=berth.site='shop' --filter label=berth.process --filter network='berth-shop-production'); do
  case "$keep" in *" $id "*) ;; *) stale+=("$id") ;; esac
done
if [ \${#stale[@]} -eq 0 ]; then
  echo "berth: no container of an earlier release is left"
  exit 0
fi
# As Pulumi's delete does it: SIGTERM, then the stop timeout, so work in progress can finish.
docker stop -t 45 "\${stale[@]}" >/dev/null
docker rm -f "\${stale[@]}" >/dev/null
echo "berth: removed \${#stale[@]} container(s) of earlier or interrupted releases"
`);
  });

  it.each([
    ["keep", { keep: [] }],
    ["keep[0]", { keep: ["abc"] }],
    ["keep[0]", { keep: [`${A.slice(1)} `] }],
    ["network", { network: "a b" }],
    ["siteName", { siteName: "Shop" }],
    ["stopTimeoutSeconds", { stopTimeoutSeconds: 0 }],
  ] as const)("refuses a bad %s", (field, bad) => {
    const spec = { siteName: "shop", network: "berth-shop-production", keep: [A], stopTimeoutSeconds: 30, ...bad };
    expect(() => renderReleaseCleanupScript(spec as never)).toThrow(new RegExp(`^${field.replace(/[[\]]/g, "\\$&")}: `));
  });
});

describe("port reservation", () => {
  it("names one root-owned reservation file per key and takes the range's ports in order", () => {
    const script = renderReservePortScript({ key: "shop-0123456789abcdef" });
    expect(script).toContain("mine='/var/lib/berth/ports/shop-0123456789abcdef.port'\n");
    expect(script).toContain("for ((port = 20000; port <= 29999; port++)); do");
    expect(renderReleasePortScript({ key: "shop-0123456789abcdef" })).toBe("rm -f '/var/lib/berth/ports/shop-0123456789abcdef.port'\n");
  });

  it.each(["../etc/passwd", "Shop", "", "a b", "x".repeat(129)])("refuses the key %j", (key) => {
    expect(() => renderReservePortScript({ key })).toThrow(/^key: must be a reservation key/);
    expect(() => renderReleasePortScript({ key })).toThrow(/^key: must be a reservation key/);
  });

  it("refuses a range outside 1024-65535 or upside down", () => {
    expect(() => renderReservePortScript({ key: "k", range: { from: 80, to: 90 } })).toThrow(/^range\.from: /);
    expect(() => renderReservePortScript({ key: "k", range: { from: 3000, to: 2000 } })).toThrow(/^range\.to: /);
  });
});

describe("database login: the statement on stdin, the drop on delete", () => {
  const PW = "Ab3".repeat(11);
  it("creates the login role or gives it the password again, as a member acting as the owner", () => {
    expect(renderDatabaseLoginSql("shop_owner", "shop_owner_1a2b3c4d", PW)).toBe(`DO $berth$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'shop_owner_1a2b3c4d') THEN
    ALTER ROLE "shop_owner_1a2b3c4d" WITH LOGIN PASSWORD '${PW}';
  ELSE
    CREATE ROLE "shop_owner_1a2b3c4d" WITH LOGIN PASSWORD '${PW}';
  END IF;
END
$berth$;
GRANT "shop_owner" TO "shop_owner_1a2b3c4d";
ALTER ROLE "shop_owner_1a2b3c4d" SET role = 'shop_owner';
`);
    expect(renderDatabaseLoginScript({ siteName: "shop", owner: "shop_owner" })).not.toMatch(/PASSWORD/);
  });

  it("drops the role in the app's database and succeeds when the server is gone", () => {
    const drop = renderDropDatabaseLoginScript({ siteName: "shop", owner: "shop_owner", login: "shop_owner_1a2b3c4d", database: "shop" });
    expect(drop).toContain(`docker exec -i "$container" psql -v ON_ERROR_STOP=1 -q -U 'shop_owner' -d 'shop' <<'BERTH_SQL_EOF'`);
    expect(drop).toContain(`    REASSIGN OWNED BY "shop_owner_1a2b3c4d" TO "shop_owner";\n    DROP OWNED BY "shop_owner_1a2b3c4d";\n    DROP ROLE "shop_owner_1a2b3c4d";`);
    expect(drop).toContain("login shop_owner_1a2b3c4d goes with it\"\n  exit 0");
  });

  it.each(["short", "has'quote".padEnd(20, "x"), "has space".padEnd(20, "x"), "x".repeat(129)])("refuses the password %j without showing it", (pw) => {
    let message = "";
    try {
      renderDatabaseLoginSql("app", "app_1", pw);
    } catch (e) {
      expect(e).toBeInstanceOf(RenderError);
      message = (e as Error).message;
    }
    expect(message).toBe("password: must be 16 to 128 letters and digits");
  });

  it.each([
    ["siteName", () => renderDatabaseLoginScript({ siteName: "Shop;", owner: "app" })],
    ["owner", () => renderDatabaseLoginScript({ siteName: "shop", owner: "App" })],
    ["login", () => renderDatabaseLoginSql("app", "x'; DROP", PW)],
    ["login", () => renderDropDatabaseLoginScript({ siteName: "shop", owner: "app", login: "a b", database: "app" })],
    ["database", () => renderDropDatabaseLoginScript({ siteName: "shop", owner: "app", login: "app_1", database: "a\"b" })],
  ] as const)("refuses a bad %s", (field, render) => {
    expect(render).toThrow(new RegExp(`^${field}: `));
  });
});

// ---- the branches that stop before docker, run for real ----

/** A PATH prefix whose `docker` fails loudly: these runs must end before any docker call. */
function noDocker(): string {
  const bin = tempDir("nodocker");
  writeFileSync(join(bin, "docker"), "#!/bin/sh\necho 'test: docker must not be reached' >&2\nexit 97\n");
  chmodSync(join(bin, "docker"), 0o755);
  return `${bin}:${PATH}`;
}

describe("backup and restore drill: refusals before docker", () => {
  it("restore drill: an empty backup directory fails with its message (not silently)", async () => {
    const dir = tempDir("dumps");
    const script = renderRestoreDrillScript({ siteName: "shop", user: "shop", directory: dir });
    for (const args of [[], ["--keep"], [join(dir, "missing.dump")]]) {
      const r = await run("bash", ["-c", script, "berth-shop-restore-drill", ...args], { env: { PATH: noDocker() } });
      expect({ exitCode: r.exitCode, stderr: r.stderr }, `args ${JSON.stringify(args)}`).toEqual({ exitCode: 1, stderr: `berth-restore-drill: no dump found in ${dir}` });
    }
  });

  it.each([
    [[], 1, /: 1: usage: berth-shop-backup <label>$/],
    [["v1 v2"], 2, /^berth-backup: label must be a tag-like word$/],
    [["../x"], 2, /^berth-backup: label must be a tag-like word$/],
    [["v1\n"], 2, /^berth-backup: label must be a tag-like word$/],
    [["-rf"], 2, /^berth-backup: label must be a tag-like word$/],
  ])("backup: label %j is refused with exit %i before the backup directory is made", async (args, exitCode, stderr) => {
    const dir = join(tempDir("backup"), "dumps");
    const r = await run("bash", ["-c", renderBackupScript({ ...BACKUP_SPEC, directory: dir }), "berth-shop-backup", ...args], { env: { PATH: noDocker() } });
    expect(r.exitCode).toBe(exitCode);
    expect(r.stderr).toMatch(stderr);
    expect(readdirSync(join(dir, ".."))).toEqual([]);
  });
});

// ---- health gate against a throwaway server ----

describe("health gate: run for real against a local HTTP server", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** Serves `answer(n)` for the n-th request (0-based) on a random loopback port. */
  async function serve(answer: (n: number, req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void) {
    const paths: string[] = [];
    server = createServer((req, res) => {
      paths.push(req.url ?? "");
      answer(paths.length - 1, req, res);
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    return { port: (server.address() as AddressInfo).port, paths };
  }

  /** Runs the gate with its own TMPDIR, so a left-behind body file shows up. */
  async function gate(port: number, timeoutSeconds: number) {
    const tmp = tempDir("gate-tmp");
    const started = Date.now();
    const r = await run("bash", ["-c", renderHealthGateScript({ port, path: "/healthz", intervalSeconds: 1, timeoutSeconds })], { env: { TMPDIR: tmp } });
    return { ...r, seconds: (Date.now() - started) / 1000, leftovers: readdirSync(tmp) };
  }

  it("passes once the app turns 200 after a few 503s", async () => {
    const { port, paths } = await serve((n, _req, res) => {
      res.writeHead(n < 3 ? 503 : 200, { "content-type": "text/plain" });
      res.end(n < 3 ? "starting" : "ok");
    });
    const r = await gate(port, 20);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(`berth: health gate passed: http://127.0.0.1:${port}/healthz`);
    expect(r.stderr).toBe("");
    expect(paths).toEqual(["/healthz", "/healthz", "/healthz", "/healthz"]);
    expect(r.seconds).toBeGreaterThanOrEqual(2.5);
    expect(r.leftovers).toEqual([]);
  });

  it("fails with exit 1 and the last answer when the app never turns 200", async () => {
    const { port, paths } = await serve((_n, _req, res) => {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("maintenance: migrating");
    });
    const r = await gate(port, 2);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`berth: health gate failed: http://127.0.0.1:${port}/healthz did not answer 200 within 2s (last: HTTP 503 maintenance: migrating)`);
    expect(paths.length).toBeGreaterThanOrEqual(2);
    expect(r.seconds).toBeLessThan(10);
    expect(r.leftovers).toEqual([]);
  });

  it("reports HTTP 000 without a stale body once the app stops answering", async () => {
    const { port } = await serve((n, req, res) => {
      if (n === 0) {
        res.writeHead(503);
        res.end("old body");
      } else {
        req.socket.destroy();
      }
    });
    const r = await gate(port, 2);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`berth: health gate failed: http://127.0.0.1:${port}/healthz did not answer 200 within 2s (last: HTTP 000 )`);
  });

  it("a long body is cut to 300 bytes in the message", async () => {
    const { port } = await serve((_n, _req, res) => {
      res.writeHead(500);
      res.end("x".repeat(1000));
    });
    const r = await gate(port, 1);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`berth: health gate failed: http://127.0.0.1:${port}/healthz did not answer 200 within 1s (last: HTTP 500 ${"x".repeat(300)})`);
  });
});
