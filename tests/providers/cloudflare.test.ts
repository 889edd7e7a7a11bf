/**
 * The cloudflare stand-in against SEMANTICS.md §0, §8 and §9, one case per rule. The cases call the
 * resource definitions directly, with a zone file of their own; the rules with real effects (the
 * zone file, certificates signed by the stand-in Origin CA) are checked on those effects. The last
 * block drives the stand-in through the real Pulumi engine with the `@pulumi/cloudflare` SDK.
 *
 * There is no cloudflare schema JSON here (SOURCES.md: not copied), so the conformance check reads
 * the SDK's own declarations, `node_modules/@pulumi/cloudflare/*.d.ts`.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CheckContext, OperationContext, ResourceDefinition } from "../../providers/runtime/definition";
import { type Props, UNKNOWN, type Value } from "../../providers/runtime/properties";
import type { PropertyTypes, TypeSpec } from "../../providers/runtime/types";
import type { CloudflareConfig } from "../../providers/cloudflare/api";
import { dnsRecord, plannedName } from "../../providers/cloudflare/dns-record";
import { apiTime, originCaCertificate } from "../../providers/cloudflare/origin-ca-certificate";
import { caCertificatePath } from "../../providers/cloudflare/origin-ca";
import { cloudflareProvider } from "../../providers/cloudflare/provider";
import { declareZone, readStore, storePath } from "../../providers/cloudflare/zone-store";
import { REPO } from "./stand-ins";

const ZONE = "0123456789abcdef0123456789abcdef";
const OTHER_ZONE = "fedcba9876543210fedcba9876543210";
const TOKEN_VALUE = "stand-in-test-token-0123456789abcdefghijklmnop";
const SDK = path.join(REPO, "node_modules/@pulumi/cloudflare");

type Ctx = OperationContext<CloudflareConfig> & { logs: Array<[string, string]> };

function context(opts: { preview?: boolean; credential?: boolean } = {}): Ctx {
  const logs: Array<[string, string]> = [];
  return {
    urn: "urn:pulumi:test::cf::cloudflare:index/dnsRecord:DnsRecord::r",
    name: "r",
    type: "cloudflare:index/dnsRecord:DnsRecord",
    preview: opts.preview ?? false,
    config: { hasCredential: opts.credential ?? true },
    log: async (severity, message) => {
      logs.push([severity, message]);
    },
    logs,
  };
}

const checkCtx: CheckContext = { urn: "urn:pulumi:test::cf::t::r", name: "r", type: "t", randomSeed: Buffer.alloc(0) };

const RECORD: Props = { zoneId: ZONE, name: "www", type: "A", content: "203.0.113.10", ttl: 1, proxied: true, comment: "managed by berth" };

function records(zoneId = ZONE) {
  return readStore().zones[zoneId]?.records ?? {};
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error("expected a rejection");
}

/** A CSR made with openssl, with its key, in `dir`. */
function makeCsr(dir: string, cn = "example.com"): string {
  const csr = path.join(dir, `${cn}.csr`);
  execFileSync("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, `${cn}.key`), "-subj", `/CN=${cn}`, "-out", csr], { stdio: "ignore" });
  return fs.readFileSync(csr, "utf8");
}

// ---------------------------------------------------------------------------------------------
// The SDK's declarations, as the conformance check reads them.

/** `pulumi.Input<pulumi.Input<string>[] | undefined>` → `{ array: "string" }`; objects → "object". */
function sdkType(text: string): TypeSpec | "object" {
  let t = text.replace(/\s*\|\s*undefined/g, "").trim();
  for (;;) {
    const m = /^pulumi\.(?:Input|Output)<(.*)>$/.exec(t);
    if (!m) break;
    t = m[1]!.replace(/\s*\|\s*undefined/g, "").trim();
  }
  if (t.endsWith("[]")) return { array: sdkType(t.slice(0, -2)) as TypeSpec };
  if (t === "string" || t === "number" || t === "boolean") return t;
  return "object";
}

/** Properties of `export interface <name>` or `export declare class <name>` in a .d.ts: name → type, and which are optional. */
function sdkBlock(file: string, name: string): Map<string, { type: TypeSpec | "object"; optional: boolean }> {
  const text = fs.readFileSync(path.join(SDK, file), "utf8");
  const start = new RegExp(`export (?:interface|declare class) ${name}\\b[^{]*\\{`).exec(text);
  if (!start) throw new Error(`${file} declares no ${name}`);
  const body = text.slice(start.index + start[0].length, text.indexOf("\n}", start.index));
  const out = new Map<string, { type: TypeSpec | "object"; optional: boolean }>();
  for (const m of body.matchAll(/^\s+(?:readonly\s+)?(\w+)(\??):\s*(pulumi\.(?:Input|Output)<.*>);$/gm)) {
    out.set(m[1]!, { type: sdkType(m[3]!), optional: m[2] === "?" });
  }
  return out;
}

const SDK_RESOURCES: Array<{ def: ResourceDefinition<CloudflareConfig>; file: string; cls: string; args: string }> = [
  { def: dnsRecord, file: "dnsRecord.d.ts", cls: "DnsRecord", args: "DnsRecordArgs" },
  { def: originCaCertificate, file: "originCaCertificate.d.ts", cls: "OriginCaCertificate", args: "OriginCaCertificateArgs" },
];

describe("the cloudflare stand-in against the @pulumi/cloudflare 6.17.0 SDK declarations", () => {
  it("declares the version the SDK asks for", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(SDK, "package.json"), "utf8")) as { version: string; pulumi: { name: string; version: string } };
    expect({ name: cloudflareProvider.name, version: cloudflareProvider.version }).toEqual({ name: pkg.pulumi.name, version: pkg.pulumi.version });
  });

  it.each(SDK_RESOURCES)("$cls: every input is a property of $args with the same type, and every SDK-required input is implemented", ({ def, file, cls, args }) => {
    const sdk = sdkBlock(file, args);
    const problems: string[] = [];
    for (const [k, t] of Object.entries(def.inputs as PropertyTypes)) {
      const s = sdk.get(k);
      if (!s) problems.push(`${k}: not in ${args}`);
      else if (JSON.stringify(s.type) !== JSON.stringify(t)) problems.push(`${k}: stand-in ${JSON.stringify(t)}, SDK ${JSON.stringify(s.type)}`);
    }
    for (const [k, s] of sdk) if (!s.optional && !(k in def.inputs)) problems.push(`${k}: required by ${args} but not implemented`);
    expect(problems, `${cls}`).toEqual([]);
  });

  it.each(SDK_RESOURCES)("$cls: every output (and every input, read back) is a property of the class with the same type", ({ def, file, cls }) => {
    const sdk = sdkBlock(file, cls);
    const problems: string[] = [];
    for (const [k, t] of Object.entries({ ...def.inputs, ...def.outputs } as PropertyTypes)) {
      const s = sdk.get(k);
      if (!s) problems.push(`${k}: not a property of ${cls}`);
      else if (JSON.stringify(s.type) !== JSON.stringify(t)) problems.push(`${k}: stand-in ${JSON.stringify(t)}, SDK ${JSON.stringify(s.type)}`);
    }
    expect(problems).toEqual([]);
  });

  it("implements exactly the two resource types berth uses, under the SDK's type tokens", () => {
    const token = (file: string) => /__pulumiType = '([^']+)'/.exec(fs.readFileSync(path.join(SDK, file.replace(".d.ts", ".js")), "utf8"))![1];
    expect(cloudflareProvider.resources.map((r) => r.token)).toEqual(SDK_RESOURCES.map((r) => token(r.file)));
  });
});

// ---------------------------------------------------------------------------------------------

describe("the cloudflare stand-in, rule by rule", () => {
  let dir: string;
  let savedToken: string | undefined;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-cf-test-"));
    process.env.BERTH_CLOUDFLARE_STATE = path.join(dir, "state", "zones.json");
    savedToken = process.env.CLOUDFLARE_API_TOKEN;
    delete process.env.CLOUDFLARE_API_TOKEN;
    await declareZone(ZONE, "example.com");
    await declareZone(OTHER_ZONE, "example.org");
  });

  afterEach(() => {
    delete process.env.BERTH_CLOUDFLARE_STATE;
    if (savedToken === undefined) delete process.env.CLOUDFLARE_API_TOKEN;
    else process.env.CLOUDFLARE_API_TOKEN = savedToken;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // ---- §0 ----------------------------------------------------------------------------------

  it("§0 secrets: acceptSecrets false and supportsPreview true, like the plugin-framework bridge; no output is marked secret by the provider", () => {
    expect({ acceptSecrets: cloudflareProvider.acceptSecrets, supportsPreview: cloudflareProvider.supportsPreview }).toEqual({ acceptSecrets: false, supportsPreview: true });
    for (const r of cloudflareProvider.resources) expect(r.secretOutputs ?? []).toEqual([]);
  });

  it("§0 provider config: only apiToken (and version); other keys are refused, a malformed token fails CheckConfig, and the token comes back secret", () => {
    const ok = cloudflareProvider.config.check({ apiToken: TOKEN_VALUE, version: "6.17.0" });
    expect(ok.failures).toEqual([]);
    expect(JSON.stringify(ok.inputs.apiToken)).toContain("1b47061264138c4ac30d75fd1eb44270");
    expect(cloudflareProvider.config.check({ apiToken: "short" }).failures.map((f) => f.reason)).toEqual([
      "Attribute api_token API tokens must only contain characters a-z, A-Z, 0-9, hyphens and underscores",
    ]);
    expect(cloudflareProvider.config.check({ apiToken: UNKNOWN }).failures).toEqual([]);
    for (const key of ["apiKey", "email", "apiUserServiceKey", "baseUrl"]) {
      expect(cloudflareProvider.config.check({ [key]: "x" }).failures.map((f) => f.property), key).toEqual([key]);
    }
  });

  it("§0 provider config change: in place, never replaces", () => {
    expect(cloudflareProvider.config.diff({ apiToken: TOKEN_VALUE }, { apiToken: `${TOKEN_VALUE}x` })).toEqual({ changes: true, replaces: [] });
  });

  it("§0 credentials: no token is fine at Configure, and the first API call fails (CLOUDFLARE_API_TOKEN counts as a token)", async () => {
    expect(cloudflareProvider.config.parse({})).toEqual({ hasCredential: false });
    const message = await rejection(dnsRecord.create(RECORD, context({ credential: false })));
    expect(message).toContain('failed to make http request: POST "https://api.cloudflare.com/client/v4/zones/');
    expect(message).toContain('"code":9106');
    expect(Object.keys(records())).toEqual([]);
    process.env.CLOUDFLARE_API_TOKEN = TOKEN_VALUE;
    expect(cloudflareProvider.config.parse({})).toEqual({ hasCredential: true });
  });

  it("§0 credentials: the token is never written anywhere by the stand-in", async () => {
    const config = cloudflareProvider.config.parse({ apiToken: TOKEN_VALUE });
    expect(JSON.stringify(config)).not.toContain(TOKEN_VALUE);
    const ctx = { ...context(), config };
    await dnsRecord.create(RECORD, ctx);
    await originCaCertificate.create({ csr: makeCsr(dir), hostnames: ["example.com"], requestType: "origin-rsa" }, ctx);
    for (const f of fs.readdirSync(path.dirname(storePath()))) expect(fs.readFileSync(path.join(path.dirname(storePath()), f), "utf8")).not.toContain(TOKEN_VALUE);
  });

  it("§0 preview: Create and Update have no side effects and predict UNKNOWN for what the API computes", async () => {
    const c = await dnsRecord.create(RECORD, context({ preview: true }));
    expect(c.outputs).toMatchObject({ name: "www", proxied: true, createdOn: UNKNOWN, modifiedOn: UNKNOWN, proxiable: UNKNOWN });
    const o = await originCaCertificate.create({ csr: "x", hostnames: ["example.com"], requestType: "origin-rsa" }, context({ preview: true }));
    expect(o.outputs).toMatchObject({ requestedValidity: 5475, certificate: UNKNOWN, expiresOn: UNKNOWN });
    expect(readStore()).toEqual({ zones: expect.any(Object), certificates: {} });
    expect(Object.keys(records())).toEqual([]);
    expect(fs.existsSync(caCertificatePath())).toBe(false);
  });

  // ---- §8 DnsRecord --------------------------------------------------------------------------

  it("§8 required inputs: name, type and ttl", () => {
    const failures = dnsRecord.check({ zoneId: ZONE, content: "203.0.113.10" }, undefined, checkCtx).failures.map((f) => f.property);
    expect(failures.sort()).toEqual(["name", "ttl", "type"]);
    expect(dnsRecord.check(RECORD, undefined, checkCtx).failures).toEqual([]);
  });

  it("§8 type: one of the record types, case-insensitively (OneOfCaseInsensitive)", () => {
    expect(dnsRecord.check({ ...RECORD, type: "aaaa" }, undefined, checkCtx).failures).toEqual([]);
    expect(dnsRecord.check({ ...RECORD, type: "ALIAS" }, undefined, checkCtx).failures.map((f) => f.property)).toEqual(["type"]);
  });

  it("§8 refused: data, settings, privateRouting (not implemented by the stand-in)", () => {
    for (const [k, v] of [["data", { tag: "issue" }], ["settings", { ipv4Only: true }], ["privateRouting", true]] as const) {
      expect(dnsRecord.check({ ...RECORD, [k]: v }, undefined, checkCtx).failures.map((f) => f.property), k).toEqual([k]);
    }
  });

  it.each([["zoneId", OTHER_ZONE], ["type", "AAAA"]] as const)("§8 replace: a change to `%s` replaces, create-before-delete (the engine default)", async (key, value) => {
    const { outputs } = await dnsRecord.create(RECORD, context());
    const d = dnsRecord.diff({ id: "x", olds: outputs, news: { ...RECORD, [key]: value }, oldInputs: RECORD }, context({ preview: true }));
    expect(d).toMatchObject({ changes: true, replaces: [key] });
    expect(d.deleteBeforeReplace ?? false).toBe(false);
    const unknown = dnsRecord.diff({ id: "x", olds: outputs, news: { ...RECORD, [key]: UNKNOWN }, oldInputs: RECORD }, context({ preview: true }));
    expect(unknown.replaces).toEqual([key]);
  });

  it.each([
    ["name", "api"],
    ["content", "203.0.113.11"],
    ["ttl", 300],
    ["proxied", false],
    ["comment", "changed"],
    ["priority", 10],
    ["tags", ["team:web"]],
  ] as Array<[string, Value]>)("§8 in place: a change to `%s` updates in place", async (key, value) => {
    const { outputs } = await dnsRecord.create(RECORD, context());
    const d = dnsRecord.diff({ id: "x", olds: outputs, news: { ...RECORD, [key]: value }, oldInputs: RECORD }, context({ preview: true }));
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
    expect(Object.keys(d.detailedDiff ?? {})).toEqual([key]);
  });

  it("§8 default: proxied defaults to false (leaving it out of a proxied record is a change, of a plain one is not)", async () => {
    const plain = await dnsRecord.create({ ...RECORD, proxied: false, ttl: 300 }, context());
    expect(plain.outputs.proxied).toBe(false);
    const { proxied: _p, ...withoutProxied } = RECORD;
    expect(dnsRecord.diff({ id: "x", olds: plain.outputs, news: { ...withoutProxied, ttl: 300 }, oldInputs: {} }, context()).changes).toBe(false);
    const proxied = await dnsRecord.create({ ...RECORD, name: "other" }, context());
    expect(dnsRecord.diff({ id: "x", olds: proxied.outputs, news: { ...withoutProxied, name: "other" }, oldInputs: {} }, context()).detailedDiff).toEqual({ proxied: "update" });
  });

  it("§8 create: proxied with a ttl other than 1 fails with `ttl must be set to 1 when proxied is true`, before any API call", async () => {
    const message = await rejection(dnsRecord.create({ ...RECORD, ttl: 300 }, context({ credential: false })));
    expect(message).toMatch(/^ttl must be set to 1 when `proxied` is true: /);
    expect(Object.keys(records())).toEqual([]);
  });

  it("§8 update: no proxied/ttl check, and the PUT is a full replacement of the record (a removed comment is cleared)", async () => {
    const { id, outputs } = await dnsRecord.create(RECORD, context());
    const news: Props = { ...RECORD, ttl: 300 };
    delete news.comment;
    const after = await dnsRecord.update({ id, olds: outputs, news, oldInputs: RECORD }, context());
    expect(records()[id]).toMatchObject({ ttl: 300, proxied: true, comment: null, commentModifiedOn: null, name: "www.example.com" });
    expect(after).toMatchObject({ ttl: 300, proxied: true });
    expect(after.comment).toBeUndefined();
  });

  it("§8 name: the API stores the FQDN; create keeps the configured name in state, refresh brings the FQDN, and a short name or `@` then plans no change", async () => {
    const www = await dnsRecord.create(RECORD, context());
    const apex = await dnsRecord.create({ ...RECORD, name: "@" }, context());
    const fqdn = await dnsRecord.create({ ...RECORD, name: "api.example.com" }, context());
    expect(Object.values(records()).map((r) => r.name).sort()).toEqual(["api.example.com", "example.com", "www.example.com"]);
    expect([www.outputs.name, apex.outputs.name, fqdn.outputs.name]).toEqual(["www", "@", "api.example.com"]);
    for (const [created, name] of [[www, "www"], [apex, "@"], [fqdn, "api.example.com"]] as const) {
      const read = await dnsRecord.read({ id: created.id, state: created.outputs, inputs: {} }, context());
      expect(read!.outputs.name).toBe(name === "@" ? "example.com" : name === "www" ? "www.example.com" : name);
      const d = dnsRecord.diff({ id: created.id, olds: read!.outputs, news: { ...RECORD, name }, oldInputs: {} }, context());
      expect(d.changes, name).toBe(false);
    }
  });

  it("§8 name: the normalisation is ModifyPlan's prefix rule, quirks included (`@` matches any stored name with a dot)", () => {
    expect(plannedName("www", "www.example.com")).toBe("www.example.com");
    expect(plannedName("@", "www.example.com")).toBe("www.example.com");
    expect(plannedName("api", "www.example.com")).toBe("api");
    expect(plannedName("www.example.com.", "www.example.com")).toBe("www.example.com.");
  });

  it("§8 CNAME content compares case-insensitively (other types do not)", async () => {
    const cname = await dnsRecord.create({ ...RECORD, type: "CNAME", name: "alias", content: "target.example.net" }, context());
    expect(dnsRecord.diff({ id: "x", olds: cname.outputs, news: { ...RECORD, type: "CNAME", name: "alias", content: "Target.Example.NET" }, oldInputs: {} }, context()).changes).toBe(false);
    const txt = await dnsRecord.create({ ...RECORD, type: "TXT", name: "txt", content: "Hello", proxied: false }, context());
    expect(dnsRecord.diff({ id: "x", olds: txt.outputs, news: { ...RECORD, type: "TXT", name: "txt", content: "hello", proxied: false }, oldInputs: {} }, context()).detailedDiff).toEqual({
      content: "update",
    });
  });

  it("§8 tags: empty and absent are the same; absent keeps what is stored (Optional+Computed)", async () => {
    const none = await dnsRecord.create(RECORD, context());
    expect(none.outputs.tags).toEqual([]);
    expect(dnsRecord.diff({ id: "x", olds: none.outputs, news: { ...RECORD, tags: [] }, oldInputs: {} }, context()).changes).toBe(false);
    const tagged = await dnsRecord.create({ ...RECORD, name: "t", tags: ["a:1", "b:2"] }, context());
    expect(dnsRecord.diff({ id: "x", olds: tagged.outputs, news: { ...RECORD, name: "t" }, oldInputs: {} }, context()).changes).toBe(false);
    expect(dnsRecord.diff({ id: "x", olds: tagged.outputs, news: { ...RECORD, name: "t", tags: ["b:2", "a:1"] }, oldInputs: {} }, context()).changes).toBe(false);
    expect(dnsRecord.diff({ id: "x", olds: tagged.outputs, news: { ...RECORD, name: "t", tags: [] }, oldInputs: {} }, context()).detailedDiff).toEqual({ tags: "update" });
  });

  it("§8 content is Optional+Computed: leaving it out keeps the stored value", async () => {
    const { outputs } = await dnsRecord.create(RECORD, context());
    const { content: _c, ...news } = RECORD;
    expect(dnsRecord.diff({ id: "x", olds: outputs, news, oldInputs: RECORD }, context()).changes).toBe(false);
  });

  it("§8 read/refresh: a record gone from the zone is dropped with the warning `Resource not found`", async () => {
    const { id, outputs } = await dnsRecord.create(RECORD, context());
    const present = await dnsRecord.read({ id, state: outputs, inputs: RECORD }, context());
    expect(present!.inputs).toMatchObject({ zoneId: ZONE, name: "www.example.com", type: "A", content: "203.0.113.10", ttl: 1, proxied: true });
    await dnsRecord.delete({ id, state: outputs, oldInputs: RECORD }, context());
    const ctx = context();
    expect(await dnsRecord.read({ id, state: outputs, inputs: RECORD }, ctx)).toBeNull();
    expect(ctx.logs).toEqual([["warning", expect.stringContaining("Resource not found")]]);
  });

  it("§8 read/refresh: what changed on Cloudflare comes back (Unmarshal of the whole record)", async () => {
    const { id, outputs } = await dnsRecord.create(RECORD, context());
    const file = storePath();
    const data = JSON.parse(fs.readFileSync(file, "utf8"));
    data.zones[ZONE].records[id].content = "203.0.113.99";
    fs.writeFileSync(file, JSON.stringify(data));
    const read = await dnsRecord.read({ id, state: outputs, inputs: RECORD }, context());
    expect(read!.outputs.content).toBe("203.0.113.99");
    expect(dnsRecord.diff({ id, olds: read!.outputs, news: RECORD, oldInputs: RECORD }, context()).detailedDiff).toEqual({ content: "update" });
  });

  it("§8 delete: removes the record; deleting a record already gone fails (no 404 case in Delete)", async () => {
    const { id, outputs } = await dnsRecord.create(RECORD, context());
    await dnsRecord.delete({ id, state: outputs, oldInputs: RECORD }, context());
    expect(records()[id]).toBeUndefined();
    expect(await rejection(dnsRecord.delete({ id, state: outputs, oldInputs: RECORD }, context()))).toContain("404 Not Found");
  });

  it("§8 zones: a record in a zone the account does not have fails like the API (404), nothing is written", async () => {
    const message = await rejection(dnsRecord.create({ ...RECORD, zoneId: "00000000000000000000000000000000" }, context()));
    expect(message).toContain("404 Not Found");
    expect(message).toContain("zone not found");
  });

  it("§8 API checks: a CNAME beside an A record, an A beside a CNAME, and an identical record are refused; A and AAAA content must be addresses", async () => {
    await dnsRecord.create(RECORD, context());
    expect(await rejection(dnsRecord.create({ ...RECORD, type: "CNAME", content: "x.example.net" }, context()))).toContain('"code":81053');
    expect(await rejection(dnsRecord.create(RECORD, context()))).toContain('"code":81057');
    await dnsRecord.create({ ...RECORD, name: "c", type: "CNAME", content: "x.example.net" }, context());
    expect(await rejection(dnsRecord.create({ ...RECORD, name: "c" }, context()))).toContain('"code":81054');
    expect(await rejection(dnsRecord.create({ ...RECORD, name: "v6", type: "AAAA", content: "203.0.113.10" }, context()))).toContain("valid IPv6 address");
    // A and AAAA at one name live together (what a type change's create-before-delete needs).
    await dnsRecord.create({ ...RECORD, type: "AAAA", content: "2001:db8::1" }, context());
    expect(Object.keys(records())).toHaveLength(3);
  });

  // ---- §9 OriginCaCertificate ----------------------------------------------------------------

  const CERT = (csr: string): Props => ({ csr, hostnames: ["example.com", "*.example.com"], requestType: "origin-rsa", requestedValidity: 7 });

  it("§9 check: required csr, requestType, hostnames; requestType and requestedValidity take only the allowed values", () => {
    expect(originCaCertificate.check({}, undefined, checkCtx).failures.map((f) => f.property).sort()).toEqual(["csr", "hostnames", "requestType"]);
    expect(originCaCertificate.check({ ...CERT("x"), requestType: "ORIGIN-ECC" }, undefined, checkCtx).failures).toEqual([]);
    expect(originCaCertificate.check({ ...CERT("x"), requestType: "origin-dsa" }, undefined, checkCtx).failures.map((f) => f.property)).toEqual(["requestType"]);
    for (const v of [7, 30, 90, 365, 730, 1095, 5475]) expect(originCaCertificate.check({ ...CERT("x"), requestedValidity: v }, undefined, checkCtx).failures).toEqual([]);
    expect(originCaCertificate.check({ ...CERT("x"), requestedValidity: 60 }, undefined, checkCtx).failures.map((f) => f.property)).toEqual(["requestedValidity"]);
  });

  it.each([
    ["csr", "-----BEGIN CERTIFICATE REQUEST-----\nother\n"],
    ["requestType", "origin-ecc"],
    ["hostnames", ["*.example.com", "example.com"]],
    ["requestedValidity", 30],
  ] as Array<[string, Value]>)("§9 replace: a change to `%s` replaces, create-before-delete", async (key, value) => {
    const csr = makeCsr(dir);
    const { outputs } = await originCaCertificate.create(CERT(csr), context());
    const d = originCaCertificate.diff({ id: "x", olds: outputs, news: { ...CERT(csr), [key]: value }, oldInputs: CERT(csr) }, context({ preview: true }));
    expect(d).toMatchObject({ changes: true, replaces: [key] });
    expect(d.deleteBeforeReplace ?? false).toBe(false);
  });

  it("§9 requestedValidity: defaults to 5475; left out after a configured other value it is an in-place update (RequiresReplaceIfConfigured) that Update leaves as it was", async () => {
    const csr = makeCsr(dir);
    const dflt = await originCaCertificate.create({ ...CERT(csr), requestedValidity: null }, context());
    expect(dflt.outputs.requestedValidity).toBe(5475);
    const { requestedValidity: _v, ...without } = CERT(csr);
    expect(originCaCertificate.diff({ id: "x", olds: dflt.outputs, news: without, oldInputs: without }, context()).changes).toBe(false);
    const seven = await originCaCertificate.create(CERT(csr), context());
    const d = originCaCertificate.diff({ id: seven.id, olds: seven.outputs, news: without, oldInputs: CERT(csr) }, context());
    expect(d).toEqual({ changes: true, replaces: [], detailedDiff: { requestedValidity: "update" } });
    expect(await originCaCertificate.update({ id: seven.id, olds: seven.outputs, news: without, oldInputs: CERT(csr) }, context())).toEqual(seven.outputs);
  });

  it("§9 create: a real certificate for the CSR, signed by the stand-in Origin CA, for the hostnames in order and requestedValidity days; outputs certificate and expiresOn", async () => {
    const csr = makeCsr(dir);
    const { id, outputs } = await originCaCertificate.create(CERT(csr), context());
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const pem = outputs.certificate as string;
    const certFile = path.join(dir, "cert.pem");
    fs.writeFileSync(certFile, pem);
    expect(execFileSync("openssl", ["verify", "-CAfile", caCertificatePath(), certFile], { encoding: "utf8" }).trim()).toBe(`${certFile}: OK`);
    const x = new X509Certificate(pem);
    expect(x.subjectAltName).toBe("DNS:example.com, DNS:*.example.com");
    expect(x.serialNumber.toLowerCase().replace(/^0+/, "")).toBe(id.replace(/^0+/, ""));
    const days = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 86_400_000;
    expect(days).toBe(7);
    // The certificate is for the CSR's key.
    const keyPub = execFileSync("openssl", ["pkey", "-in", path.join(dir, "example.com.key"), "-pubout"], { encoding: "utf8" });
    expect(x.publicKey.export({ type: "spki", format: "pem" })).toBe(keyPub);
    expect(outputs.expiresOn).toBe(apiTime(new Date(x.validTo)));
    expect(outputs.expiresOn).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
    expect(outputs).toMatchObject({ csr, hostnames: ["example.com", "*.example.com"], requestType: "origin-rsa", requestedValidity: 7 });
  });

  it("§9 create: hostnames must belong to a zone on the account, and the CSR must be readable", async () => {
    const csr = makeCsr(dir);
    expect(await rejection(originCaCertificate.create({ ...CERT(csr), hostnames: ["example.net"] }, context()))).toContain("does not belong to a zone");
    expect(await rejection(originCaCertificate.create(CERT("not a csr"), context()))).toContain("CSR");
    expect(readStore().certificates).toEqual({});
  });

  it("§9 update is empty: the state stays as it was", async () => {
    const csr = makeCsr(dir);
    const { id, outputs } = await originCaCertificate.create(CERT(csr), context());
    expect(await originCaCertificate.update({ id, olds: outputs, news: CERT(csr), oldInputs: CERT(csr) }, context())).toEqual(outputs);
  });

  it("§9 read: keeps csr and requestedValidity from state, the rest from the API; a certificate gone is dropped with `Resource not found`", async () => {
    const csr = makeCsr(dir);
    const { id, outputs } = await originCaCertificate.create(CERT(csr), context());
    const read = await originCaCertificate.read({ id, state: { ...outputs, csr: "state csr", requestedValidity: 30 }, inputs: {} }, context());
    expect(read!.outputs).toMatchObject({ csr: "state csr", requestedValidity: 30, certificate: outputs.certificate, expiresOn: outputs.expiresOn, hostnames: outputs.hostnames });
    const file = storePath();
    const data = JSON.parse(fs.readFileSync(file, "utf8"));
    delete data.certificates[id];
    fs.writeFileSync(file, JSON.stringify(data));
    const ctx = context();
    expect(await originCaCertificate.read({ id, state: outputs, inputs: {} }, ctx)).toBeNull();
    expect(ctx.logs).toEqual([["warning", expect.stringContaining("Resource not found")]]);
  });

  it("§9 delete revokes: the certificate is marked revoked, a refresh then drops it, and a second revoke fails", async () => {
    const csr = makeCsr(dir);
    const { id, outputs } = await originCaCertificate.create(CERT(csr), context());
    await originCaCertificate.delete({ id, state: outputs, oldInputs: CERT(csr) }, context());
    expect(readStore().certificates[id]!.revokedAt).toMatch(/^\d{4}-/);
    expect(await originCaCertificate.read({ id, state: outputs, inputs: {} }, context())).toBeNull();
    expect(await rejection(originCaCertificate.delete({ id, state: outputs, oldInputs: CERT(csr) }, context()))).toContain("404 Not Found");
  });

  it("§9 create without credentials fails at the API call and issues nothing", async () => {
    expect(await rejection(originCaCertificate.create(CERT(makeCsr(dir)), context({ credential: false })))).toContain('"code":9106');
    expect(readStore().certificates).toEqual({});
  });

  it("zone file: concurrent writers (separate processes) lose no record", async () => {
    const script = `
      import { dnsRecord } from ${JSON.stringify(path.join(REPO, "providers/cloudflare/dns-record.ts"))};
      const n = Number(process.argv[2]);
      const ctx = { urn: "u", name: "r", type: "t", preview: false, config: { hasCredential: true }, log: async () => {} };
      for (let i = 0; i < 10; i++) await dnsRecord.create({ zoneId: ${JSON.stringify(ZONE)}, name: "p" + n + "-" + i, type: "TXT", content: "x", ttl: 1 }, ctx);
    `;
    const file = path.join(dir, "writer.mts");
    fs.writeFileSync(file, script);
    await Promise.all(
      [1, 2, 3, 4].map((n) => execa("node", ["--import", `file://${REPO}/node_modules/tsx/dist/loader.mjs`, file, String(n)], { env: { ...process.env } })),
    );
    expect(Object.keys(records())).toHaveLength(40);
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * The stand-in under the real engine, with the `@pulumi/cloudflare` SDK: up, an in-place update, a
 * replace, a refresh that drops a record deleted on "Cloudflare", destroy.
 */
describe("the cloudflare stand-in under the real Pulumi engine", () => {
  let work: string;
  let env: Record<string, string>;
  const state = () => path.join(work, "state", "zones.json");

  const pulumi = async (...args: string[]) => execa("pulumi", args, { cwd: path.join(work, "prog"), env, extendEnv: false, reject: false, all: true });
  const ok = async (...args: string[]) => {
    const r = await pulumi(...args);
    if (r.exitCode !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.all}`);
    return r.all ?? "";
  };
  const previewSummary = async () => (JSON.parse(await ok("preview", "--json")) as { changeSummary: Record<string, number> }).changeSummary;
  const zoneRecords = () => Object.values((JSON.parse(fs.readFileSync(state(), "utf8")) as { zones: Record<string, { records: Record<string, { type: string; content: string; name: string }> }> }).zones[ZONE]!.records);

  beforeAll(async () => {
    const engineBin = (await execa("bash", ["scripts/engine.sh", "ensure"], { cwd: REPO })).stdout.trim().split("\n").pop()!;
    work = fs.mkdtempSync(path.join(os.tmpdir(), "berth-cf-engine-"));
    for (const d of ["bin", "prog", "backend", "home", "state"]) fs.mkdirSync(path.join(work, d));
    fs.writeFileSync(
      path.join(work, "bin", "pulumi-resource-cloudflare"),
      `#!/bin/sh\nexec node --import file://${REPO}/node_modules/tsx/dist/loader.mjs ${REPO}/providers/cloudflare/main.ts "$@"\n`,
      { mode: 0o755 },
    );
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(work, "prog", "node_modules"));
    fs.writeFileSync(path.join(work, "prog", "Pulumi.yaml"), "name: cfstandin\nruntime:\n  name: nodejs\nmain: index.js\n");
    fs.writeFileSync(
      path.join(work, "prog", "index.js"),
      `const fs = require("fs");
const pulumi = require("@pulumi/pulumi");
const cloudflare = require("@pulumi/cloudflare");
const cfg = new pulumi.Config();
const rec = new cloudflare.DnsRecord("www", { zoneId: cfg.require("zoneId"), name: "www", type: cfg.get("type") || "A", content: cfg.require("content"), ttl: 1, proxied: true, comment: "managed by berth" });
const cert = new cloudflare.OriginCaCertificate("origin", { csr: fs.readFileSync(cfg.require("csrFile"), "utf8"), hostnames: ["example.com", "www.example.com"], requestType: "origin-rsa", requestedValidity: 7 });
exports.recordName = rec.name;
exports.certificate = cert.certificate;
`,
    );
    makeCsr(work);
    const { CLOUDFLARE_API_TOKEN: _t, ...rest } = process.env as Record<string, string>;
    env = {
      ...rest,
      PATH: `${path.join(work, "bin")}:${engineBin}:${process.env.PATH}`,
      PULUMI_HOME: path.join(work, "home"),
      PULUMI_BACKEND_URL: `file://${path.join(work, "backend")}`,
      PULUMI_CONFIG_PASSPHRASE: "berth-cf-test",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      BERTH_CLOUDFLARE_STATE: state(),
    };
    await declareZone(ZONE, "example.com", state());
    await ok("stack", "init", "test");
    await ok("config", "set", "zoneId", ZONE);
    await ok("config", "set", "content", "203.0.113.10");
    await ok("config", "set", "csrFile", path.join(work, "example.com.csr"));
  });

  afterAll(async () => {
    if (!work) return;
    await pulumi("destroy", "--yes");
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("§0 credentials through the engine: without cloudflare:apiToken the first create fails with the API's auth error", async () => {
    const r = await pulumi("up", "--yes");
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('"code":9106');
    expect(zoneRecords()).toEqual([]);
  });

  it("§8/§9 up with a secret cloudflare:apiToken: the record in the zone file under its FQDN, a certificate that verifies against the stand-in CA", async () => {
    await ok("config", "set", "--secret", "cloudflare:apiToken", TOKEN_VALUE);
    await ok("up", "--yes");
    expect(zoneRecords()).toMatchObject([{ name: "www.example.com", type: "A", content: "203.0.113.10" }]);
    const certFile = path.join(work, "issued.pem");
    fs.writeFileSync(certFile, JSON.parse(await ok("stack", "output", "certificate", "--json")) as string);
    expect(execFileSync("openssl", ["verify", "-CAfile", caCertificatePath(state()), certFile], { encoding: "utf8" })).toContain(": OK");
    const exported = await ok("stack", "export");
    expect(exported).not.toContain(TOKEN_VALUE);
  });

  it("§8 name through the engine: after a refresh stores the FQDN, the short name in the program plans nothing", async () => {
    await ok("refresh", "--yes");
    const exported = JSON.parse(await ok("stack", "export")) as { deployment: { resources: Array<{ type: string; outputs?: Props }> } };
    expect(exported.deployment.resources.find((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord")!.outputs!.name).toBe("www.example.com");
    expect(await previewSummary()).toEqual({ same: 3 });
  });

  it("§8 in place through the engine: a content change is an update of the same record", async () => {
    const before = zoneRecords()[0]!;
    await ok("config", "set", "content", "203.0.113.11");
    expect(await previewSummary()).toEqual({ same: 2, update: 1 });
    await ok("up", "--yes");
    expect(zoneRecords()).toEqual([{ ...before, content: "203.0.113.11", modifiedOn: expect.any(String) }]);
  });

  it("§8 replace through the engine: a type change creates the new record, then deletes the old one", async () => {
    await ok("config", "set", "type", "AAAA");
    await ok("config", "set", "content", "2001:db8::10");
    expect(await previewSummary()).toEqual({ same: 2, replace: 1 });
    const out = await ok("up", "--yes");
    expect(out.indexOf("created replacement")).toBeLessThan(out.indexOf("deleted original"));
    expect(zoneRecords()).toMatchObject([{ name: "www.example.com", type: "AAAA", content: "2001:db8::10" }]);
  });

  it("§8 refresh through the engine: a record deleted on Cloudflare is dropped with `Resource not found`, and the next up creates it again", async () => {
    const data = JSON.parse(fs.readFileSync(state(), "utf8"));
    data.zones[ZONE].records = {};
    fs.writeFileSync(state(), JSON.stringify(data));
    const out = await ok("refresh", "--yes");
    expect(out).toContain("Resource not found");
    expect(await ok("stack", "export")).not.toContain("cloudflare:index/dnsRecord:DnsRecord::www");
    expect(await previewSummary()).toEqual({ same: 2, create: 1 });
  });

  it("§9 destroy through the engine: the certificate is revoked", async () => {
    await ok("destroy", "--yes");
    const certs = Object.values((JSON.parse(fs.readFileSync(state(), "utf8")) as { certificates: Record<string, { revokedAt?: string }> }).certificates);
    expect(certs).toHaveLength(1);
    expect(certs[0]!.revokedAt).toMatch(/^\d{4}-/);
  });
});
