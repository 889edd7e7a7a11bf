/**
 * Staging and production as committed: no key file and no Docker socket, only the secret
 * `berth:sshPrivateKey` and the server's host key. Docker is reached over `ssh://`, which runs the
 * local ssh binary (the docker provider's transport), and every host command over the command
 * provider's own SSH client: both must use that key and both must refuse a server whose host key
 * is not the one configured.
 */
import * as fs from "node:fs";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { request } from "./devhost";
import { createLocalStack, devhostSite, HTTPS_PORT, type LocalStack } from "./local-stack";

const SITE = "sshx";
const DOMAIN = "sshx.berth.test";
const devhost = inject("devhost");
// Another well-formed ed25519 key: what a reinstalled server, or a machine in the middle, presents.
const WRONG_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnTujLHlFaA1jjYwzPFoi8X6SjA0+HfsgWFQiG8pU8I";

let s: LocalStack;
const log: string[] = [];
const onOutput = (out: string) => {
  log.push(out);
  if (process.env.BERTH_E2E_VERBOSE) process.stdout.write(out);
};

const config = (hostKey: string) => {
  const c = devhostSite(devhost, SITE, DOMAIN);
  const { privateKeyFile: _key, hostKeyFile, dockerHost: _socket, ...host } = c.host as Record<string, unknown>;
  void hostKeyFile;
  return {
    site: c.site,
    // No dockerHost: ssh://root@127.0.0.1:2222, the default for a server.
    host: { ...host, hostKey },
    app: { ...c.app, healthCheck: { ...(c.app.healthCheck as object), path: "/api/version" } },
    nginx: c.nginx,
    tls: c.tls,
  };
};
const realHostKey = () => fs.readFileSync((devhostSite(devhost, SITE, DOMAIN).host as { hostKeyFile: string }).hostKeyFile, "utf8").trim();
const siteContainers = async () =>
  (await execa("docker", ["ps", "-aq", "--filter", `label=berth.site=${SITE}`])).stdout.split("\n").filter(Boolean);

beforeAll(async () => {
  s = await createLocalStack({ name: "sshx", engineBin: inject("engineBin"), pluginBin: inject("pluginBin"), values: config(WRONG_HOST_KEY) });
  await s.stack.setConfig("berth:sshPrivateKey", { value: fs.readFileSync(devhost.keyFile, "utf8"), secret: true });
});

afterAll(async () => {
  if (!s) return;
  s.setConfig(config(realHostKey()));
  await s.stack.destroy({ onOutput }).catch((e) => console.error("destroy failed:", e));
  fs.rmSync(s.dir, { recursive: true, force: true });
});

describe.sequential("the ssh transport, as staging and production use it (real engine, devhost)", () => {
  it("refuses a server whose host key is not the configured one before creating anything", async () => {
    const failed = await s.stack.up({ onOutput }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(failed).toBeInstanceOf(Error);
    // The bootstrap (the command provider's own client) stops at the key; every Docker resource waits for it.
    expect(`${failed!.message}\n${log.join("")}`).toMatch(/host key mismatch/);
    expect(await siteContainers()).toEqual([]);
  });

  it("deploys with the secret key alone over ssh://, and keeps the key out of state", async () => {
    log.length = 0;
    s.setConfig(config(realHostKey()));
    const up = await s.stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    const r = await request(DOMAIN, HTTPS_PORT, "/api/version");
    expect(r.status).toBe(200);
    expect((await siteContainers()).length).toBeGreaterThan(0);
    const state = s.stateText();
    // The provider's options name the key file berth wrote, not the key.
    expect(state).toMatch(/\.ssh\/berth\/id-[0-9a-f]{16}/);
    const keyBody = fs.readFileSync(devhost.keyFile, "utf8").split("\n")[1]!;
    expect(state).not.toContain(keyBody);
    expect(log.join("")).not.toContain(keyBody);
    await s.stack.preview({ expectNoChanges: true, onOutput });
  });

  it("Docker's ssh transport checks the host key too: a refresh with a wrong one stops there", async () => {
    s.setConfig(config(WRONG_HOST_KEY));
    // A refresh reads the Docker resources (through the docker provider's ssh) and runs no host
    // command; --run-program gives the provider the options of the current config.
    const r = await s.cli(["refresh", "--yes", "--run-program"], { reject: false });
    expect(r.exitCode).not.toBe(0);
    // ssh's own words: docker's helper runs the local ssh with StrictHostKeyChecking=yes.
    expect(r.stdout + r.stderr).toMatch(/Host key verification failed/);
    expect((await request(DOMAIN, HTTPS_PORT, "/api/version")).status).toBe(200);
  });
});
