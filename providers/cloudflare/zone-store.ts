/**
 * The stand-in's "Cloudflare account": one JSON file that holds the zones with their DNS records,
 * and the Origin CA certificates issued. Cloudflare's API is unreachable here, so this file is
 * what the stand-in reads and writes where the real provider calls the API, and what tests (and
 * people) read to see the records as "Cloudflare" has them.
 *
 * Where: `$BERTH_CLOUDFLARE_STATE` if set, else
 * `${XDG_STATE_HOME:-$HOME/.local/state}/berth/cloudflare/zones.json`. The stand-in Origin CA's
 * key and certificate live next to it (`origin-ca.key`, `origin-ca.pem`, see `origin-ca.ts`).
 *
 * Zones are never created by the provider, as on Cloudflare: a stack's zone must be declared
 * first (`declareZone`, or `zones-cli.ts zone <id> <name>`). A record in an undeclared zone fails
 * the way the API fails for a zone id the token cannot see.
 *
 * Several plugin processes may run at once (one per provider instance and per engine), so every
 * change happens under a lock file taken with O_EXCL, and the file is replaced atomically
 * (temporary file + rename): a reader without the lock always sees a whole file.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A DNS record as the API stores it: the name fully qualified. */
export interface RecordEntry {
  id: string;
  name: string;
  type: string;
  content: string | null;
  proxied: boolean;
  proxiable: boolean;
  ttl: number;
  comment: string | null;
  tags: string[];
  priority: number | null;
  createdOn: string;
  modifiedOn: string;
  commentModifiedOn: string | null;
  tagsModifiedOn: string | null;
}

export interface ZoneEntry {
  /** The zone's apex name, e.g. `example.com`. */
  name: string;
  records: Record<string, RecordEntry>;
}

/** An Origin CA certificate as issued; a revoked one stays, with `revokedAt`, for inspection. */
export interface CertificateEntry {
  id: string;
  certificate: string;
  hostnames: string[];
  requestType: string;
  requestedValidity: number;
  csr: string;
  /** In the API's own format, Go's `time.Time.String()` (see origin-ca-certificate.ts). */
  expiresOn: string;
  revokedAt?: string;
}

export interface ZoneFile {
  zones: Record<string, ZoneEntry>;
  certificates: Record<string, CertificateEntry>;
}

/** The zone file's path, read from the environment at each call (tests point it elsewhere). */
export function storePath(): string {
  if (process.env.BERTH_CLOUDFLARE_STATE) return path.resolve(process.env.BERTH_CLOUDFLARE_STATE);
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return path.join(base, "berth", "cloudflare", "zones.json");
}

/** A new identifier in Cloudflare's shape: 32 lowercase hex characters. */
export function newId(): string {
  return randomBytes(16).toString("hex");
}

function empty(): ZoneFile {
  return { zones: {}, certificates: {} };
}

/** The current contents, without the lock (writes are atomic renames, so this is never torn). */
export function readStore(file = storePath()): ZoneFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return empty();
    throw e;
  }
  const parsed = JSON.parse(text) as Partial<ZoneFile>;
  return { zones: parsed.zones ?? {}, certificates: parsed.certificates ?? {} };
}

function writeStore(file: string, data: ZoneFile): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

const LOCK_WAIT_MS = 60_000;
/** A lock older than this is left over from a killed process (no operation holds it this long). */
const LOCK_STALE_MS = 120_000;

/**
 * The lock's inode if it is left over from a process that is gone (its pid is dead, or it is older
 * than any operation takes), `false` if it is held, `undefined` if it vanished meanwhile (retry).
 */
function leftOver(lock: string): number | false | undefined {
  let text: string;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(lock);
    text = fs.readFileSync(lock, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  if (Date.now() - stat.mtimeMs > LOCK_STALE_MS) return stat.ino;
  const pid = Number(text.split("\n")[0]);
  // Empty: the holder has created it and not yet written its pid.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH" ? stat.ino : false;
  }
}

/**
 * Removes a left-over lock: moved aside under a unique name first, so that of several processes
 * that found it stale only one removes it; if what was moved is not the stale file (someone took
 * the lock afresh meanwhile), it is put back.
 */
function removeLeftOver(lock: string, ino: number): void {
  const aside = `${lock}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
  try {
    fs.renameSync(lock, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (fs.statSync(aside).ino !== ino) {
    try {
      fs.linkSync(aside, lock);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  fs.rmSync(aside, { force: true });
}

async function acquire(lock: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = fs.openSync(lock, "wx", 0o644);
      fs.writeSync(fd, `${process.pid}\n${new Date().toISOString()}\n`);
      fs.closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const stale = leftOver(lock);
    if (stale === undefined) continue;
    if (stale !== false) {
      removeLeftOver(lock, stale);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the cloudflare stand-in could not lock ${lock} within ${LOCK_WAIT_MS / 1000} s (held by another process)`);
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
  }
}

/**
 * Runs `change` on the contents under the lock and writes the result back atomically. What
 * `change` returns is passed on; if it throws, nothing is written.
 */
export async function updateStore<T>(change: (data: ZoneFile, dir: string) => T | Promise<T>, file = storePath()): Promise<T> {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const lock = `${file}.lock`;
  await acquire(lock);
  try {
    const data = readStore(file);
    const result = await change(data, dir);
    writeStore(file, data);
    return result;
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * Declares a zone (what adding a site to a Cloudflare account does). Idempotent for the same name;
 * a different name for a known id is refused, since the records' names depend on it.
 */
export async function declareZone(zoneId: string, name: string, file = storePath()): Promise<void> {
  if (!/^[0-9a-f]{32}$/.test(zoneId)) throw new Error(`a zone id is 32 lowercase hex characters, got ${JSON.stringify(zoneId)}`);
  const apex = name.replace(/\.$/, "").toLowerCase();
  if (!/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]+$/.test(apex)) throw new Error(`not a zone name: ${JSON.stringify(name)}`);
  await updateStore((data) => {
    const known = data.zones[zoneId];
    if (known && known.name !== apex) throw new Error(`zone ${zoneId} is already declared as ${known.name}`);
    data.zones[zoneId] ??= { name: apex, records: {} };
  }, file);
}
