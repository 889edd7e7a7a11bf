/**
 * A private registry for real (review #9, issue 8): the demo app's images pushed to a registry that
 * requires htpasswd basic auth (berth/registry:2, tests/support/registry.ts) on 127.0.0.1, and a
 * stack that pulls them with `app.registry` and the secret `berth:registryPassword`, through the
 * docker provider's `registryAuth`. Then what the README promises: the password stays out of state
 * and output; a wrong one fails the deploy with the registry's refusal while the running release
 * keeps serving; a tag pushed again is not deployed by `up`, and `app.digest` deploys it (and
 * reverting the digest rolls back).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startRegistry, type TestRegistry } from "../support/registry";
import { request } from "./devhost";
import { createLocalStack, devhostSite, HTTPS_PORT, type LocalStack, REPO } from "./local-stack";

const SITE = "reg";
const DOMAIN = "reg.berth.test";
const devhost = inject("devhost");

let reg: TestRegistry;
let s: LocalStack;
const log: string[] = [];
const onOutput = (out: string) => {
  log.push(out);
  if (process.env.BERTH_E2E_VERBOSE) process.stdout.write(out);
};
/** The digests the registry gave the two pushes of `berth-demo:v1`. */
let digestV1 = "";
let digestV2 = "";
const wrongPassword = `wrong-${Date.now().toString(36)}`;

const app = () => {
  const c = devhostSite(devhost, SITE, DOMAIN).app;
  return {
    ...c,
    image: `${reg.address}/berth-demo`,
    tag: "v1",
    registry: { address: reg.address, username: reg.user },
    // No database: this stack is about the image. The version path answers without one.
    healthCheck: { ...(c.healthCheck as object), path: "/api/version" },
  } as Record<string, unknown>;
};

async function version(): Promise<string> {
  const r = await request(DOMAIN, HTTPS_PORT, "/api/version");
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { version: string }).version;
}

/** Whether this machine's Docker has the reference (tag or digest). */
async function hasLocal(ref: string): Promise<boolean> {
  return (await execa("docker", ["image", "inspect", ref], { reject: false })).exitCode === 0;
}

/** The provider resource's `registryAuth` as the checkpoint stores it. */
function storedRegistryAuth(): unknown {
  const stacks = path.join(s.backend, ".pulumi", "stacks");
  const file = fs
    .readdirSync(stacks, { recursive: true, withFileTypes: true })
    .find((e) => e.isFile() && e.name === `${s.name}.json`);
  const json = JSON.parse(fs.readFileSync(path.join(file!.parentPath, file!.name), "utf8")) as {
    checkpoint: { latest: { resources: Array<{ type: string; inputs?: Record<string, unknown> }> } };
  };
  const provider = json.checkpoint.latest.resources.find((r) => r.type === "pulumi:providers:docker" && r.inputs?.registryAuth !== undefined);
  return provider?.inputs?.registryAuth;
}

beforeAll(async () => {
  reg = await startRegistry({ repoRoot: REPO, name: "berth-e2e-registry" });
  digestV1 = await reg.push("berth-demo:v1", "berth-demo", "v1");
  await reg.push("berth-demo:v2", "berth-demo", "v2");
  // Only the registry has them now: berth must pull.
  await reg.forgetLocal();
  const c = devhostSite(devhost, SITE, DOMAIN);
  s = await createLocalStack({
    name: "reg",
    engineBin: inject("engineBin"),
    pluginBin: inject("pluginBin"),
    values: { site: c.site, host: c.host, nginx: c.nginx, tls: c.tls, app: app() },
  });
  await s.stack.setConfig("berth:registryPassword", { value: reg.password, secret: true });
});

afterAll(async () => {
  if (s) {
    await s.stack.destroy({ onOutput }).catch((e) => console.error("destroy failed:", e));
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
  // The pulled references (RemoteImage keeps them locally), then the registry itself.
  await reg?.remove();
});

describe.sequential("a private registry (real engine, htpasswd registry on 127.0.0.1)", () => {
  it("pulls the image with app.registry and the secret berth:registryPassword, and serves it; the password is in neither state nor output", async () => {
    expect(await hasLocal(`${reg.address}/berth-demo:v1`)).toBe(false);
    const up = await s.stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    expect(await version()).toBe("v1");
    // The server pulled it from the registry: the tag and the registry's digest are local now.
    expect(await hasLocal(`${reg.address}/berth-demo:v1`)).toBe(true);
    expect(await hasLocal(`${reg.address}/berth-demo@${digestV1}`)).toBe(true);

    // The provider's registryAuth is stored encrypted.
    expect(storedRegistryAuth()).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: expect.any(String) });
    const state = s.stateText();
    expect(state.length).toBeGreaterThan(1000);
    expect(state.includes(reg.password), "password in state").toBe(false);
    expect(log.join("").includes(reg.password), "password in the engine output").toBe(false);
  });

  it("a wrong password fails the deploy of a new tag with the registry's refusal, naming the registry; the running release keeps serving", async () => {
    s.setConfig({ app: { ...app(), tag: "v2" } });
    await s.stack.setConfig("berth:registryPassword", { value: wrongPassword, secret: true });
    const preview = await s.stack.preview({ diff: true, onOutput });
    const failed = await s.stack.up({ onOutput }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    const ref = `${reg.address}/berth-demo:v2`;
    expect(failed).toContain(`unable to pull image ${ref}: error pulling image ${ref}: Error response from daemon: unauthorized: authentication required`);
    expect(await version()).toBe("v1");
    expect(await hasLocal(ref)).toBe(false);
    for (const [where, text] of Object.entries({ preview: preview.stdout + preview.stderr, error: failed, output: log.join(""), state: s.stateText() })) {
      expect(text.includes(wrongPassword), `wrong password in ${where}`).toBe(false);
      expect(text.includes(reg.password), `password in ${where}`).toBe(false);
    }

    // Fixed: the right password and the running tag again; nothing is deployed.
    s.setConfig({ app: app() });
    await s.stack.setConfig("berth:registryPassword", { value: reg.password, secret: true });
    const up = await s.stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    expect(await version()).toBe("v1");
  });

  it("a tag pushed again to another image is not deployed by up; app.digest deploys it (preview shows it), and reverting the digest rolls back", async () => {
    // Another machine pushes v2's image as `v1`. This machine's Docker plays that machine too, so
    // the server's own `v1` is put back on the image it had, and the new digest reference the push
    // left behind is dropped: the server knows only the old image, as it would.
    const localV1 = `${reg.address}/berth-demo:v1`;
    const before = (await execa("docker", ["image", "inspect", "--format", "{{.Id}}", localV1])).stdout;
    digestV2 = await reg.push("berth-demo:v2", "berth-demo", "v1");
    expect(digestV2).not.toBe(digestV1);
    await execa("docker", ["tag", before, localV1]);
    await execa("docker", ["rmi", `${reg.address}/berth-demo@${digestV2}`]);
    expect(await hasLocal(`${reg.address}/berth-demo@${digestV2}`)).toBe(false);

    // Same config: nothing to deploy, v1 keeps serving (the docker provider pulls only a reference the host lacks).
    const same = await s.stack.up({ onOutput });
    expect(Object.keys(same.summary.resourceChanges ?? {}).filter((k) => k !== "same")).toEqual([]);
    expect(await version()).toBe("v1");

    // Pinned by digest: a visible change, pulled by that digest, served.
    s.setConfig({ app: { ...app(), digest: digestV2 } });
    const preview = await s.stack.preview({ diff: true, onOutput });
    expect(preview.stdout).toMatch(/\+-\s*docker:index\/remoteImage:RemoteImage/);
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    expect(preview.stdout).toMatch(new RegExp(`"${esc(localV1)}"\\s*=>\\s*"${esc(`${reg.address}/berth-demo@${digestV2}`)}"`));
    const pinned = await s.stack.up({ onOutput });
    expect(pinned.summary.result).toBe("succeeded");
    expect(await version()).toBe("v2");
    expect(await hasLocal(`${reg.address}/berth-demo@${digestV2}`)).toBe(true);

    // Reverting the digest (the stack file as it was) rolls back to the image the tag had here.
    s.setConfig({ app: app() });
    const reverted = await s.stack.up({ onOutput });
    expect(reverted.summary.result).toBe("succeeded");
    expect(await version()).toBe("v1");
    expect(log.join("").includes(reg.password), "password in the engine output").toBe(false);
  });
});
