/**
 * The docker stand-in against SEMANTICS.md §0-§5 and §10 (pulumi-docker 5.0.0 over
 * kreuzwerker/docker v4.2.0): one case per rule, named after it. The resource definitions are
 * called directly; the rules with real effects run against the machine's Docker engine (unix
 * socket) and, for the `ssh://` transport, against the devhost. Everything created here is named
 * `bst-<run>-…` and removed at the end.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bridgeCheck, refreshInputs } from "../../providers/docker/bridge";
import { clientFor, type DockerClient, type DockerConfig, makeClient } from "../../providers/docker/connection";
import { container } from "../../providers/docker/container";
import { formatGoDuration, parseGoDuration } from "../../providers/docker/go-duration";
import { repoDigest } from "../../providers/docker/image-lookup";
import { pullQuery } from "../../providers/docker/reference";
import { parseRegistryAuth, REGISTRY_AUTH_TYPE, registryAuthHeader, registryOfImage } from "../../providers/docker/registry-auth";
import { network } from "../../providers/docker/network";
import { contextHost, dockerProvider, parseConfig } from "../../providers/docker/provider";
import { remoteImage } from "../../providers/docker/remote-image";
import { parseSshUrl, sshArgs } from "../../providers/docker/ssh-dial";
import { volume } from "../../providers/docker/volume";
import { type CheckContext, InitFailedError, type OperationContext, type ResourceDefinition } from "../../providers/runtime/definition";
import { containsUnknown, type Props, reveal, UNKNOWN } from "../../providers/runtime/properties";
import { startRegistry, type TestRegistry } from "../support/registry";
import { realSchema } from "./stand-ins";

const RUN = randomBytes(3).toString("hex");
/** Every Docker object this file creates starts with this. */
const P = `bst-${RUN}`;

const LOCAL: DockerConfig = parseConfig({}, {});
/** Where this machine's devhost key and known_hosts are, as scripts/devhost.sh says (they follow XDG_CACHE_HOME). */
const DEVHOST_INFO = Object.fromEntries(
  execFileSync("bash", ["scripts/devhost.sh", "info"], { cwd: path.resolve(__dirname, "../..") })
    .toString()
    .split("\n")
    .filter((l) => l.includes("="))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
) as Record<string, string>;
const DEVHOST: DockerConfig = parseConfig(
  {
    host: `ssh://${DEVHOST_INFO.DEVHOST_USER}@${DEVHOST_INFO.DEVHOST_ADDRESS}:${DEVHOST_INFO.DEVHOST_SSH_PORT}`,
    sshOpts: JSON.stringify([
      "-i",
      DEVHOST_INFO.DEVHOST_KEY,
      "-o",
      `UserKnownHostsFile=${DEVHOST_INFO.DEVHOST_KNOWN_HOSTS}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
    ]),
  },
  {},
);
/** Nothing listens here: any Docker call would fail. */
const NOWHERE: DockerConfig = { host: "unix:///nonexistent/docker.sock", sshOpts: [], disableDockerDaemonCheck: false, authConfigs: {} };

const urnOf = (name: string) => `urn:pulumi:test::berth::docker:index:X::${name}`;
function ctx(name: string, config: DockerConfig = LOCAL, preview = false): OperationContext<DockerConfig> {
  return { urn: urnOf(name), name, type: "docker:index:X", preview, config, log: async () => {} };
}
/** A Terraform diagnostic as the bridge reports it (go-multierror's list). */
const tf = (message: string) => `1 error occurred:\n\t* ${message}\n\n`;
/** The same, for use inside a RegExp, with the message a pattern. */
const tfRe = (pattern: string) => `1 error occurred:\n\t\\* ${pattern}`;
function cctx(name: string, seed = "seed"): CheckContext {
  return { urn: `urn:pulumi:test::berth::docker:index:X::${name}`, name, type: "docker:index:X", randomSeed: Buffer.from(seed) };
}

/** Check (must pass) → checked inputs. */
function checked(def: ResourceDefinition<DockerConfig>, news: Props, olds?: Props, c = cctx("r")): Props {
  const r = def.check(news, olds, c);
  expect(r.failures).toEqual([]);
  return r.inputs;
}

let docker: DockerClient;
const call = <T = unknown>(method: string, p: string, opts: Parameters<DockerClient["call"]>[2] = {}) => docker.call<T>(method, p, opts);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Image IDs of local images the tests build on (berth's own images, present on this machine). */
let debianId = "";
let redisId = "";

beforeAll(async () => {
  docker = await makeClient(LOCAL);
  debianId = (await call<{ Id: string }>("GET", "/images/berth/debian:bookworm/json")).Id;
  redisId = (await call<{ Id: string }>("GET", "/images/berth/redis:7/json")).Id;
});

afterAll(async () => {
  if (!docker) return;
  const byName = (n: string) => n.replace(/^\//, "").startsWith(P);
  for (const c of await call<{ Id: string; Names: string[] }[]>("GET", "/containers/json", { query: { all: 1 } }))
    if (c.Names.some(byName)) await call("DELETE", `/containers/${c.Id}`, { query: { force: true, v: true } }).catch(() => {});
  for (const n of await call<{ Id: string; Name: string }[]>("GET", "/networks"))
    if (byName(n.Name)) await call("DELETE", `/networks/${n.Id}`).catch(() => {});
  for (const v of (await call<{ Volumes: { Name: string }[] | null }>("GET", "/volumes")).Volumes ?? [])
    if (byName(v.Name)) await call("DELETE", `/volumes/${v.Name}`, { query: { force: true } }).catch(() => {});
  for (const i of await call<{ RepoTags: string[] | null }[]>("GET", "/images/json"))
    for (const t of i.RepoTags ?? []) if (t.startsWith(`${P}/`)) await call("DELETE", `/images/${t}`).catch(() => {});
});

/** Tags a local image as `<P>/<repo>:<tag>` (untagging later never deletes berth's images). */
async function tag(imageId: string, repo: string, t: string): Promise<string> {
  await call("POST", `/images/${imageId}/tag`, { query: { repo: `${P}/${repo}`, tag: t } });
  return `${P}/${repo}:${t}`;
}

async function inspectContainer(id: string) {
  return call<{
    State: { Running: boolean; Health?: { Status: string } };
    HostConfig: { Memory: number; MemorySwap: number; RestartPolicy: { Name: string } };
    NetworkSettings: { Networks: Record<string, { Aliases: string[] | null }> };
  }>("GET", `/containers/${id}/json`);
}

// ---------------------------------------------------------------------------------------------
describe("§0 cross-cutting mechanics, as the docker stand-in applies them", () => {
  it("§0 secrets: docker does not accept secrets (no Handshake, Configure without AcceptSecrets), and supports preview", () => {
    expect({ name: dockerProvider.name, version: dockerProvider.version, acceptSecrets: dockerProvider.acceptSecrets, supportsPreview: dockerProvider.supportsPreview }).toEqual({
      name: "docker",
      version: "5.0.0",
      acceptSecrets: false,
      supportsPreview: true,
    });
  });

  it.each([
    ["Container", container, { image: "x" }],
    ["Network", network, {}],
    ["Volume", volume, {}],
  ] as const)("§0 auto-naming: a %s without `name` is named `<URN name>-<7 lowercase hex>`", (_what, def, news) => {
    const inputs = checked(def, news, undefined, cctx("web"));
    expect(inputs.name).toMatch(/^web-[0-9a-f]{7}$/);
    expect(inputs.__defaults).toContain("name");
  });

  it("§0 auto-naming: the old name is reused on update (Check with the old inputs)", () => {
    const first = checked(container, { image: "x" }, undefined, cctx("web", "seed-1"));
    const again = checked(container, { image: "y" }, first, cctx("web", "seed-2"));
    expect(again.name).toBe(first.name);
  });

  it("§0 auto-naming: on a replace (Check without old inputs) a fresh name is drawn", () => {
    const first = checked(container, { image: "x" }, undefined, cctx("web", "seed-1"));
    const replacement = checked(container, { image: "y" }, undefined, cctx("web", "seed-2"));
    expect(replacement.name).toMatch(/^web-[0-9a-f]{7}$/);
    expect(replacement.name).not.toBe(first.name);
  });

  it("§0 auto-naming: a name the program once set and then dropped is not reused (only defaulted values are)", () => {
    const first = checked(volume, { name: "explicit" }, undefined, cctx("v"));
    const later = checked(volume, {}, first, cctx("v"));
    expect(later.name).toMatch(/^v-[0-9a-f]{7}$/);
  });

  it("§0 auto-naming: RemoteImage.name is not auto-named, it is required", () => {
    const r = remoteImage.check({ keepLocally: true }, undefined, cctx("img"));
    expect(r.inputs.name).toBeUndefined();
    expect(r.failures.map((f) => f.property)).toContain("name");
  });

  it.each([
    ["Network", network],
    ["Volume", volume],
  ] as const)("§0 delete-before-replace: a %s whose `name` the program set replaces delete-before-create; an auto-named one create-before-delete", (_w, def) => {
    const setByProgram = checked(def, { name: `${P}-a`, labels: [{ label: "a", value: "1" }] });
    const d1 = def.diff({ id: "x", olds: { ...setByProgram, labels: [] }, news: setByProgram, oldInputs: setByProgram }, ctx("r"));
    expect(d1.replaces).toContain("labels");
    expect(d1.deleteBeforeReplace).toBe(true);
    const autoNamed = checked(def, { labels: [{ label: "a", value: "1" }] });
    const d2 = def.diff({ id: "x", olds: { ...autoNamed, labels: [] }, news: autoNamed, oldInputs: autoNamed }, ctx("r"));
    expect(d2.replaces).toContain("labels");
    expect(d2.deleteBeforeReplace).toBe(false);
  });

  it("§0/§3 partial create: a Container that fails after ContainerCreate (here its start) is recorded with init errors (InitFailedError with its ID)", async () => {
    const inputs = checked(container, { name: `${P}-partial`, image: "berth/debian:bookworm", command: ["sleep", "60"], networksAdvanced: [{ name: `${P}-no-such-network` }] });
    const err = await container.create(inputs, ctx("partial")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InitFailedError);
    const e = err as InitFailedError;
    // Docker 20.10 accepts NetworkConnect of a created container to a missing network; the start fails.
    expect(e.message).toBe(`creating ${urnOf("partial")}: ${tf(`Unable to start container: Error response from daemon: network ${P}-no-such-network not found`)}`);
    expect(e.id).toMatch(/^[0-9a-f]{64}$/);
    expect(e.properties.name).toBe(`${P}-partial`);
    // The container exists (created, never started).
    expect((await inspectContainer(e.id)).State.Running).toBe(false);
    await container.delete({ id: e.id, state: e.properties, oldInputs: inputs }, ctx("partial"));
  });

  it("§0 provider config changes (host, sshOpts) are an in-place provider update, never a replace", () => {
    const d = dockerProvider.config.diff({ host: "unix:///a.sock", sshOpts: '["-i","/k"]' }, { host: "ssh://root@h:22", sshOpts: '["-i","/other"]' });
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
    expect(dockerProvider.config.diff({ sshOpts: '["-i","/k"]' }, { sshOpts: '["-i","/k"]' }).changes).toBe(false);
  });

  it.each([
    ["Container", container, { image: "x", privileged: true }, "privileged"],
    ["Container", container, { image: "x", mounts: [] as Props[] }, "mounts"],
    ["RemoteImage", remoteImage, { name: "x", build: { context: "." } }, "build"],
    ["RemoteImage", remoteImage, { name: "x", platform: "linux/amd64" }, "platform"],
    ["Network", network, { ipv6: true }, "ipv6"],
    ["Volume", volume, { cluster: {} }, "cluster"],
  ] as const)("§0 stand-in scope: %s refuses the unimplemented `%s`… with the runtime's message", (_w, def, news, prop) => {
    const r = def.check(news as Props, undefined, cctx("r"));
    expect(r.failures.map((f) => f.reason)).toContain(
      `the docker stand-in does not implement ${def.token}.${prop}; remove it, or run with the real provider plugin`,
    );
  });

  it("§0 stand-in scope: an unimplemented nested field (networksAdvanced[].macAddress) is refused too", () => {
    const r = container.check({ image: "x", networksAdvanced: [{ name: "n", macAddress: "02:42:ac:11:00:02" }] }, undefined, cctx("r"));
    expect(r.failures.map((f) => f.property)).toContain("networksAdvanced[0].macAddress");
  });
});

// ---------------------------------------------------------------------------------------------
describe("§1 docker Provider: config and connection", () => {
  it("§1 host: defaults to env DOCKER_HOST, else unix:///var/run/docker.sock; an explicit host wins", () => {
    expect(parseConfig({}, {}).host).toBe("unix:///var/run/docker.sock");
    expect(parseConfig({}, { DOCKER_HOST: "tcp://10.0.0.1:2375" }).host).toBe("tcp://10.0.0.1:2375");
    expect(parseConfig({ host: "ssh://u@h:2" }, { DOCKER_HOST: "tcp://10.0.0.1:2375" }).host).toBe("ssh://u@h:2");
  });

  it("§1 sshOpts: the Node SDK's JSON string is decoded; unset defaults to strings.Fields($DOCKER_SSH_OPTS)", () => {
    expect(parseConfig({ sshOpts: '["-i","/k"]' }, {}).sshOpts).toEqual(["-i", "/k"]);
    expect(parseConfig({}, { DOCKER_SSH_OPTS: "  -o  BatchMode=yes\t-v " }).sshOpts).toEqual(["-o", "BatchMode=yes", "-v"]);
    expect(parseConfig({}, {}).sshOpts).toEqual([]);
  });

  it("§1 context: a non-empty context (default env DOCKER_CONTEXT) overrides host with the context's docker endpoint; an unknown one (\"default\" included) fails", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "bst-ctx-"));
    try {
      const dir = path.join(home, ".docker/contexts/meta/abc");
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ Name: "remote", Endpoints: { docker: { Host: "ssh://ctx@host:22" } } }));
      expect(contextHost("remote", home)).toBe("ssh://ctx@host:22");
      expect(() => contextHost("default", home)).toThrow("Error loading Docker context 'default': context 'default' not found");
      expect(() => parseConfig({ host: "unix:///x" }, { DOCKER_CONTEXT: "nope" })).toThrow(/^Error loading Docker context 'nope': /);
      // "default" is not special to KD: without a contexts directory it fails like any other name.
      const empty = path.join(home, "empty");
      expect(() => contextHost("default", empty)).toThrow(
        `Error loading Docker context 'default': could not read contexts directory: open ${empty}/.docker/contexts/meta: no such file or directory`,
      );
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("§1 certPath: DOCKER_CERT_PATH in the environment would switch the real provider to TLS; the stand-in refuses it", () => {
    expect(() => parseConfig({ host: "ssh://u@h" }, { DOCKER_CERT_PATH: "/certs" })).toThrow(/does not implement TLS connections, and DOCKER_CERT_PATH is set/);
  });

  it("§1 config keys the stand-in does not implement are refused (certPath, keyMaterial, …)", () => {
    const r = dockerProvider.config.check({ host: "unix:///x", certPath: "/c", keyMaterial: "k", registryAuth: "[]", version: "5.0.0" });
    expect(r.failures.map((f) => f.property).sort()).toEqual(["certPath", "keyMaterial"]);
  });

  it("§1 ssh helper argv: `[-l user] [-p port] <sshOpts…> -o ConnectTimeout=30 -T -- <host> docker [--host=unix://<path>] system dial-stdio`", () => {
    expect(sshArgs(parseSshUrl("ssh://root@127.0.0.1:2222"), ["-i", "/k"])).toEqual([
      "-l",
      "root",
      "-p",
      "2222",
      "-i",
      "/k",
      "-o ConnectTimeout=30",
      "-T",
      "--",
      "127.0.0.1",
      "docker system dial-stdio",
    ]);
    // The timeout only when no option mentions ConnectTimeout, -T only when absent; a path selects the socket.
    expect(sshArgs(parseSshUrl("ssh://h/run/d.sock"), ["-o", "ConnectTimeout=5", "-T"])).toEqual([
      "-o",
      "ConnectTimeout=5",
      "-T",
      "--",
      "h",
      "docker --host=unix:///run/d.sock system dial-stdio",
    ]);
    expect(() => parseSshUrl("ssh://u:pw@h")).toThrow(/plain-text password is not supported/);
  });

  it("§1 connection: a ping failure fails the operation with KD's text, prefixed by the CRUD function and wrapped by the bridge (unix socket)", async () => {
    const err = await volume.read({ id: "v", state: {}, inputs: {} }, ctx("v", NOWHERE)).catch((e: Error) => e.message);
    expect(err).toBe(
      `refreshing ${urnOf("v")}: ${tf(
        "failed to create Docker client: Error pinging Docker server, please make sure that unix:///nonexistent/docker.sock is reachable and has a  '_ping' endpoint. Error: Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock. Is the docker daemon running?",
      )}`,
    );
  });

  it("§1 connection: an ssh:// host whose ssh fails reports the ssh command and its stderr in the ping error", async () => {
    const config = { ...DEVHOST, host: "ssh://root@127.0.0.1:1" };
    const err = await clientFor(config).catch((e: Error) => e.message);
    expect(err).toMatch(
      /^failed to create Docker client: Error pinging Docker server, please make sure that ssh:\/\/root@127\.0\.0\.1:1 is reachable and has a {2}'_ping' endpoint\. Error: error during connect: Head "http:\/\/docker\.example\.com\/_ping": command \[ssh -l root -p 1 .* -o ConnectTimeout=30 -T -- 127\.0\.0\.1 docker system dial-stdio\] has exited with exit status 255, make sure the URL is valid, and Docker 18\.09 or later is installed on the remote host: stderr=ssh: connect to host 127\.0\.0\.1 port 1: Connection refused/,
    );
  });

  it("§1 connection: Check and Diff never talk to Docker (they work with an unreachable host)", () => {
    const inputs = checked(container, { image: "berth/redis:7", memory: 64 });
    const d = container.diff({ id: "c", olds: { ...inputs, memory: 32 }, news: inputs, oldInputs: inputs }, ctx("c", NOWHERE));
    expect(d.changes).toBe(true);
  });

  it("§1 connection: the client is built lazily, pings once, and is cached per config", async () => {
    const a = await makeClient(LOCAL);
    const b = await makeClient({ ...LOCAL });
    expect(a).toBe(b);
    expect(a.apiVersion).toMatch(/^1\.\d+$/);
  });

  it("§1 ssh://: a Volume created, read and deleted on the devhost's Docker through the local ssh binary, API version negotiated", async () => {
    const client = await makeClient(DEVHOST);
    // The devhost runs the machine's daemon (Debian docker.io 20.10): API 1.41.
    expect(client.apiVersion).toBe("1.41");
    const inputs = checked(volume, { name: `${P}-ssh`, labels: [{ label: "via", value: "ssh" }] });
    const made = await volume.create(inputs, ctx("ssh", DEVHOST));
    expect(made.id).toBe(`${P}-ssh`);
    const read = await volume.read({ id: made.id, state: made.outputs, inputs }, ctx("ssh", DEVHOST));
    expect(read?.outputs.labels).toEqual([{ label: "via", value: "ssh" }]);
    await volume.delete({ id: made.id, state: made.outputs, oldInputs: inputs }, ctx("ssh", DEVHOST));
    expect(await volume.read({ id: made.id, state: made.outputs, inputs }, ctx("ssh", DEVHOST))).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
describe("§2 RemoteImage", () => {
  const base = { name: "berth/redis:7", keepLocally: true };
  it.each([
    ["name", "replaces (create-before-delete)", { name: "berth/debian:bookworm" }, true],
    ["pullTriggers", "replaces (create-before-delete)", { pullTriggers: ["a"] }, true],
    ["triggers", "replaces (create-before-delete)", { triggers: { a: "1" } }, true],
    ["keepLocally", "updates in place", { keepLocally: false }, false],
    ["forceRemove", "updates in place", { forceRemove: true }, false],
  ] as Array<[string, string, Props, boolean]>)("§2 a change to `%s` %s", (prop, _what, change, replaces) => {
    const olds = checked(remoteImage, base);
    const news = checked(remoteImage, { ...base, ...change });
    const d = remoteImage.diff({ id: "i", olds: { ...olds, imageId: "sha256:x", repoDigest: "" }, news, oldInputs: olds }, ctx("img"));
    expect(d.changes).toBe(true);
    expect(d.replaces.includes(prop)).toBe(replaces);
    // No DBR for docker_image and `name` is not auto-named: a replace is create-before-delete.
    expect(d.deleteBeforeReplace).toBe(false);
  });

  it("§2 pullTriggers is a set: the same triggers in another order are no change", () => {
    const olds = checked(remoteImage, { ...base, pullTriggers: ["a", "b"] });
    const news = checked(remoteImage, { ...base, pullTriggers: ["b", "a", "a"] });
    expect(remoteImage.diff({ id: "i", olds, news, oldInputs: olds }, ctx("img")).changes).toBe(false);
  });

  it("§2 Create finds a local image without pulling: imageId is the full sha256 ID, the ID is imageId + name, repoDigest \"\" for a never-pulled image", async () => {
    const name = await tag(redisId, "create", "v1");
    const made = await remoteImage.create(checked(remoteImage, { name, keepLocally: true }), ctx("img"));
    expect(made.outputs.imageId).toBe(redisId);
    expect(made.outputs.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(made.id).toBe(`${redisId}${name}`);
    expect(made.outputs.repoDigest).toBe("");
  });

  it("§2 Create of an image that is not local pulls it; offline the pull fails with the exact message", async () => {
    const name = `${P}.invalid/absent:1`;
    const err = await remoteImage.create(checked(remoteImage, { name }), ctx("img")).catch((e: Error) => e.message);
    expect(err).toMatch(new RegExp(`^${tfRe("")}Unable to read Docker image into resource: unable to pull image ${name.replace(/\./g, "\\.")}: error pulling image ${name.replace(/\./g, "\\.")}: Error response from daemon: `));
  });

  it.each([
    ["no digests", "app:1", [], ""],
    ["exactly one", "nginx:1.27", ["nginx@sha256:aa"], "nginx@sha256:aa"],
    ["several: the one starting with the name cut at its first `:`", "nginx:1.27", ["127.0.0.1:5000/nginx@sha256:bb", "nginx@sha256:aa"], "nginx@sha256:aa"],
    ["several: a registry port is cut too, so `localhost:5000/app:1` matches on `localhost`", "localhost:5000/app:1", ["other@sha256:cc", "localhost:5000/app@sha256:dd"], "localhost:5000/app@sha256:dd"],
    ["several, none matching: the first", "mine:1", ["a@sha256:1", "b@sha256:2"], "a@sha256:1"],
  ] as const)("§2 repoDigest: %s", (_w, name, digests, expected) => {
    expect(repoDigest(name, { RepoDigests: [...digests] })).toBe(expected);
  });

  it("§2 Read is local only: an image gone locally is dropped from state", async () => {
    const name = await tag(debianId, "gone", "v1");
    const inputs = checked(remoteImage, { name });
    const made = await remoteImage.create(inputs, ctx("img"));
    await call("DELETE", `/images/${name}`);
    expect(await remoteImage.read({ id: made.id, state: made.outputs, inputs }, ctx("img"))).toBeNull();
  });

  it("§2 Read: a tag re-pointed locally gives a new imageId (and ID)", async () => {
    const name = await tag(debianId, "moved", "v1");
    const inputs = checked(remoteImage, { name });
    const made = await remoteImage.create(inputs, ctx("img"));
    await tag(redisId, "moved", "v1");
    const read = await remoteImage.read({ id: made.id, state: made.outputs, inputs }, ctx("img"));
    expect(read?.outputs.imageId).toBe(redisId);
    expect(read?.id).toBe(`${redisId}${name}`);
  });

  it("§2 Delete uses keepLocally from STATE: true leaves the image, false removes it by name", async () => {
    const kept = await tag(debianId, "keep", "v1");
    const keptInputs = checked(remoteImage, { name: kept, keepLocally: true });
    const k = await remoteImage.create(keptInputs, ctx("img"));
    // The program no longer says keepLocally; the state does.
    await remoteImage.delete({ id: k.id, state: k.outputs, oldInputs: { name: kept } }, ctx("img"));
    expect((await call<{ Id: string }>("GET", `/images/${kept}/json`)).Id).toBe(debianId);

    const removed = await tag(debianId, "remove", "v1");
    const r = await remoteImage.create(checked(remoteImage, { name: removed }), ctx("img"));
    await remoteImage.delete({ id: r.id, state: r.outputs, oldInputs: { name: removed } }, ctx("img"));
    await expect(call("GET", `/images/${removed}/json`)).rejects.toThrow(/No such image/);
    // berth's own tag of the same image is untouched.
    expect((await call<{ Id: string }>("GET", "/images/berth/debian:bookworm/json")).Id).toBe(debianId);
  });

  it("§2 Update (keepLocally/forceRemove) runs the local lookup again and keeps the outputs", async () => {
    const name = await tag(debianId, "update", "v1");
    const olds = checked(remoteImage, { name });
    const made = await remoteImage.create(olds, ctx("img"));
    const news = checked(remoteImage, { name, keepLocally: true, forceRemove: true });
    const out = await remoteImage.update({ id: made.id, olds: made.outputs, news, oldInputs: olds }, ctx("img"));
    expect(out).toMatchObject({ name, keepLocally: true, forceRemove: true, imageId: debianId });
  });
});

// ---------------------------------------------------------------------------------------------
describe("§1/§2 registryAuth: the provider's registry credentials and the pulls that send them", () => {
  const check = (registryAuth: unknown) => dockerProvider.config.check({ host: "unix:///x", registryAuth: JSON.stringify(registryAuth) });
  const auth = (blocks: unknown[], env: NodeJS.ProcessEnv = {}) => parseConfig({ registryAuth: JSON.stringify(blocks) }, env).authConfigs;
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const DIGEST = `sha256:${"ab".repeat(32)}`;

  it("§1 registryAuth: a set of blocks with the real schema's fields and types (ProviderRegistryAuth; address required)", () => {
    const schema = realSchema("docker")!;
    const cfg = schema.provider.inputProperties!.registryAuth!;
    expect(cfg.type).toBe("array");
    const real = schema.types[cfg.items!.$ref!.replace(/^#\/types\//, "")]!;
    const mine = (REGISTRY_AUTH_TYPE as { array: { object: Record<string, string>; required: string[] } }).array;
    expect(mine.object).toEqual(Object.fromEntries(Object.entries(real.properties!).map(([k, v]) => [k, v.type])));
    expect(mine.required).toEqual(real.required);
  });

  it("§1 registryAuth CheckConfig: blocks accepted and handed back secret when one has a password; a missing or empty address and an unknown key fail with SDKv2's messages", () => {
    const ok = check([{ address: "127.0.0.1:5000", username: "deploy", password: "pw" }]);
    expect(ok.failures).toEqual([]);
    expect(reveal(ok.inputs.registryAuth!)).toEqual({ value: JSON.stringify([{ address: "127.0.0.1:5000", username: "deploy", password: "pw" }]), secret: true });
    const noPassword = check([{ address: "ghcr.io", authDisabled: true }]);
    expect(reveal(noPassword.inputs.registryAuth!).secret).toBe(false);

    const reasons = (r: ReturnType<typeof check>) => r.failures.map((f) => f.reason);
    expect(reasons(check([{ username: "u" }]))).toEqual([
      'could not validate provider configuration: Missing required argument. The argument "registry_auth.0.address" is required, but no definition was found.',
    ]);
    expect(reasons(check([{ address: "a" }, { address: "" }]))).toEqual(['could not validate provider configuration: expected "registry_auth.1.address" to not be an empty string, got ']);
    expect(reasons(check([{ address: "a", token: "t" }]))).toEqual(["could not validate provider configuration: Invalid or unknown key"]);
    expect(check([{ address: "a", authDisabled: "yes" }]).failures.map((f) => f.property)).toEqual(["registryAuth[0].authDisabled"]);
    // Values not known yet (preview) pass.
    expect(dockerProvider.config.check({ registryAuth: UNKNOWN }).failures).toEqual([]);
  });

  it("§0 registryAuth: a change (a rotated password) is an in-place provider update", () => {
    const d = dockerProvider.config.diff({ registryAuth: '[{"address":"a","username":"u","password":"old"}]' }, { registryAuth: '[{"address":"a","username":"u","password":"new"}]' });
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
  });

  it("§1 registryAuth Configure: `https://` is added unless the address has a scheme (serveraddress), and the credentials are filed under the hostname", () => {
    expect(
      auth([
        { address: "127.0.0.1:5000", username: "deploy", password: "pw" },
        { address: "https://ghcr.io/v2/", username: "gh", password: "tok" },
        { address: "http://10.0.0.1:5000", username: "h", password: "p" },
      ]),
    ).toEqual({
      "127.0.0.1:5000": { username: "deploy", password: "pw", serveraddress: "https://127.0.0.1:5000" },
      "ghcr.io": { username: "gh", password: "tok", serveraddress: "https://ghcr.io/v2/" },
      "10.0.0.1:5000": { username: "h", password: "p", serveraddress: "http://10.0.0.1:5000" },
    });
    expect(auth([])).toEqual({});
    expect(parseConfig({}, {}).authConfigs).toEqual({});
  });

  it("§1 registryAuth defaults and overrides: username/password from DOCKER_REGISTRY_USER/PASS; authDisabled sends the dummy username/password; an ECR password is decoded", () => {
    expect(auth([{ address: "r.example" }], { DOCKER_REGISTRY_USER: "envu", DOCKER_REGISTRY_PASS: "envp" })).toEqual({
      "r.example": { username: "envu", password: "envp", serveraddress: "https://r.example" },
    });
    expect(auth([{ address: "r.example", username: "u", password: "p", authDisabled: true }])).toEqual({
      "r.example": { username: "username", password: "password", serveraddress: "https://r.example" },
    });
    const ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    const ecrPassword = (password: string) => auth([{ address: ecr, username: "AWS", password }])[ecr]!.password;
    expect(ecrPassword(b64("secret-token"))).toBe("secret-token");
    expect(ecrPassword("AWS:secret-token")).toBe("secret-token");
    expect(ecrPassword("eyJhbGciOi")).toBe("eyJhbGciOi");
  });

  it("§1 registryAuth without a username: configFileContent, else configFile (default $DOCKER_CONFIG[/config.json], else ~/.docker/config.json); a missing file fails Configure", () => {
    const content = JSON.stringify({ auths: { "127.0.0.1:5000": { auth: b64("alice:pw") }, "https://reg.example:5443/v1/": { username: "x", password: "y" } } });
    expect(auth([{ address: "127.0.0.1:5000", configFileContent: content }])["127.0.0.1:5000"]).toEqual({ username: "alice", password: "pw", serveraddress: "https://127.0.0.1:5000" });
    // docker/cli's file store: a key whose hostname is the registry's matches too; no entry means no credentials.
    expect(auth([{ address: "reg.example:5443", configFileContent: content }])["reg.example:5443"]).toEqual({ username: "x", password: "y", serveraddress: "https://reg.example:5443" });
    expect(auth([{ address: "none.example", configFileContent: content }])["none.example"]).toEqual({ serveraddress: "https://none.example" });
    // Docker Hub hostnames look for the Hub's keys first.
    const hub = JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: b64("hubuser:hubpw") } } });
    expect(auth([{ address: "registry-1.docker.io", configFileContent: hub }])["registry-1.docker.io"]).toMatchObject({ username: "hubuser", password: "hubpw" });

    const home = fs.mkdtempSync(path.join(os.tmpdir(), "bst-regcfg-"));
    try {
      const dir = path.join(home, "cfgdir");
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, "config.json"), content);
      expect(auth([{ address: "127.0.0.1:5000" }], { DOCKER_CONFIG: dir })["127.0.0.1:5000"]).toMatchObject({ username: "alice", password: "pw" });
      expect(auth([{ address: "127.0.0.1:5000" }], { DOCKER_CONFIG: path.join(dir, "config.json") })["127.0.0.1:5000"]).toMatchObject({ username: "alice" });
      fs.mkdirSync(path.join(home, ".docker"));
      fs.writeFileSync(path.join(home, ".docker/config.json"), content);
      expect(parseRegistryAuth(JSON.stringify([{ address: "127.0.0.1:5000" }]), {}, home)["127.0.0.1:5000"]).toMatchObject({ username: "alice" });

      const missing = path.join(home, "absent.json");
      expect(() => auth([{ address: "r.example" }], { DOCKER_CONFIG: missing })).toThrow(
        `Error loading registry auth config: could not open config file from filePath: ${missing}. Error: open ${missing}: no such file or directory`,
      );
      // Configure fails as the bridge reports a diagnostic.
      expect(() => dockerProvider.config.parse({ registryAuth: JSON.stringify([{ address: "r.example", configFile: missing }]) })).toThrow(
        tf(`Error loading registry auth config: could not open config file from filePath: ${missing}. Error: open ${missing}: no such file or directory`),
      );
      // Credential helpers are not run by the stand-in: it says so instead of sending no credentials.
      expect(() => auth([{ address: "r.example", configFileContent: JSON.stringify({ credsStore: "pass" }) }])).toThrow(/does not run credential helpers \(docker-credential-pass for r\.example\)/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("§1 registryAuth is a Terraform set: the program's order of the blocks does not matter, even for two blocks of one registry", () => {
    const a = { address: "r.example", username: "a", password: "1" };
    const b = { address: "https://r.example", username: "b", password: "2" };
    expect(auth([a, b])).toEqual(auth([b, a]));
  });

  it.each([
    ["127.0.0.1:5000/app:v1", "127.0.0.1:5000"],
    ["ghcr.io/org/app:1", "ghcr.io"],
    ["localhost/app", "localhost"],
    ["registry.example.com:5000/app@" + DIGEST, "registry.example.com:5000"],
    ["nginx", "registry-1.docker.io"],
    ["library/nginx:1.27", "registry-1.docker.io"],
    ["org/team/app:1", "org"],
  ])("§2 pull: the registry of %s is %s (parseImageOptions)", (image, registry) => {
    expect(registryOfImage(image)).toBe(registry);
  });

  it("§2 pull: X-Registry-Auth is the AuthConfig filed under the image's registry, as json.Marshal writes it, in padded base64url; `{}` when none is", () => {
    const configs = { "127.0.0.1:5000": { username: "u", password: "p&<>", serveraddress: "https://127.0.0.1:5000" } };
    const header = registryAuthHeader(configs, "127.0.0.1:5000/app:v1");
    expect(header).toMatch(/^[A-Za-z0-9_-]+=*$/);
    expect(Buffer.from(header, "base64url").toString()).toBe('{"username":"u","password":"p\\u0026\\u003c\\u003e","serveraddress":"https://127.0.0.1:5000"}');
    expect(registryAuthHeader(configs, "localhost:5000/app:v1")).toBe("e30=");
    expect(registryAuthHeader({ "docker.io": { username: "u", password: "p" } }, "nginx")).toBe("e30=");
  });

  it.each([
    ["nginx", { fromImage: "docker.io/library/nginx", tag: "latest" }],
    ["index.docker.io/org/app:1", { fromImage: "docker.io/org/app", tag: "1" }],
    ["127.0.0.1:5000/app:v1", { fromImage: "127.0.0.1:5000/app", tag: "v1" }],
    [`127.0.0.1:5000/app@${DIGEST}`, { fromImage: "127.0.0.1:5000/app", tag: DIGEST }],
    [`127.0.0.1:5000/app:v1@${DIGEST}`, { fromImage: "127.0.0.1:5000/app", tag: DIGEST }],
  ])("§2 pull: ImagePull(%s) asks the daemon for %j (a digest wins over the tag)", (ref, query) => {
    expect(pullQuery(ref)).toEqual(query);
  });

  it.each([
    ["App:1", "invalid reference format: repository name (library/App) must be lowercase"],
    ["app:bad tag", "invalid reference format"],
    [`app@sha256:${"ab".repeat(20)}`, "invalid checksum digest length"],
    ["ab".repeat(32), `invalid repository name (${"ab".repeat(32)}), cannot specify 64-byte hexadecimal strings`],
  ])("§2 pull: a reference the client cannot parse (%s) fails before any request: %s", (ref, message) => {
    expect(() => pullQuery(ref)).toThrow(message);
  });

  describe("against a registry that requires htpasswd auth (berth/registry:2 on 127.0.0.1)", () => {
    let reg: TestRegistry;
    let good: DockerConfig;
    const imageId = async (ref: string) => (await call<{ Id: string }>("GET", `/images/${ref}/json`)).Id;

    beforeAll(async () => {
      reg = await startRegistry({ repoRoot: path.resolve(__dirname, "../.."), name: `${P}-registry` });
      good = parseConfig({ registryAuth: JSON.stringify([{ address: reg.address, username: reg.user, password: reg.password }]) }, {});
    });
    afterAll(async () => {
      await reg?.remove();
    });

    it("§2 Create pulls an image that is not local with the registryAuth filed under its registry: imageId is the pushed image's, repoDigest the registry's", async () => {
      const ref = await reg.importTiny(`${P}/tiny`, "1", "one");
      const id = await imageId(ref);
      const digest = await reg.push(ref, `${P}/tiny`, "1");
      await reg.forgetLocal();
      await expect(call("GET", `/images/${ref}/json`)).rejects.toThrow(/No such image/);
      const made = await remoteImage.create(checked(remoteImage, { name: ref, keepLocally: true }), ctx("img", good));
      expect(made.outputs.imageId).toBe(id);
      expect(made.outputs.repoDigest).toBe(`${reg.address}/${P}/tiny@${digest}`);
    });

    it("§2 no registryAuth for the image's registry: the pull sends `{}` and fails with the daemon's error, under KD's and the bridge's prefixes", async () => {
      await reg.forgetLocal();
      const ref = `${reg.address}/${P}/tiny:1`;
      const other = parseConfig({ registryAuth: JSON.stringify([{ address: `localhost:${reg.port}`, username: reg.user, password: reg.password }]) }, {});
      const err = await remoteImage.create(checked(remoteImage, { name: ref }), ctx("img", other)).catch((e: Error) => e.message);
      expect(err).toBe(
        tf(`Unable to read Docker image into resource: unable to pull image ${ref}: error pulling image ${ref}: Error response from daemon: Head "http://${reg.address}/v2/${P}/tiny/manifests/1": no basic auth credentials`),
      );
    });

    it("§2 a wrong password: the pull fails with the registry's 'unauthorized: authentication required', naming the image and so the registry", async () => {
      await reg.forgetLocal();
      const ref = `${reg.address}/${P}/tiny:1`;
      const wrong = parseConfig({ registryAuth: JSON.stringify([{ address: reg.address, username: reg.user, password: "wrong" }]) }, {});
      const err = await remoteImage.create(checked(remoteImage, { name: ref }), ctx("img", wrong)).catch((e: Error) => e.message);
      expect(err).toBe(tf(`Unable to read Docker image into resource: unable to pull image ${ref}: error pulling image ${ref}: Error response from daemon: unauthorized: authentication required`));
    });

    it("§2 a digest reference `repo@sha256:…` is pulled by that digest (not the tag, which moved) and found locally by it afterwards, with no registry call", async () => {
      const ref2 = await reg.importTiny(`${P}/tiny`, "2", "two");
      const id2 = await imageId(ref2);
      // The tag `1` now names the second image in the registry; its digest names it for good.
      const moved = await reg.push(ref2, `${P}/tiny`, "1");
      await reg.forgetLocal();
      const name = `${reg.address}/${P}/tiny@${moved}`;
      const made = await remoteImage.create(checked(remoteImage, { name, keepLocally: true }), ctx("img", good));
      expect(made.outputs.imageId).toBe(id2);
      expect(made.id).toBe(`${id2}${name}`);
      // The tag itself was not pulled.
      await expect(call("GET", `/images/${reg.address}/${P}/tiny:1/json`)).rejects.toThrow(/No such image/);
      // Local now: a Create without any credentials finds it.
      const again = await remoteImage.create(checked(remoteImage, { name, keepLocally: true }), ctx("img"));
      expect(again.outputs.imageId).toBe(id2);
    });

    it("§3 Container Create step 1 pulls a missing image with the provider's registryAuth too", async () => {
      await reg.forgetLocal();
      const image = `${reg.address}/${P}/tiny:1`;
      const inputs = checked(container, { name: `${P}-regpull`, image, command: ["/none"], start: false });
      const made = await container.create(inputs, ctx("c", good));
      expect(made.outputs.image).toBe(image);
      await container.delete({ id: made.id, state: made.outputs, oldInputs: inputs }, ctx("c", good));
    });
  });
});

// ---------------------------------------------------------------------------------------------
describe("§3 Container: diff rules", () => {
  const base: Props = {
    image: "sha256:aaa",
    envs: ["A=1"],
    labels: [{ label: "l", value: "1" }],
    command: ["sleep", "1"],
    ports: [{ internal: 80, ip: "127.0.0.1" }],
    memory: 64,
    healthcheck: { tests: ["CMD", "true"], interval: "2s" },
  };
  /** Diff of `news` against the state a create of `base` would leave (with a read-back port). */
  function diffOf(change: Props, remove: string[] = []) {
    const olds = checked(container, base, undefined, cctx("c", "s"));
    const state: Props = { ...olds, ports: [{ internal: 80, external: 32000, ip: "127.0.0.1", protocol: "tcp" }] };
    const next: Props = { ...base, ...change };
    for (const k of remove) delete next[k];
    const news = checked(container, next, olds, cctx("c", "s"));
    return container.diff({ id: "c", olds: state, news, oldInputs: olds }, ctx("c"));
  }

  it.each([
    ["name", { name: "other" }],
    ["image", { image: "sha256:bbb" }],
    ["envs", { envs: ["A=2"] }],
    ["labels", { labels: [{ label: "l", value: "2" }] }],
    ["ports", { ports: [{ internal: 81, ip: "127.0.0.1" }] }],
    ["volumes", { volumes: [{ volumeName: "v", containerPath: "/data" }] }],
    ["networksAdvanced", { networksAdvanced: [{ name: "n", aliases: ["a"] }] }],
    ["command", { command: ["sleep", "2"] }],
    ["entrypoints", { entrypoints: ["/bin/sh"] }],
    ["hostname", { hostname: "h" }],
    ["user", { user: "nobody" }],
    ["workingDir", { workingDir: "/tmp" }],
    ["logDriver", { logDriver: "none" }],
    ["logOpts", { logOpts: { "max-size": "1m" } }],
    ["stopTimeout", { stopTimeout: 5 }],
    ["networkMode", { networkMode: "host" }],
  ] as Array<[string, Props]>)("§3 replace: a change to `%s` replaces, delete-before-replace", (prop, change) => {
    const d = diffOf(change);
    expect(d.replaces).toContain(prop);
    expect(d.deleteBeforeReplace).toBe(true);
  });

  it.each([
    ["restart", { restart: "always" }],
    ["memory", { memory: 128 }],
    ["memorySwap", { memorySwap: 256 }],
    ["mustRun", { mustRun: false }],
    ["healthcheck", { healthcheck: { tests: ["CMD", "true"], interval: "3s" } }],
    ["wait", { wait: true }],
    ["waitTimeout", { waitTimeout: 5 }],
    ["destroyGraceSeconds", { destroyGraceSeconds: 10 }],
    ["start", { start: false }],
    ["rm", { rm: true }],
    ["removeVolumes", { removeVolumes: false }],
  ] as Array<[string, Props]>)("§3 in place: a change to `%s` is an update, not a replace", (prop, change) => {
    const d = diffOf(change);
    expect(d.changes).toBe(true);
    expect(Object.keys(d.detailedDiff ?? {})).toEqual([prop]);
    expect(d.replaces).toEqual([]);
  });

  it.each(["envs", "labels", "command", "healthcheck"])("§3 Optional+Computed: removing `%s` from the program is not a change", (prop) => {
    expect(diffOf({}, [prop]).changes).toBe(false);
  });

  it("§3 Optional+Computed: entrypoints, hostname, logDriver, stopTimeout left out keep the read-back value", () => {
    const olds = checked(container, { image: "i" });
    const state = { ...olds, entrypoints: ["/e"], hostname: "abc", logDriver: "json-file", stopTimeout: 10, user: "redis", workingDir: "/data" };
    expect(container.diff({ id: "c", olds: state, news: olds, oldInputs: olds }, ctx("c")).changes).toBe(false);
  });

  it("§3 user and workingDir: \"\" is no change (their DiffSuppressFunc)", () => {
    const olds = checked(container, { image: "i" });
    const news = checked(container, { image: "i", user: "", workingDir: "" });
    expect(container.diff({ id: "c", olds: { ...olds, user: "redis", workingDir: "/data" }, news, oldInputs: olds }, ctx("c")).changes).toBe(false);
  });

  it("§3 memorySwap is not Computed: a read-back value the program never set plans an in-place update", () => {
    const olds = checked(container, { image: "i", memory: 64 });
    const d = container.diff({ id: "c", olds: { ...olds, memorySwap: 128 }, news: olds, oldInputs: olds }, ctx("c"));
    expect(d.detailedDiff).toEqual({ memorySwap: "delete" });
    expect(d.replaces).toEqual([]);
  });

  it("§3 envs and labels are sets: another order, or duplicates, is no change", () => {
    const d = diffOf({ envs: ["A=1", "A=1"], labels: [{ label: "l", value: "1" }, { label: "l", value: "1" }] });
    expect(d.changes).toBe(false);
    const two = checked(container, { image: "i", envs: ["B=2", "A=1"] });
    const swapped = checked(container, { image: "i", envs: ["A=1", "B=2"] });
    expect(container.diff({ id: "c", olds: two, news: swapped, oldInputs: two }, ctx("c")).changes).toBe(false);
  });

  it("§3 ports: `external` left out keeps Docker's port; the same ports in another order are no change; another count replaces", () => {
    expect(diffOf({}).changes).toBe(false);
    const two = [
      { internal: 80, external: 1, ip: "127.0.0.1", protocol: "tcp" },
      { internal: 443, external: 2, ip: "127.0.0.1", protocol: "tcp" },
    ];
    const olds = checked(container, { image: "i", ports: [{ internal: 443, ip: "127.0.0.1" }, { internal: 80, ip: "127.0.0.1" }] });
    expect(container.diff({ id: "c", olds: { ...olds, ports: two }, news: olds, oldInputs: olds }, ctx("c")).changes).toBe(false);
    expect(container.diff({ id: "c", olds: { ...olds, ports: [] }, news: olds, oldInputs: olds }, ctx("c")).replaces).toEqual(["ports"]);
  });

  it("§3 healthcheck: a duration not in Go's normal form (\"1m\" against the read-back \"1m0s\") plans a state-only update", () => {
    const olds = checked(container, { image: "i", healthcheck: { tests: ["CMD", "true"], interval: "1m" } });
    const state = { ...olds, healthcheck: { tests: ["CMD", "true"], interval: "1m0s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0 } };
    const d = container.diff({ id: "c", olds: state, news: olds, oldInputs: olds }, ctx("c"));
    expect(d.detailedDiff).toEqual({ healthcheck: "update" });
  });

  it("§3 defaults: Check fills start, mustRun, wait, waitTimeout, restart, removeVolumes, rm, networkMode, ports ip/protocol and healthcheck durations", () => {
    const inputs = checked(container, { image: "i", ports: [{ internal: 80 }], healthcheck: { tests: ["CMD", "true"] } });
    expect(inputs).toMatchObject({
      start: true,
      mustRun: true,
      wait: false,
      waitTimeout: 60,
      restart: "no",
      removeVolumes: true,
      rm: false,
      networkMode: "bridge",
      ports: [{ internal: 80, ip: "0.0.0.0", protocol: "tcp" }],
      healthcheck: { tests: ["CMD", "true"], interval: "0s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0 },
    });
  });

  it.each([
    ["restart", { restart: "sometimes" }, "'sometimes' doesn't match the pattern '^(no|on-failure|always|unless-stopped)$'"],
    ["memorySwap", { memorySwap: -2 }, "'-2' cannot be lower than -1"],
    ["healthcheck.interval", { healthcheck: { interval: "2 seconds" } }, "'2 seconds' is not a valid duration"],
    ["volumes[0].hostPath", { volumes: [{ hostPath: "rel", containerPath: "/x" }] }, "'rel' must be an absolute path"],
  ] as Array<[string, Props, string]>)("§3 validation: `%s` is checked like the Terraform schema does", (prop, change, reason) => {
    const r = container.check({ image: "i", ...change }, undefined, cctx("c"));
    expect(r.failures).toContainEqual({ property: prop, reason });
  });

  it("§0 preview: Check accepts values not known yet, type-checks the rest and still fills the defaults", () => {
    const r = container.check({ image: UNKNOWN, ports: [{ internal: 80, ip: UNKNOWN }], healthcheck: { tests: ["CMD", "true"], interval: UNKNOWN } }, undefined, cctx("c"));
    expect(r.failures).toEqual([]);
    expect(r.inputs.ports).toEqual([{ internal: 80, ip: UNKNOWN, protocol: "tcp" }]);
    expect((r.inputs.healthcheck as Props).timeout).toBe("0s");
  });

  it("§3 preview: a new `image` not known yet (its RemoteImage is replaced) plans a replace", () => {
    const olds = checked(container, { image: "sha256:aaa" });
    const news = checked(container, { image: UNKNOWN }, olds);
    expect(container.diff({ id: "c", olds, news, oldInputs: olds }, ctx("c")).replaces).toEqual(["image"]);
  });

  it("§3 preview: Create predicts the planned state with Docker's picks unknown (external port, hostname, …) and touches nothing", async () => {
    const inputs = checked(container, { image: "berth/redis:7", ports: [{ internal: 6379, ip: "127.0.0.1" }] });
    const out = await container.create(inputs, ctx("c", NOWHERE, true));
    expect(out.id).toBe("");
    expect((out.outputs.ports as Props[])[0]!.external).toBe(UNKNOWN);
    expect(out.outputs.hostname).toBe(UNKNOWN);
    expect(out.outputs.name).toBe(inputs.name);
    expect(containsUnknown(out.outputs.memorySwap)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
describe("§3 Go durations (healthcheck read-back)", () => {
  it.each([
    ["1m", "1m0s"],
    ["90s", "1m30s"],
    ["2s", "2s"],
    ["0", "0s"],
    ["1.5s", "1.5s"],
    ["500ms", "500ms"],
    ["1h", "1h0m0s"],
    ["1h2m3.5s", "1h2m3.5s"],
    ["1500us", "1.5ms"],
    ["10ns", "10ns"],
  ])("§3 healthcheck durations come back as Go's Duration.String(): %s → %s", (input, out) => {
    expect(formatGoDuration(parseGoDuration(input))).toBe(out);
  });
});

// ---------------------------------------------------------------------------------------------
describe("§3 Container on the real Docker engine", () => {
  let netName = "";
  let created: { id: string; outputs: Props };
  let inputs: Props;

  beforeAll(async () => {
    const n = await network.create(checked(network, { name: `${P}-net` }), ctx("net"));
    netName = n.outputs.name as string;
    inputs = checked(container, {
      name: `${P}-web`,
      image: redisId,
      command: ["redis-server", "--appendonly", "no"],
      envs: ["B=2", "A=1"],
      labels: [{ label: "berth.test", value: RUN }],
      memory: 64,
      restart: "unless-stopped",
      ports: [{ internal: 6379, ip: "127.0.0.1" }],
      networksAdvanced: [{ name: netName, aliases: ["cache"] }],
      volumes: [{ volumeName: `${P}-data`, containerPath: "/data" }],
      logDriver: "json-file",
      logOpts: { "max-size": "1m" },
      stopTimeout: 5,
      healthcheck: { tests: ["CMD", "redis-cli", "ping"], interval: "1s", timeout: "3s", retries: 3, startPeriod: "1m" },
      wait: true,
      waitTimeout: 60,
    });
    created = await container.create(inputs, ctx("web"));
  });

  it("§3 Create: the ID is Docker's container ID and the container runs healthy (wait polled until healthy)", async () => {
    expect(created.id).toMatch(/^[0-9a-f]{64}$/);
    const c = await inspectContainer(created.id);
    expect(c.State.Running).toBe(true);
    expect(c.State.Health?.Status).toBe("healthy");
  });

  it("§3 ports: with `external` left out Docker picks the host port, and the Read that ends Create fills it in", () => {
    const ports = created.outputs.ports as Props[];
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ internal: 6379, ip: "127.0.0.1", protocol: "tcp" });
    expect(ports[0]!.external).toBeGreaterThan(0);
  });

  it("§3 Create step 3: networksAdvanced disconnects the default bridge and connects each network with its aliases before the start", async () => {
    const c = await inspectContainer(created.id);
    expect(Object.keys(c.NetworkSettings.Networks)).toEqual([netName]);
    expect(c.NetworkSettings.Networks[netName]!.Aliases).toContain("cache");
  });

  it("§3 Read-back by the Read that ends Create: memory ÷ 1 MiB, memorySwap as the daemon stored it, healthcheck as Go durations, restart, logDriver, image", () => {
    expect(created.outputs).toMatchObject({
      memory: 64,
      restart: "unless-stopped",
      logDriver: "json-file",
      logOpts: { "max-size": "1m" },
      stopTimeout: 5,
      image: redisId,
      healthcheck: { tests: ["CMD", "redis-cli", "ping"], interval: "1s", timeout: "3s", startPeriod: "1m0s", startInterval: "0s", retries: 3 },
    });
    // Daemon default with memory and no memorySwap: 2 × memory, or -1 without swap-limit support.
    expect([128, -1]).toContain(created.outputs.memorySwap);
  });

  it("§3 never read back: envs, labels, volumes and networksAdvanced keep the program's values (sets in set order)", () => {
    expect(created.outputs.envs).toEqual(["A=1", "B=2"]);
    expect(created.outputs.labels).toEqual([{ label: "berth.test", value: RUN }]);
    expect(created.outputs.volumes).toEqual([{ volumeName: `${P}-data`, containerPath: "/data" }]);
    expect(created.outputs.networksAdvanced).toEqual([{ name: netName, aliases: ["cache"] }]);
  });

  it("§3 the Read that ends Create is in the outputs: the next diff plans exactly the read-back drift (memorySwap, healthcheck \"1m\")", () => {
    const d = container.diff({ id: created.id, olds: created.outputs, news: inputs, oldInputs: inputs }, ctx("web"));
    expect(d.detailedDiff).toEqual({ memorySwap: "delete", healthcheck: "update" });
    expect(d.replaces).toEqual([]);
  });

  it("§3 Update: one ContainerUpdate with the live fields (memory, restart), no Read afterwards", async () => {
    const news = checked(container, { ...inputs, memory: 96, restart: "always" }, inputs);
    const out = await container.update({ id: created.id, olds: created.outputs, news, oldInputs: inputs }, ctx("web"));
    const c = await inspectContainer(created.id);
    expect(c.HostConfig.Memory).toBe(96 * 1024 * 1024);
    expect(c.HostConfig.RestartPolicy.Name).toBe("always");
    // No Read: the state is the plan (memorySwap dropped, healthcheck as configured), ports kept.
    expect(out.memorySwap).toBeUndefined();
    expect((out.healthcheck as Props).startPeriod).toBe("1m");
    expect(out.ports).toEqual(created.outputs.ports);
    created = { id: created.id, outputs: out };
  });

  it("§3/§10 Read of a stopped container: exitCode set, mustRun=false, ports rewritten from inspect (empty), so the next diff replaces", async () => {
    await call("POST", `/containers/${created.id}/stop`, { query: { t: 0 } });
    const read = await container.read({ id: created.id, state: created.outputs, inputs }, ctx("web"));
    expect(read?.outputs.mustRun).toBe(false);
    expect(typeof read?.outputs.exitCode).toBe("number");
    expect(read?.outputs.ports).toEqual([]);
    // The refreshed inputs no longer list mustRun among the defaults, so Check applies `true` again.
    const news = checked(container, { ...inputs, memory: 96, restart: "always" }, read!.inputs);
    expect(news.mustRun).toBe(true);
    const d = container.diff({ id: created.id, olds: read!.outputs, news, oldInputs: read!.inputs }, ctx("web"));
    expect(d.replaces).toContain("ports");
    expect(d.detailedDiff?.mustRun).toBe("update");
    created = { id: created.id, outputs: read!.outputs };
  });

  it("§3 Update: mustRun false→true starts the container (no wait)", async () => {
    const news = checked(container, { ...inputs, memory: 96, restart: "always" }, inputs);
    await container.update({ id: created.id, olds: created.outputs, news, oldInputs: inputs }, ctx("web"));
    expect((await inspectContainer(created.id)).State.Running).toBe(true);
  });

  it("§0/§3 a failed Update is an init error holding the PLANNED state (SDKv2 returns it with the error), so the next `up` would not retry the call", async () => {
    // memory above the swap limit the daemon recorded (2 × 64 MiB at create), memorySwap not sent.
    const olds = { ...created.outputs, memory: 64, memorySwap: 128, mustRun: true };
    const news = checked(container, { ...inputs, memory: 512, restart: "always" }, inputs);
    const before = (await inspectContainer(created.id)).HostConfig.Memory;
    const err = await container.update({ id: created.id, olds, news, oldInputs: inputs }, ctx("web")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InitFailedError);
    expect((err as Error).message).toMatch(new RegExp(`^updating ${urnOf("web").replace(/[.$]/g, "\\$&")}: ${tfRe("")}Unable to update a container: Error response from daemon: `));
    expect((err as InitFailedError).properties.memory).toBe(512);
    expect((await inspectContainer(created.id)).HostConfig.Memory).toBe(before);
  });

  it("§3/§10 Read of a removed container drops it from state; Delete of it succeeds (\"No such container\" ignored)", async () => {
    await container.delete({ id: created.id, state: created.outputs, oldInputs: inputs }, ctx("web"));
    await expect(inspectContainer(created.id)).rejects.toThrow(/No such container/);
    expect(await container.read({ id: created.id, state: created.outputs, inputs }, ctx("web"))).toBeNull();
    await container.delete({ id: created.id, state: created.outputs, oldInputs: inputs }, ctx("web"));
  });

  it("§3 volumes: a `volumeName` becomes a bind `<name>:<path>:rw`, and Docker creates the named volume", async () => {
    const v = await call<{ Name: string }>("GET", `/volumes/${P}-data`);
    expect(v.Name).toBe(`${P}-data`);
  });
});

describe("§3 Container Create: start, wait and failures", () => {
  it("§3 wait: a container that stays unhealthy fails with 'container failed to be in healthy state' after waitTimeout (no early stop), as a partial create", async () => {
    const inputs = checked(container, {
      name: `${P}-unhealthy`,
      image: "berth/debian:bookworm",
      command: ["sleep", "600"],
      healthcheck: { tests: ["CMD", "false"], interval: "1s", retries: 1 },
      wait: true,
      waitTimeout: 6,
    });
    const t0 = Date.now();
    const err = await container.create(inputs, ctx("u")).catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(InitFailedError);
    expect((err as Error).message).toBe(`creating ${urnOf("u")}: ${tf("container failed to be in healthy state")}`);
    // Unhealthy after ~2 s, yet the loop went on to the 6 s timeout.
    expect((await inspectContainer((err as InitFailedError).id)).State.Health?.Status).toBe("unhealthy");
    expect(took).toBeGreaterThanOrEqual(5500);
    await container.delete({ id: (err as InitFailedError).id, state: (err as InitFailedError).properties, oldInputs: inputs }, ctx("u"));
  });

  it("§3 wait: without any healthcheck the error names the missing healthcheck (partial create)", async () => {
    const inputs = checked(container, { name: `${P}-nohc`, image: "berth/debian:bookworm", command: ["sleep", "600"], wait: true });
    const err = await container.create(inputs, ctx("n")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InitFailedError);
    expect((err as Error).message).toBe(
      `creating ${urnOf("n")}: ${tf("you have supplied a 'wait' argument, but the container does not have a healthcheck defined. Please remove the 'wait' argument or add a 'healthcheck' attribute")}`,
    );
    await container.delete({ id: (err as InitFailedError).id, state: (err as InitFailedError).properties, oldInputs: inputs }, ctx("n"));
  });

  it("§3 start=false: the container is created, not started, and `wait` is ignored", async () => {
    const inputs = checked(container, { name: `${P}-nostart`, image: "berth/debian:bookworm", command: ["sleep", "600"], start: false, wait: true });
    const made = await container.create(inputs, ctx("s"));
    expect((await inspectContainer(made.id)).State.Running).toBe(false);
    // Read at the end of Create saw it stopped with mustRun true: mustRun=false in state.
    expect(made.outputs.mustRun).toBe(false);
    await container.delete({ id: made.id, state: made.outputs, oldInputs: inputs }, ctx("s"));
  });

  it("§3 Create step 2: an empty string inside `command` is an error before anything is created", async () => {
    const inputs = checked(container, { name: `${P}-emptycmd`, image: "berth/debian:bookworm", command: ["sleep", ""] });
    const err = await container.create(inputs, ctx("e")).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(InitFailedError);
    expect((err as Error).message).toBe(tf("values for command may not be empty"));
  });

  it("§3 Create step 1: an image that is not local and cannot be pulled fails the create", async () => {
    const image = `${P}.invalid/none:1`;
    const inputs = checked(container, { name: `${P}-noimage`, image });
    const err = await container.create(inputs, ctx("i")).catch((e: Error) => e.message);
    expect(err).toMatch(new RegExp(`^${tfRe("")}Unable to create container with image ${image.replace(/\./g, "\\.")}: unable to pull image `));
  });

  it("§3 image read-back: a configured `sha256:` ID stays the ID; a tag stays the tag (Config.Image)", async () => {
    const byTag = checked(container, { name: `${P}-bytag`, image: "berth/debian:bookworm", command: ["sleep", "600"] });
    const made = await container.create(byTag, ctx("t"));
    expect(made.outputs.image).toBe("berth/debian:bookworm");
    await container.delete({ id: made.id, state: made.outputs, oldInputs: byTag }, ctx("t"));
  });

  it("§3 Delete: stop with destroyGraceSeconds (0 when unset: stop signal then kill), then a forced remove", async () => {
    const inputs = checked(container, { name: `${P}-del`, image: "berth/debian:bookworm", command: ["sleep", "600"] });
    const made = await container.create(inputs, ctx("d"));
    const t0 = Date.now();
    await container.delete({ id: made.id, state: made.outputs, oldInputs: inputs }, ctx("d"));
    // `sleep` ignores SIGTERM as PID 1: a 10 s default stop timeout would show; 0 kills at once.
    expect(Date.now() - t0).toBeLessThan(8000);
    await expect(inspectContainer(made.id)).rejects.toThrow(/No such container/);
  });
});

// ---------------------------------------------------------------------------------------------
describe("§4 Network", () => {
  it.each([
    ["name", { name: `${P}-other` }],
    ["labels", { labels: [{ label: "a", value: "2" }] }],
    ["driver", { driver: "overlay" }],
    ["options", { options: { "com.docker.network.bridge.enable_icc": "false" } }],
    ["internal", { internal: true }],
    ["attachable", { attachable: true }],
    ["ipamDriver", { ipamDriver: "other" }],
  ] as Array<[string, Props]>)("§4 every input replaces: `%s`", (prop, change) => {
    const olds = checked(network, { name: `${P}-n`, labels: [{ label: "a", value: "1" }] });
    const state = { ...olds, driver: "bridge", options: {}, internal: false, attachable: false, scope: "local" };
    const news = checked(network, { name: `${P}-n`, labels: [{ label: "a", value: "1" }], ...change }, olds);
    const d = network.diff({ id: "n", olds: state, news, oldInputs: olds }, ctx("n"));
    expect(d.replaces).toEqual([prop]);
  });

  it("§4 Create: the ID is the network ID; creating an existing name fails", async () => {
    const inputs = checked(network, { name: `${P}-dup`, labels: [{ label: "k", value: "v" }] });
    const made = await network.create(inputs, ctx("n"));
    expect(made.id).toMatch(/^[0-9a-f]{64}$/);
    expect(made.outputs).toMatchObject({ name: `${P}-dup`, labels: [{ label: "k", value: "v" }], driver: "bridge", scope: "local", ipamDriver: "default" });
    const err = await network.create(inputs, ctx("n")).catch((e: Error) => e.message);
    expect(err).toMatch(new RegExp(`^${tfRe("")}Unable to create network: Error response from daemon: network with name ${P}-dup already exists`));
  });

  it("§4 Read: waits ~2 s, reads labels back (an out-of-band label difference plans a replace), and drops a network that is gone", async () => {
    const made = await network.create(checked(network, { name: `${P}-read` }), ctx("n"));
    const inputs = checked(network, { name: `${P}-read`, labels: [{ label: "x", value: "1" }] });
    const t0 = Date.now();
    const read = await network.read({ id: made.id, state: { ...made.outputs, labels: [{ label: "x", value: "1" }] }, inputs }, ctx("n"));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(read?.outputs.labels).toEqual([]);
    expect(network.diff({ id: made.id, olds: read!.outputs, news: inputs, oldInputs: inputs }, ctx("n")).replaces).toEqual(["labels"]);
    await call("DELETE", `/networks/${made.id}`);
    expect(await network.read({ id: made.id, state: made.outputs, inputs }, ctx("n"))).toBeNull();
  });

  it("§4 Delete: retries 'has active endpoints' (≥5 s apart, up to 30 s) until the network is free; a missing network counts as removed", async () => {
    const inputs = checked(network, { name: `${P}-busy` });
    const made = await network.create(inputs, ctx("n"));
    const c = await call<{ Id: string }>("POST", "/containers/create", {
      query: { name: `${P}-busy-user` },
      body: { Image: "berth/debian:bookworm", Cmd: ["sleep", "600"], HostConfig: { NetworkMode: `${P}-busy` } },
    });
    await call("POST", `/containers/${c.Id}/start`);
    const t0 = Date.now();
    const deleting = network.delete({ id: made.id, state: made.outputs, oldInputs: inputs }, ctx("n"));
    await sleep(3000);
    await call("DELETE", `/containers/${c.Id}`, { query: { force: true } });
    await deleting;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(6500);
    await expect(call("GET", `/networks/${made.id}`)).rejects.toThrow(/not found/);
    await network.delete({ id: made.id, state: made.outputs, oldInputs: inputs }, ctx("n"));
  });
});

// ---------------------------------------------------------------------------------------------
describe("§5 Volume", () => {
  it.each([
    ["name", { name: `${P}-v2` }],
    ["driver", { driver: "other" }],
    ["driverOpts", { driverOpts: { type: "tmpfs" } }],
    ["labels", { labels: [{ label: "a", value: "2" }] }],
  ] as Array<[string, Props]>)("§5 replace: a change to `%s` replaces", (prop, change) => {
    const olds = checked(volume, { name: `${P}-v`, labels: [{ label: "a", value: "1" }] });
    const state = { ...olds, driver: "local", mountpoint: "/m" };
    const news = checked(volume, { name: `${P}-v`, labels: [{ label: "a", value: "1" }], ...change }, olds);
    expect(volume.diff({ id: `${P}-v`, olds: state, news, oldInputs: olds }, ctx("v")).replaces).toEqual([prop]);
  });

  it("§5 Create: the ID is the volume name; an existing name with the same driver is handed back as is (its labels read back)", async () => {
    await call("POST", "/volumes/create", { body: { Name: `${P}-existing`, Labels: { owner: "someone-else" } } });
    const inputs = checked(volume, { name: `${P}-existing`, labels: [{ label: "owner", value: "berth" }] });
    const made = await volume.create(inputs, ctx("v"));
    expect(made.id).toBe(`${P}-existing`);
    expect(made.outputs).toMatchObject({ driver: "local", labels: [{ label: "owner", value: "someone-else" }] });
    expect(made.outputs.mountpoint).toMatch(/_data$/);
    // So every later `up` plans a replace that adopts the same volume again.
    expect(volume.diff({ id: made.id, olds: made.outputs, news: inputs, oldInputs: inputs }, ctx("v")).replaces).toEqual(["labels"]);
  });

  it("§5 Read: labels, driver, driverOpts, mountpoint read back; a volume that is gone is dropped", async () => {
    const inputs = checked(volume, { name: `${P}-opts`, driverOpts: { type: "tmpfs", device: "tmpfs" } });
    const made = await volume.create(inputs, ctx("v"));
    const read = await volume.read({ id: made.id, state: made.outputs, inputs }, ctx("v"));
    expect(read?.outputs).toMatchObject({ name: `${P}-opts`, driver: "local", driverOpts: { type: "tmpfs", device: "tmpfs" }, labels: [] });
    await call("DELETE", `/volumes/${made.id}`);
    expect(await volume.read({ id: made.id, state: made.outputs, inputs }, ctx("v"))).toBeNull();
  });

  it("§5 Delete: VolumeRemove(force) retried while 'volume is in use', until it is free", async () => {
    const inputs = checked(volume, { name: `${P}-inuse` });
    const made = await volume.create(inputs, ctx("v"));
    const c = await call<{ Id: string }>("POST", "/containers/create", {
      query: { name: `${P}-inuse-user` },
      body: { Image: "berth/debian:bookworm", Cmd: ["sleep", "600"], HostConfig: { Binds: [`${P}-inuse:/data`] } },
    });
    const deleting = volume.delete({ id: made.id, state: made.outputs, oldInputs: inputs }, ctx("v"));
    await sleep(3000);
    await call("DELETE", `/containers/${c.Id}`, { query: { force: true } });
    await deleting;
    await expect(call("GET", `/volumes/${made.id}`)).rejects.toThrow(/no such volume/);
  });
});

// ---------------------------------------------------------------------------------------------
describe("bridge mechanics behind §0 and §10", () => {
  it("§0/§10 refresh rebuilds the inputs from the state and keeps only unchanged keys in __defaults", async () => {
    const inputs = bridgeCheck({ provider: "docker", token: "t", inputs: { a: "string", b: "boolean" }, defaults: { b: true }, autoNamed: true }, { a: "x" }, undefined, cctx("r")).inputs;
    expect(inputs.__defaults).toEqual(["b", "name"]);
    const refreshed = refreshInputs(inputs, { a: "y", b: false, name: inputs.name! });
    expect(refreshed).toEqual({ a: "y", b: false, name: inputs.name, __defaults: ["name"] });
  });

  it("§1/§2 RemoteImage Delete builds the client (pings) first, even when keepLocally makes it a no-op", async () => {
    const err = await remoteImage.delete({ id: "x", state: { name: "x", keepLocally: true }, oldInputs: {} }, ctx("i", NOWHERE)).catch((e: Error) => e.message);
    expect(err).toMatch(new RegExp(`^deleting ${urnOf("i").replace(/[.$]/g, "\\$&")}: ${tfRe("")}failed to create Docker client: Error pinging Docker server`));
  });
});
