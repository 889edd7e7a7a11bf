/**
 * What the docker provider's `ssh://` transport needs on the machine running Pulumi. That transport
 * is docker/cli's ssh helper: it runs the local `ssh` binary with the provider's `sshOpts`, in a new
 * session with no terminal (SEMANTICS.md §1), so it can neither prompt for a host key nor use a key
 * that exists only in Pulumi config. berth writes the key and the host key into files and names them
 * in `sshOpts`: the same key and the same host check as the Command connections.
 *
 * The files are named by their content, so the options (kept in state as the provider's config) are
 * the same on every run and a new key is a new file. They stay: `pulumi destroy` and the deletes at
 * the end of an `up` run after the program has exited, from the options in state.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface DockerSshSpec {
  /** Server address and SSH port, as in the `ssh://` URL. */
  address: string;
  port: number;
  /** The server's host key line (`ssh-ed25519 AAAA...`). */
  hostKey: string;
  /** A key file the operator keeps; used as is. */
  privateKeyFile?: string;
  /** Else the key itself (from the secret `berth:sshPrivateKey`), written to a file only the user can read. */
  privateKey?: string;
  /**
   * Directory for the files.
   * @default ~/.ssh/berth
   */
  directory?: string;
}

const digest = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

function writePrivate(file: string, content: string): void {
  // Written beside and renamed, so a concurrent run never reads half a key.
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, content, { mode: 0o600 });
  fs.renameSync(partial, file);
}

/** The `known_hosts` line for the host as ssh looks it up: bare on port 22, `[host]:port` otherwise. */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
  const [type, blob] = hostKey.trim().split(/\s+/);
  return `${port === 22 ? address : `[${address}]:${port}`} ${type} ${blob}\n`;
}

/** Writes what is missing and returns the `sshOpts` for the docker provider. */
export function dockerSshOptions(spec: DockerSshSpec): string[] {
  const directory = spec.directory ?? path.join(os.homedir(), ".ssh", "berth");
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  fs.chmodSync(directory, 0o700);
  const line = knownHostsLine(spec.address, spec.port, spec.hostKey);
  const knownHosts = path.join(directory, `known_hosts-${digest(line)}`);
  if (!fs.existsSync(knownHosts) || fs.readFileSync(knownHosts, "utf8") !== line) writePrivate(knownHosts, line);
  let identity = spec.privateKeyFile;
  if (identity === undefined) {
    if (spec.privateKey === undefined) throw new Error("dockerSshOptions: privateKeyFile or privateKey is required");
    // ssh refuses a key file without a final newline or with group/other access.
    const key = spec.privateKey.endsWith("\n") ? spec.privateKey : `${spec.privateKey}\n`;
    identity = path.join(directory, `id-${digest(key)}`);
    if (!fs.existsSync(identity) || fs.readFileSync(identity, "utf8") !== key) writePrivate(identity, key);
  }
  return [
    "-i", identity,
    // Only that key: an agent or ~/.ssh keys would make the login depend on the machine.
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${knownHosts}`,
  ];
}
