/**
 * `cloudflare:index/dnsRecord:DnsRecord` (Terraform `cloudflare_dns_record`, plugin framework,
 * terraform-provider-cloudflare v5.19.1), as SEMANTICS.md §8 reads it, against the stand-in's zone
 * file (`zone-store.ts`) instead of Cloudflare's API.
 *
 * What the real resource does, and so this one (CF = cloudflare/terraform-provider-cloudflare@v5.19.1):
 * - `zoneId` and `type` replace (RequiresReplace, CF:internal/services/dns_record/schema.go:44-48,
 *   70-99); everything else updates in place with a full PUT built from plan and state
 *   (resource.go:112-161). Replacement is the engine's default, create-before-delete (§0).
 * - Create refuses `proxied` with a TTL other than 1 (resource.go:71-77); Update does not.
 * - The API stores the fully-qualified name. Create and Update keep the configured name in state
 *   (the response is decoded with `UnmarshalComputed`, which leaves required and optional
 *   attributes as planned, CF:internal/apijson/decoder.go:39-42, 1055-1069); a refresh brings the
 *   FQDN. The plan then keeps the stored name when the configured one is a leading part of it, or
 *   `@` (ModifyPlan, resource.go:303-336), so neither shows a diff.
 * - CNAME content compares case-insensitively; empty and absent `tags` are the same (resource.go:343-387).
 * - `content` and `tags` are Optional+Computed: leaving them out of the program keeps what is stored.
 * - A refresh of a record that is gone (404) drops it with the warning "Resource not found"
 *   (resource.go:183-187); Delete of a record that is gone fails (no 404 case, resource.go:217-228).
 */
import { isIPv4, isIPv6 } from "node:net";
import { type CheckFailure, refuseUnknownInputs, type ResourceDefinition } from "../runtime/definition";
import { diffByRules, setEqual } from "../runtime/diff";
import { compact, containsUnknown, type Props, UNKNOWN, type Value } from "../runtime/properties";
import type { PropertyTypes } from "../runtime/types";
import { ApiError, type ApiErrorEntry, type CloudflareConfig, requireCredential } from "./api";
import { newId, readStore, type RecordEntry, updateStore, type ZoneEntry } from "./zone-store";

export const TOKEN = "cloudflare:index/dnsRecord:DnsRecord";

/** The `type` validator's list (OneOfCaseInsensitive, schema.go:70-97). */
export const RECORD_TYPES = [
  "A", "AAAA", "CNAME", "MX", "NS", "OPENPGPKEY", "PTR", "TXT", "CAA", "CERT", "DNSKEY",
  "DS", "HTTPS", "LOC", "NAPTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA", "URI",
] as const;

/**
 * Implemented inputs, typed as the SDK declares them (`DnsRecordArgs`; the schema's Float64 is a
 * Pulumi number). Refused: `data`, `settings`, `privateRouting`.
 */
export const INPUT_TYPES: PropertyTypes = {
  zoneId: "string",
  name: "string",
  type: "string",
  ttl: "number",
  content: "string",
  proxied: "boolean",
  comment: "string",
  tags: { array: "string" },
  priority: "number",
};
const INPUTS = Object.keys(INPUT_TYPES);

/** Implemented outputs beyond the inputs (the class's computed attributes, schema.go:379-402). Not `meta`, not `settings`. */
export const OUTPUT_TYPES: PropertyTypes = {
  createdOn: "string",
  modifiedOn: "string",
  proxiable: "boolean",
  commentModifiedOn: "string",
  tagsModifiedOn: "string",
};

const PROXIABLE_TYPES = ["A", "AAAA", "CNAME"];
const SAME_NAME_HELP = "For more details, refer to <https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.";

const isSet = (v: Value | undefined): v is Exclude<Value, null> => v !== undefined && v !== null;

/**
 * The name the plan carries, given the stored one: ModifyPlan's normalisation (resource.go:303-336),
 * literally, so its quirks come along (`@` matches any stored name with a dot in it).
 */
export function plannedName(planName: Value | undefined, stateName: Value | undefined): Value | undefined {
  if (!isSet(stateName) || !isSet(planName) || containsUnknown(planName)) return planName;
  const plan = String(planName);
  const state = String(stateName);
  const planNorm = plan.replace(/\.$/, "");
  const stateNorm = state.replace(/\.$/, "");
  if (plan === "@" && state !== "@" && state.includes(".")) return state;
  if (stateNorm.startsWith(`${planNorm}.`)) return state;
  if (planNorm !== stateNorm) {
    const planParts = planNorm.split(".");
    const stateParts = stateNorm.split(".");
    if (planParts.length < stateParts.length && planParts.every((p, i) => p === stateParts[i])) return state;
  }
  return plan;
}

/**
 * The planned attributes: the inputs with `proxied`'s default (false, schema.go:339-344), the name
 * normalised against the state, and a CNAME target that differs from the stored one only in case
 * kept as stored (resource.go:347-356).
 */
export function plan(news: Props, state?: Props): Props {
  const p: Props = { ...news, proxied: isSet(news.proxied) ? news.proxied : false };
  if (state) {
    const name = plannedName(news.name, state.name);
    if (name !== undefined) p.name = name;
    if (
      news.type === "CNAME" &&
      typeof news.content === "string" &&
      typeof state.content === "string" &&
      news.content.toLowerCase() === state.content.toLowerCase()
    )
      p.content = state.content;
  }
  return p;
}

/** The API's zone-relative name made absolute, as Cloudflare stores it. */
export function fullyQualified(name: string, zone: string): string {
  const n = name.replace(/\.$/, "");
  if (n === "@") return zone;
  const lower = n.toLowerCase();
  if (lower === zone || lower.endsWith(`.${zone}`)) return n;
  return `${n}.${zone}`;
}

function recordsPath(zoneId: string, id?: string): string {
  return `/zones/${zoneId}/dns_records${id ? `/${id}` : ""}`;
}

function zoneOrFail(zones: Record<string, ZoneEntry>, zoneId: string, method: string, urlPath: string): ZoneEntry {
  const zone = zones[zoneId];
  if (zone) return zone;
  // What the API answers for a zone id the token cannot see; the stand-in says how to declare one.
  throw new ApiError(404, method, urlPath, [
    { code: 7003, message: `Could not route to /client/v4${urlPath}, perhaps your object identifier is invalid?` },
    { message: `cloudflare stand-in: zone not found: ${zoneId} is not declared in the stand-in's zone file (see providers/cloudflare/zone-store.ts)` },
  ]);
}

/**
 * The API's own checks on a record written by POST or PUT. Codes and texts are those public
 * reports show (not in the pinned sources, which only pass the API's answer on); a check with no
 * known text says it is the stand-in's.
 */
function apiChecks(rec: RecordEntry, zone: ZoneEntry): ApiErrorEntry[] {
  const errors: ApiErrorEntry[] = [];
  if (rec.type === "A" && !(rec.content && isIPv4(rec.content))) errors.push({ message: "Content for A record must be a valid IPv4 address." });
  if (rec.type === "AAAA" && !(rec.content && isIPv6(rec.content))) errors.push({ message: "Content for AAAA record must be a valid IPv6 address." });
  if (rec.proxied && !rec.proxiable) errors.push({ message: `cloudflare stand-in: a ${rec.type} record cannot be proxied (only A, AAAA and CNAME can)` });
  if (rec.ttl !== 1 && (rec.ttl < 60 || rec.ttl > 86400))
    errors.push({ message: `cloudflare stand-in: ttl ${rec.ttl} is out of range; Cloudflare takes 1 (automatic) or 60-86400 seconds (30 on Enterprise zones)` });
  const sameName = Object.values(zone.records).filter((r) => r.id !== rec.id && r.name.toLowerCase() === rec.name.toLowerCase());
  if (rec.type === "CNAME" && sameName.some((r) => ["A", "AAAA", "CNAME"].includes(r.type)))
    errors.push({ code: 81053, message: `An A, AAAA, or CNAME record with that host already exists. ${SAME_NAME_HELP}` });
  else if (["A", "AAAA"].includes(rec.type) && sameName.some((r) => r.type === "CNAME"))
    errors.push({ code: 81054, message: `A CNAME record with that host already exists. ${SAME_NAME_HELP}` });
  else if (sameName.some((r) => r.type === rec.type && r.content === rec.content)) errors.push({ code: 81057, message: "Record already exists." });
  return errors;
}

/**
 * State after Create or Update: the planned values for what is required or optional, the API's
 * for what is computed, and for Optional+Computed (`content`, `tags`) the plan's when set
 * (`UnmarshalComputed`, CF:internal/apijson/decoder.go:1055-1069).
 */
function stateAfterWrite(p: Props, rec: RecordEntry): Props {
  return compact({
    zoneId: p.zoneId ?? undefined,
    name: p.name ?? undefined,
    type: p.type ?? undefined,
    ttl: p.ttl ?? undefined,
    proxied: p.proxied ?? undefined,
    comment: p.comment ?? undefined,
    priority: p.priority ?? undefined,
    content: isSet(p.content) ? p.content : (rec.content ?? undefined),
    tags: isSet(p.tags) ? p.tags : rec.tags,
    ...computed(rec),
  });
}

function computed(rec: RecordEntry): Record<string, Value | undefined> {
  return {
    createdOn: rec.createdOn,
    modifiedOn: rec.modifiedOn,
    proxiable: rec.proxiable,
    commentModifiedOn: rec.commentModifiedOn ?? undefined,
    tagsModifiedOn: rec.tagsModifiedOn ?? undefined,
  };
}

/** State after a refresh: everything as the API has it (`Unmarshal`), the zone id as it was. */
function stateFromApi(zoneId: Value | undefined, rec: RecordEntry): Props {
  return compact({
    zoneId: zoneId ?? undefined,
    name: rec.name,
    type: rec.type,
    ttl: rec.ttl,
    proxied: rec.proxied,
    comment: rec.comment ?? undefined,
    priority: rec.priority ?? undefined,
    content: rec.content ?? undefined,
    tags: rec.tags,
    ...computed(rec),
  });
}

function sameTags(a: string[], b: Value | undefined): boolean {
  return setEqual(a, (b ?? []) as Value);
}

export const dnsRecord: ResourceDefinition<CloudflareConfig> = {
  token: TOKEN,
  inputs: INPUT_TYPES,
  outputs: OUTPUT_TYPES,
  check(news) {
    const failures: CheckFailure[] = refuseUnknownInputs("cloudflare", TOKEN, news, INPUT_TYPES);
    for (const k of ["name", "type", "ttl"]) if (!isSet(news[k])) failures.push({ property: k, reason: `Missing required property '${k}'` });
    const known = (v: Value | undefined) => isSet(v) && !containsUnknown(v);
    if (known(news.type) && typeof news.type === "string" && !RECORD_TYPES.some((t) => t.toLowerCase() === (news.type as string).toLowerCase()))
      failures.push({ property: "type", reason: `Attribute type value must be one of: [${RECORD_TYPES.map((t) => `"${t}"`).join(" ")}], got: "${news.type}"` });
    if (known(news.priority) && typeof news.priority === "number" && (news.priority < 0 || news.priority > 65535))
      failures.push({ property: "priority", reason: `Attribute priority value must be between 0 and 65535, got: ${news.priority}` });
    return { inputs: news, failures };
  },
  diff({ olds, news }) {
    return diffByRules(olds, plan(news, olds), {
      inputs: INPUTS,
      replace: ["zoneId", "type"],
      computed: ["content", "tags"],
      equal: { tags: setEqual },
    });
  },
  async create(inputs, ctx) {
    const p = plan(inputs);
    if (ctx.preview) {
      const comment = p.comment;
      const tagsEmpty = !isSet(p.tags) ? false : Array.isArray(p.tags) && p.tags.length === 0;
      return {
        id: "",
        outputs: {
          ...p,
          content: isSet(p.content) ? p.content : UNKNOWN,
          tags: isSet(p.tags) ? p.tags : UNKNOWN,
          createdOn: UNKNOWN,
          modifiedOn: UNKNOWN,
          proxiable: UNKNOWN,
          // ModifyPlan sets these null when comment / tags are empty (resource.go:530-558).
          commentModifiedOn: !isSet(comment) || comment === "" ? null : UNKNOWN,
          tagsModifiedOn: tagsEmpty ? null : UNKNOWN,
        },
      };
    }
    if (p.proxied === true && p.ttl !== 1)
      throw new Error("ttl must be set to 1 when `proxied` is true: When a DNS record is marked as `proxied` the TTL must be 1 as Cloudflare will control the TTL internally.");
    const zoneId = String(p.zoneId ?? "");
    const urlPath = recordsPath(zoneId);
    requireCredential(ctx.config, "POST", urlPath);
    const rec = await updateStore((data) => {
      const zone = zoneOrFail(data.zones, zoneId, "POST", urlPath);
      const now = new Date().toISOString();
      const type = String(p.type).toUpperCase();
      const tags = (p.tags ?? []) as string[];
      const comment = (p.comment ?? null) as string | null;
      const entry: RecordEntry = {
        id: newId(),
        name: fullyQualified(String(p.name), zone.name),
        type,
        content: (p.content ?? null) as string | null,
        proxied: p.proxied === true,
        proxiable: PROXIABLE_TYPES.includes(type),
        ttl: p.ttl as number,
        comment,
        tags,
        priority: (p.priority ?? null) as number | null,
        createdOn: now,
        modifiedOn: now,
        commentModifiedOn: comment ? now : null,
        tagsModifiedOn: tags.length ? now : null,
      };
      const errors = apiChecks(entry, zone);
      if (errors.length) throw new ApiError(400, "POST", urlPath, errors);
      zone.records[entry.id] = entry;
      return entry;
    });
    return { id: rec.id, outputs: stateAfterWrite(p, rec) };
  },
  async read({ id, state }, ctx) {
    const zoneId = String(state.zoneId ?? "");
    requireCredential(ctx.config, "GET", recordsPath(zoneId, id));
    const rec = readStore().zones[zoneId]?.records[id];
    if (!rec) {
      // The bridge logs the diagnostic as "[severity] detail: summary" (provider_diagnostics.go:183-205).
      await ctx.log("warning", "[WARNING] The resource was not found on the server and will be removed from state.: Resource not found");
      return null;
    }
    const outputs = stateFromApi(state.zoneId, rec);
    // The bridge rebuilds the inputs from the refreshed state (SEMANTICS.md §0).
    const inputs: Props = {};
    for (const k of INPUTS) if (isSet(outputs[k])) inputs[k] = outputs[k]!;
    return { id, outputs, inputs };
  },
  async update({ id, olds, news }, ctx) {
    const p = plan(news, olds);
    // Optional+Computed left out of the program: the stored value stands (simplified: the real
    // provider plans them unknown and lets the PUT's answer fill them in).
    if (!isSet(p.content) && isSet(olds.content)) p.content = olds.content;
    if (!isSet(p.tags) && isSet(olds.tags)) p.tags = olds.tags;
    if (ctx.preview) {
      return { ...olds, ...p, modifiedOn: UNKNOWN, commentModifiedOn: p.comment === olds.comment ? (olds.commentModifiedOn ?? null) : UNKNOWN, tagsModifiedOn: UNKNOWN };
    }
    const zoneId = String(p.zoneId ?? "");
    const urlPath = recordsPath(zoneId, id);
    requireCredential(ctx.config, "PUT", urlPath);
    const rec = await updateStore((data) => {
      const zone = zoneOrFail(data.zones, zoneId, "PUT", urlPath);
      const old = zone.records[id];
      if (!old) throw new ApiError(404, "PUT", urlPath, [{ code: 81044, message: "Record does not exist." }]);
      const now = new Date().toISOString();
      const tags = (p.tags ?? []) as string[];
      const comment = (p.comment ?? null) as string | null;
      const type = String(p.type).toUpperCase();
      // A full PUT: what is not in the plan is cleared (comment, priority), as the real Update sends it.
      const entry: RecordEntry = {
        ...old,
        name: fullyQualified(String(p.name), zone.name),
        type,
        content: (p.content ?? null) as string | null,
        proxied: p.proxied === true,
        proxiable: PROXIABLE_TYPES.includes(type),
        ttl: p.ttl as number,
        comment,
        tags,
        priority: (p.priority ?? null) as number | null,
        modifiedOn: now,
        commentModifiedOn: comment === old.comment ? old.commentModifiedOn : comment ? now : null,
        tagsModifiedOn: sameTags(old.tags, tags) ? old.tagsModifiedOn : tags.length ? now : null,
      };
      const errors = apiChecks(entry, zone);
      if (errors.length) throw new ApiError(400, "PUT", urlPath, errors);
      zone.records[id] = entry;
      return entry;
    });
    return stateAfterWrite(p, rec);
  },
  async delete({ id, state }, ctx) {
    const zoneId = String(state.zoneId ?? "");
    const urlPath = recordsPath(zoneId, id);
    requireCredential(ctx.config, "DELETE", urlPath);
    await updateStore((data) => {
      const zone = zoneOrFail(data.zones, zoneId, "DELETE", urlPath);
      if (!zone.records[id]) throw new ApiError(404, "DELETE", urlPath, [{ code: 81044, message: "Record does not exist." }]);
      delete zone.records[id];
    });
  },
};
