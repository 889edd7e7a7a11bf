/**
 * A private registry for tests: `berth/registry:2` (Debian's docker-registry, images/registry/) on
 * the host network at 127.0.0.1:<free port>, every request behind htpasswd basic auth. Docker
 * treats 127.0.0.0/8 registries as insecure, so plain HTTP works without daemon config. `docker
 * login` and `docker push` run with a temporary DOCKER_CONFIG, so the machine's own Docker config
 * is never read or written. Everything made here (the container, the image references under the
 * registry's address, the temporary files) goes away with `remove()`.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import { execa } from "execa";

export interface TestRegistry {
  /** `127.0.0.1:<port>`: the registry part of image names, and the registryAuth address. */
  address: string;
  port: number;
  container: string;
  user: string;
  password: string;
  /** `docker` with the registry's own DOCKER_CONFIG (logged in). */
  docker(args: string[], opts?: { input?: string; reject?: boolean }): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Tags a local image as `<address>/<repo>:<tag>` and pushes it; returns the manifest digest the push printed. */
  push(localImage: string, repo: string, tag: string): Promise<string>;
  /** A tiny local image (one file, no binary) as `<address>/<repo>:<tag>`, not pushed. */
  importTiny(repo: string, tag: string, content: string): Promise<string>;
  /** Removes every local reference (tag or digest) under the registry's address. */
  forgetLocal(): Promise<void>;
  /** Stops and removes the registry and everything above. */
  remove(): Promise<void>;
}

/** A TCP port nothing listens on right now (the kernel's pick). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.end();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts a registry named `name` (the container's name), after building its image if needed. */
export async function startRegistry(opts: { repoRoot: string; name: string; user?: string; password?: string }): Promise<TestRegistry> {
  await execa("bash", ["scripts/images.sh", "ensure", "registry"], { cwd: opts.repoRoot, stdout: "ignore", stderr: "inherit" });
  const user = opts.user ?? "deploy";
  const password = opts.password ?? `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${opts.name}-`));
  const htpasswd = path.join(dir, "htpasswd");
  // The registry reads bcrypt lines only; a low cost keeps each request's check cheap.
  fs.writeFileSync(htpasswd, `${user}:${bcrypt.hashSync(password, 5)}\n`, { mode: 0o644 });
  const dockerConfig = path.join(dir, "docker-config");
  fs.mkdirSync(dockerConfig);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const container = opts.name;
  const docker: TestRegistry["docker"] = async (args, o = {}) => {
    const r = await execa("docker", args, { env: { DOCKER_CONFIG: dockerConfig }, input: o.input, reject: o.reject ?? true });
    return { exitCode: r.exitCode ?? 0, stdout: String(r.stdout), stderr: String(r.stderr) };
  };

  const forgetLocal = async () => {
    const refs = (await docker(["images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"])).stdout
      .split("\n")
      .filter((l) => l.startsWith(`${address}/`))
      .flatMap((l) => {
        const [repo, tag, digest] = l.split(" ");
        return [tag && tag !== "<none>" ? `${repo}:${tag}` : "", digest && digest !== "<none>" ? `${repo}@${digest}` : ""].filter(Boolean);
      });
    // Tags first: removing a repository's last tag also drops its digest references.
    for (const ref of [...refs.filter((r) => !r.includes("@")), ...refs.filter((r) => r.includes("@"))]) {
      await docker(["rmi", ref], { reject: false });
    }
  };

  await docker(["rm", "-f", "-v", container], { reject: false });
  await docker([
    "run",
    "-d",
    "--name",
    container,
    "--network",
    "host",
    "--label",
    "berth.test=registry",
    "-e",
    `REGISTRY_HTTP_ADDR=${address}`,
    "-v",
    `${htpasswd}:/etc/docker/registry/htpasswd:ro`,
    "berth/registry:2",
  ]);
  const end = Date.now() + 30_000;
  while (!(await answers(port))) {
    if (Date.now() > end) {
      const logs = await docker(["logs", container], { reject: false });
      throw new Error(`the registry did not listen on ${address}: ${logs.stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await docker(["login", "--username", user, "--password-stdin", address], { input: password });

  return {
    address,
    port,
    container,
    user,
    password,
    docker,
    async push(localImage, repo, tag) {
      const ref = `${address}/${repo}:${tag}`;
      await docker(["tag", localImage, ref]);
      const out = (await docker(["push", ref])).stdout;
      const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
      if (!digest) throw new Error(`docker push ${ref} printed no digest:\n${out}`);
      return digest;
    },
    async importTiny(repo, tag, content) {
      const ref = `${address}/${repo}:${tag}`;
      const src = fs.mkdtempSync(path.join(dir, "tiny-"));
      fs.writeFileSync(path.join(src, "content.txt"), content);
      const tar = await execa("tar", ["-C", src, "-c", "content.txt"], { encoding: "buffer" });
      await execa("docker", ["import", "-", ref], { input: tar.stdout, env: { DOCKER_CONFIG: dockerConfig } });
      return ref;
    },
    forgetLocal,
    async remove() {
      await forgetLocal();
      await docker(["rm", "-f", "-v", container], { reject: false });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
