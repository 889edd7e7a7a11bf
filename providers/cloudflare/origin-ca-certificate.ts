/**
 * `cloudflare:index/originCaCertificate:OriginCaCertificate` (Terraform
 * `cloudflare_origin_ca_certificate`, plugin framework), as SEMANTICS.md §9 reads it. The stand-in
 * issues a real certificate for the CSR, signed by its local Origin CA (`origin-ca.ts`), and keeps
 * it in the zone file (`zone-store.ts`).
 *
 * From CF:internal/services/origin_ca_certificate (terraform-provider-cloudflare v5.19.1):
 * - `csr`, `requestType` and `hostnames` (an ordered list) replace on any change; `requestedValidity`
 *   (default 5475) replaces only when configured (`RequiresReplaceIfConfigured`, schema.go:55-72).
 *   Replacement is create-before-delete (§0): the new certificate is issued, then the old revoked.
 * - Update does nothing (resource.go:96-98); the framework then keeps the prior state
 *   (terraform-plugin-framework fwserver UpdateResource starts the response from PriorState).
 *   So removing a configured non-default `requestedValidity` plans an in-place update that changes
 *   nothing, again at every `up` (derived).
 * - Read drops the resource on a 404 with the warning "Resource not found" and keeps `csr` and
 *   `requestedValidity` from state, the API not returning them (resource.go:100-140).
 * - Delete revokes the certificate (resource.go:142-162); a certificate already gone fails it.
 * - Outputs `certificate` and `expiresOn`, neither secret (PCF sets no Secret on them).
 */
import { type CheckFailure, type DiffKind, refuseUnknownInputs, type ResourceDefinition } from "../runtime/definition";
import { containsUnknown, deepEqual, type Props, UNKNOWN, type Value } from "../runtime/properties";
import type { PropertyTypes } from "../runtime/types";
import { ApiError, type CloudflareConfig, requireCredential } from "./api";
import { CsrError, ensureCa, sign } from "./origin-ca";
import { type CertificateEntry, newId, readStore, storePath, updateStore, type ZoneEntry } from "./zone-store";

export const TOKEN = "cloudflare:index/originCaCertificate:OriginCaCertificate";

export const REQUEST_TYPES = ["origin-rsa", "origin-ecc", "keyless-certificate"] as const;
export const VALIDITIES = [7, 30, 90, 365, 730, 1095, 5475] as const;
export const DEFAULT_VALIDITY = 5475;

/** Implemented inputs, typed as `OriginCaCertificateArgs` declares them (all of them). */
export const INPUT_TYPES: PropertyTypes = {
  csr: "string",
  requestType: "string",
  hostnames: { array: "string" },
  requestedValidity: "number",
};
const INPUTS = Object.keys(INPUT_TYPES);

export const OUTPUT_TYPES: PropertyTypes = { certificate: "string", expiresOn: "string" };

const isSet = (v: Value | undefined): v is Exclude<Value, null> => v !== undefined && v !== null;

/**
 * `expires_on` as the API sends it: Go's `time.Time.String()` in UTC, e.g.
 * `2041-03-10 12:00:00 +0000 UTC`. The v5 provider stores the string as received (a plain
 * `types.String`, model.go:21); the old cloudflare-go client parsed this very format first
 * ("This format comes from time.Time.String() source"), RFC 3339 only as a fallback.
 */
export function apiTime(d: Date): string {
  const iso = d.toISOString(); // 2041-03-10T12:00:00.000Z
  const frac = iso.slice(20, 23).replace(/0+$/, "");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ""} +0000 UTC`;
}

/** A hostname the Origin CA takes: an FQDN, or a wildcard as a single `*.` prefix on a multi-label name (schema.go:49-53). */
function hostnameProblem(h: string, zones: ZoneEntry[]): string | undefined {
  const bare = h.startsWith("*.") ? h.slice(2) : h;
  if (!/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]*[a-z]$/i.test(bare) || (h.startsWith("*.") && !bare.includes(".")))
    return `${JSON.stringify(h)} is not a fully qualified domain name, nor a single-level wildcard on one`;
  const lower = bare.toLowerCase();
  if (!zones.some((z) => lower === z.name || lower.endsWith(`.${z.name}`)))
    return `${JSON.stringify(h)} does not belong to a zone on the account (declared zones: ${zones.map((z) => z.name).join(", ") || "none"})`;
  return undefined;
}

function plan(news: Props): Props {
  return { ...news, requestedValidity: isSet(news.requestedValidity) ? news.requestedValidity : DEFAULT_VALIDITY };
}

export const originCaCertificate: ResourceDefinition<CloudflareConfig> = {
  token: TOKEN,
  inputs: INPUT_TYPES,
  outputs: OUTPUT_TYPES,
  check(news) {
    const failures: CheckFailure[] = refuseUnknownInputs("cloudflare", TOKEN, news, INPUT_TYPES);
    for (const k of ["csr", "requestType", "hostnames"]) if (!isSet(news[k])) failures.push({ property: k, reason: `Missing required property '${k}'` });
    const rt = news.requestType;
    if (typeof rt === "string" && !containsUnknown(rt) && !REQUEST_TYPES.some((t) => t === rt.toLowerCase()))
      failures.push({ property: "requestType", reason: `Attribute request_type value must be one of: [${REQUEST_TYPES.map((t) => `"${t}"`).join(" ")}], got: "${rt}"` });
    const v = news.requestedValidity;
    if (typeof v === "number" && !(VALIDITIES as readonly number[]).includes(v))
      failures.push({ property: "requestedValidity", reason: `Attribute requested_validity value must be one of: [${VALIDITIES.join(" ")}], got: ${v}` });
    return { inputs: news, failures };
  },
  diff({ olds, news }) {
    const p = plan(news);
    const detailedDiff: Record<string, DiffKind> = {};
    const replaces: string[] = [];
    for (const k of INPUTS) {
      const n = p[k] ?? null;
      const o = olds[k] ?? null;
      if (!containsUnknown(n) && deepEqual(n, o)) continue;
      // requestedValidity replaces only when the program sets it (RequiresReplaceIfConfigured).
      const replace = k !== "requestedValidity" || isSet(news.requestedValidity);
      const base = o === null ? "add" : n === null ? "delete" : "update";
      detailedDiff[k] = replace ? `${base}-replace` : base;
      if (replace) replaces.push(k);
    }
    return { changes: Object.keys(detailedDiff).length > 0, replaces, detailedDiff };
  },
  async create(inputs, ctx) {
    const p = plan(inputs);
    if (ctx.preview) return { id: "", outputs: { ...p, certificate: UNKNOWN, expiresOn: UNKNOWN } };
    requireCredential(ctx.config, "POST", "/certificates");
    const file = storePath();
    const hostnames = p.hostnames as string[];
    const entry = await updateStore(async (data) => {
      const problems = hostnames.map((h) => hostnameProblem(h, Object.values(data.zones))).filter((x): x is string => !!x);
      if (hostnames.length === 0) problems.push("hostnames must list at least one hostname");
      if (problems.length) throw new ApiError(400, "POST", "/certificates", problems.map((m) => ({ message: `cloudflare stand-in: ${m}` })));
      await ensureCa(file);
      const id = newId();
      let signed;
      try {
        signed = await sign({ csr: String(p.csr), hostnames, days: p.requestedValidity as number, serialHex: id }, file);
      } catch (e) {
        if (e instanceof CsrError) throw new ApiError(400, "POST", "/certificates", [{ message: `cloudflare stand-in: the CSR cannot be read: ${e.message}` }]);
        throw e;
      }
      const cert: CertificateEntry = {
        id,
        certificate: signed.certificate,
        hostnames,
        requestType: String(p.requestType),
        requestedValidity: p.requestedValidity as number,
        csr: String(p.csr),
        expiresOn: apiTime(signed.notAfter),
      };
      data.certificates[id] = cert;
      return cert;
    }, file);
    return { id: entry.id, outputs: { ...p, certificate: entry.certificate, expiresOn: entry.expiresOn } };
  },
  async read({ id, state }, ctx) {
    requireCredential(ctx.config, "GET", `/certificates/${id}`);
    const cert = readStore().certificates[id];
    if (!cert || cert.revokedAt) {
      await ctx.log("warning", "[WARNING] The resource was not found on the server and will be removed from state.: Resource not found");
      return null;
    }
    const outputs: Props = {
      csr: state.csr ?? null,
      requestedValidity: state.requestedValidity ?? null,
      requestType: cert.requestType,
      hostnames: cert.hostnames,
      certificate: cert.certificate,
      expiresOn: cert.expiresOn,
    };
    const inputs: Props = {};
    for (const k of INPUTS) if (isSet(outputs[k])) inputs[k] = outputs[k]!;
    return { id, outputs, inputs };
  },
  async update({ olds }) {
    // Update is empty; the framework keeps the prior state.
    return olds;
  },
  async delete({ id }, ctx) {
    const urlPath = `/certificates/${id}`;
    requireCredential(ctx.config, "DELETE", urlPath);
    await updateStore((data) => {
      const cert = data.certificates[id];
      if (!cert || cert.revokedAt) throw new ApiError(404, "DELETE", urlPath, [{ message: `cloudflare stand-in: certificate ${id} does not exist or is already revoked` }]);
      cert.revokedAt = new Date().toISOString();
    });
  },
};
