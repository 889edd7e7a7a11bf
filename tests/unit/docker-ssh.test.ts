import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dockerSshOptions, knownHostsLine } from "../../config/docker-ssh";
import { HOST_KEY } from "./fixtures";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
const dirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "berth-docker-ssh-"));
  dirs.push(d);
  return path.join(d, "ssh", "berth");
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe("the docker provider's ssh options", () => {
  it("writes the secret key and the host key to files only the user can read, and names them", () => {
    const directory = tempDir();
    const opts = dockerSshOptions({ address: "203.0.113.10", port: 22, hostKey: `${HOST_KEY} root@server`, privateKey: KEY, directory });
    const identity = opts[opts.indexOf("-i") + 1]!;
    const knownHosts = opts.find((o) => o.startsWith("UserKnownHostsFile="))!.slice("UserKnownHostsFile=".length);
    expect(opts).toEqual(["-i", identity, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`]);
    expect(path.dirname(identity)).toBe(directory);
    expect(fs.readFileSync(identity, "utf8")).toBe(`${KEY}\n`);
    expect(fs.readFileSync(knownHosts, "utf8")).toBe(`203.0.113.10 ${HOST_KEY}\n`);
    expect([mode(directory), mode(identity), mode(knownHosts)]).toEqual([0o700, 0o600, 0o600]);
  });

  it("gives the same options on every run, and new files for a new key", () => {
    const directory = tempDir();
    const spec = { address: "203.0.113.10", port: 2222, hostKey: HOST_KEY, privateKey: KEY, directory };
    const first = dockerSshOptions(spec);
    expect(dockerSshOptions(spec)).toEqual(first);
    const rotated = dockerSshOptions({ ...spec, privateKey: KEY.replace("AAAAA", "BBBBB") });
    expect(rotated[1]).not.toBe(first[1]);
    expect(fs.readdirSync(directory).filter((f) => !f.endsWith(".partial")).sort()).toHaveLength(3);
  });

  it("uses an operator's key file as it is", () => {
    const opts = dockerSshOptions({ address: "h.example.com", port: 22, hostKey: HOST_KEY, privateKeyFile: "/home/op/.ssh/deploy", directory: tempDir() });
    expect(opts.slice(0, 2)).toEqual(["-i", "/home/op/.ssh/deploy"]);
  });

  it("looks the host up as ssh does: bare on port 22, [host]:port elsewhere", () => {
    expect(knownHostsLine("203.0.113.10", 22, `${HOST_KEY} comment`)).toBe(`203.0.113.10 ${HOST_KEY}\n`);
    expect(knownHostsLine("127.0.0.1", 2222, HOST_KEY)).toBe(`[127.0.0.1]:2222 ${HOST_KEY}\n`);
  });
});
