/**
 * Image references as the docker/docker v28.5.2 client reads them before a pull (SEMANTICS.md §2):
 * `ImagePull(ref)` parses the reference with distribution/reference v0.6.0's
 * `ParseNormalizedNamed` and sends `fromImage` = the normalized name and `tag` = the digest when
 * the reference has one, else its tag, else `latest` (moby v28.5.2 client/image_pull.go:22-64;
 * KD go.mod:13-14 pins both). A reference it cannot parse fails before any request is sent.
 *
 * Normalization (distribution/reference v0.6.0 normalize.go:56-80, 126-171): the first path
 * element is a registry when it is `localhost`, contains `.` or `:`, or has an uppercase letter;
 * otherwise the registry is `docker.io`; `index.docker.io` becomes `docker.io`; a one-element
 * name on docker.io gets `library/`. The grammar is that of regexp.go (v0.6.0 lines 21-58),
 * written out here again.
 */

const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[(?:[a-fA-F0-9:]+)\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
/** Hex lengths of the digest algorithms go-digest knows. */
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const NAME_MAX = 255;

export interface NamedReference {
  /** The normalized name, `ref.Name()`: `docker.io/library/nginx`, `127.0.0.1:5000/app`. */
  name: string;
  tag?: string;
  digest?: string;
}

/** splitDockerDomain: `[domain, remainder]`, docker.io and `library/` filled in. */
function splitDockerDomain(s: string): [string, string] {
  const slash = s.indexOf("/");
  if (slash === -1) return ["docker.io", `library/${s}`];
  const first = s.slice(0, slash);
  let domain = "docker.io";
  let rest = s;
  if (first === "index.docker.io") rest = s.slice(slash + 1);
  else if (first === "localhost" || /[.:]/.test(first) || first.toLowerCase() !== first) [domain, rest] = [first, s.slice(slash + 1)];
  if (domain === "docker.io" && !rest.includes("/")) rest = `library/${rest}`;
  return [domain, rest];
}

/** go-digest's Parse/Validate, for the algorithms it registers. */
function validateDigest(d: string): void {
  const colon = d.indexOf(":");
  const alg = d.slice(0, colon);
  const hex = d.slice(colon + 1);
  if (!(alg in DIGEST_HEX)) throw new Error("unsupported digest algorithm");
  if (!/^[a-f0-9]+$/.test(hex)) throw new Error("invalid checksum digest format");
  if (hex.length !== DIGEST_HEX[alg]) throw new Error("invalid checksum digest length");
}

/** `reference.ParseNormalizedNamed`, with its error texts. */
export function parseNormalizedNamed(s: string): NamedReference {
  if (IDENTIFIER.test(s)) throw new Error(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(":");
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) throw new Error(`invalid reference format: repository name (${remote}) must be lowercase`);
  const full = `${domain}/${remainder}`;
  const m = REFERENCE.exec(full);
  if (!m) {
    if (REFERENCE.test(full.toLowerCase())) throw new Error("repository name must be lowercase");
    throw new Error("invalid reference format");
  }
  const name = m[1]!;
  const path = name.slice(domain.length + 1);
  if (path.length > NAME_MAX) throw new Error(`repository name must not be more than ${NAME_MAX} characters`);
  if (m[3]) validateDigest(m[3]);
  return { name, ...(m[2] ? { tag: m[2] } : {}), ...(m[3] ? { digest: m[3] } : {}) };
}

/** The `POST /images/create` query ImagePull sends for a reference (no `platform`, no `all`). */
export function pullQuery(imageName: string): { fromImage: string; tag: string } {
  const ref = parseNormalizedNamed(imageName);
  return { fromImage: ref.name, tag: ref.digest ?? ref.tag ?? "latest" };
}
