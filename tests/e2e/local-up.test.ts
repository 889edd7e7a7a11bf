/**
 * The README's first command on this machine: `npm run local:up` brings the `local` stack up and
 * prints its URL (after saying which providers are stand-ins), the URL answers /api/health with
 * the database connected, and `npm run local:down` destroys it and keeps the data volume.
 * State goes to a temporary XDG_STATE_HOME, so the run leaves no stack behind.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "./devhost";
import { REPO } from "./local-stack";

const VOLUME = "berth-demo-local-postgres-data";
let stateHome: string;

async function demoContainers(): Promise<string[]> {
  const r = await execa("docker", ["ps", "-a", "-q", "--filter", "label=berth.site=demo"]);
  return r.stdout.split("\n").filter(Boolean);
}

beforeAll(async () => {
  // The local stack has fixed names on the shared devhost; a developer's own local stack must
  // not be taken over by a test.
  const existing = await demoContainers();
  if (existing.length > 0) throw new Error("a local stack (berth.site=demo) is already up on this machine: run `npm run local:down` first");
  stateHome = fs.mkdtempSync(path.join(os.tmpdir(), "berth-e2e-local-"));
});

afterAll(async () => {
  await execa("npm", ["run", "local:down"], { cwd: REPO, env: { ...process.env, XDG_STATE_HOME: stateHome }, reject: false });
  await execa("docker", ["volume", "rm", "-f", VOLUME], { reject: false });
  fs.rmSync(stateHome, { recursive: true, force: true });
});

describe.sequential("npm run local:up / local:down", () => {
  it("brings the local stack up, says which providers are stand-ins, and prints a URL that answers with the database connected", async () => {
    const up = await execa("npm", ["run", "--silent", "local:up"], { cwd: REPO, env: { ...process.env, XDG_STATE_HOME: stateHome }, all: true });
    const lines = up.stdout.trim().split("\n");
    const last = lines[lines.length - 1]!;
    expect(last).toMatch(/^berth: local stack is up at https:\/\/demo\.berth\.test:18443\//);
    expect(lines[lines.length - 2]).toMatch(/^providers: /);
    const health = await request("demo.berth.test", 18443, "/api/health");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true, database: "connected" });
    // The committed stack file is not changed by bringing the stack up.
    expect((await execa("git", ["status", "--porcelain", "--", "Pulumi.local.yaml"], { cwd: REPO })).stdout).toBe("");
  });

  it("local:down destroys the stack and keeps the data volume", async () => {
    await execa("npm", ["run", "--silent", "local:down"], { cwd: REPO, env: { ...process.env, XDG_STATE_HOME: stateHome } });
    expect(await demoContainers()).toEqual([]);
    expect((await execa("docker", ["volume", "inspect", VOLUME])).exitCode).toBe(0);
  });
});
