/**
 * The app's database login on a real Postgres, with the scripts the DatabaseAddon's login Command
 * runs over SSH: a login made on a volume initialised with another password, a rotation where the
 * old and the new login both work until the old one is dropped, and the rows surviving all of it.
 */
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderDatabaseLoginScript, renderDatabaseLoginSql, renderDropDatabaseLoginScript } from "../../renderers/deploy-scripts";
import { mustRunOnHost } from "./ssh";

const SITE = "hostdb";
const devhost = inject("devhost");
const network = `berth-${SITE}-host`;
const volume = `berth-${SITE}-host-postgres-data`;
const OWNER = "app";
const FIRST = "app_first";
const SECOND = "app_second";
const PW1 = "FirstLoginPassword0123456789ab";
const PW2 = "SecondLoginPassword0123456789a";

const createLogin = (login: string, password: string) =>
  mustRunOnHost(devhost, renderDatabaseLoginScript({ siteName: SITE, owner: OWNER }), renderDatabaseLoginSql(OWNER, login, password));
const dropLogin = (login: string) => mustRunOnHost(devhost, renderDropDatabaseLoginScript({ siteName: SITE, owner: OWNER, login, database: "app" }));

/** Connects over TCP with a password, as the app does, from a second container on the site's network. */
async function asApp(login: string, password: string, sql: string): Promise<{ ok: boolean; out: string }> {
  const r = await execa(
    "docker",
    ["run", "--rm", "--network", network, "-e", `PGPASSWORD=${password}`, "--entrypoint", "psql", "berth/postgres:15", "-h", "postgres", "-U", login, "-d", "app", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
    { reject: false },
  );
  return { ok: r.exitCode === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

let server = "";
beforeAll(async () => {
  await execa("docker", ["network", "create", "--label", `berth.site=${SITE}`, network]);
  // Initialised with a password nobody keeps: the login roles must not depend on it.
  server = (
    await execa("docker", [
      "run", "-d", "--network", network, "--network-alias", "postgres",
      "--label", `berth.site=${SITE}`, "--label", "berth.addon=postgres",
      "-e", "POSTGRES_PASSWORD=initdb-only-password", "-e", `POSTGRES_USER=${OWNER}`, "-e", "POSTGRES_DB=app",
      "-v", `${volume}:/var/lib/postgresql/data`, "berth/postgres:15",
    ])
  ).stdout.trim();
});

afterAll(async () => {
  await execa("docker", ["rm", "-f", server], { reject: false });
  await execa("docker", ["network", "rm", network], { reject: false });
  await execa("docker", ["volume", "rm", "-f", volume], { reject: false });
});

describe.sequential("database login roles on a real Postgres", () => {
  it("creates the login once the server answers, and the app's tables belong to the owner", async () => {
    const r = await createLogin(FIRST, PW1);
    expect(r.stdout).toContain("berth: database login ready");
    expect(await asApp(FIRST, PW1, "CREATE TABLE rows (v text); INSERT INTO rows VALUES ('kept'); SELECT v FROM rows")).toEqual({ ok: true, out: "kept" });
    expect((await asApp(FIRST, PW1, "SELECT tableowner FROM pg_tables WHERE tablename = 'rows'")).out).toBe(OWNER);
    expect((await asApp(FIRST, "WrongPassword000000000000", "SELECT 1")).ok).toBe(false);
  });

  it("a rotation: both logins work until the old one is dropped, then only the new one, and the rows are there", async () => {
    await createLogin(SECOND, PW2);
    expect(await asApp(FIRST, PW1, "SELECT v FROM rows")).toEqual({ ok: true, out: "kept" });
    expect(await asApp(SECOND, PW2, "INSERT INTO rows VALUES ('after'); SELECT count(*) FROM rows")).toEqual({ ok: true, out: "2" });
    const dropped = await dropLogin(FIRST);
    expect(dropped.stdout).toContain(`berth: database login ${FIRST} dropped`);
    const old = await asApp(FIRST, PW1, "SELECT 1");
    expect(old.ok).toBe(false);
    expect(old.out).toMatch(/password authentication failed|role "app_first" does not exist/);
    expect(await asApp(SECOND, PW2, "SELECT string_agg(v, ',' ORDER BY v) FROM rows")).toEqual({ ok: true, out: "after,kept" });
    // Dropping again (a retried delete) succeeds.
    await dropLogin(FIRST);
  });

  it("the same login run again with a new password (a retained volume after destroy and up) takes that password", async () => {
    const fresh = "RetainedVolumePassword12345678";
    await createLogin(SECOND, fresh);
    expect((await asApp(SECOND, PW2, "SELECT 1")).ok).toBe(false);
    expect(await asApp(SECOND, fresh, "SELECT count(*) FROM rows")).toEqual({ ok: true, out: "2" });
  });

  it("dropping a login when the server is gone succeeds and says so", async () => {
    await execa("docker", ["stop", "-t", "5", server]);
    const r = await dropLogin(SECOND);
    expect(r.stdout).toContain(`berth: no running postgres container for site ${SITE}; login ${SECOND} goes with it`);
  });
});
