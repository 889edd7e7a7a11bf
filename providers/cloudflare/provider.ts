/**
 * The cloudflare stand-in (pulumi-cloudflare 6.17.0, plugin-framework bridge over
 * terraform-provider-cloudflare v5.19.1). Like the real bridge it does not accept secrets
 * (SEMANTICS.md §0) and supports preview.
 *
 * Config: `apiToken` only (plus `version`). As in the real provider
 * (CF:internal/provider.go:359-430), a missing token is not an error at Configure: the token falls
 * back to `CLOUDFLARE_API_TOKEN`, and without either the first API call fails (`api.ts`). The token
 * itself is never kept: Configure records only that one is there.
 */
import { type ProviderDefinition, refuseUnknownInputs } from "../runtime/definition";
import { deepEqual, secret, UNKNOWN } from "../runtime/properties";
import type { CloudflareConfig } from "./api";
import { dnsRecord } from "./dns-record";
import { originCaCertificate } from "./origin-ca-certificate";

/** The provider schema's validator on `api_token` (CF:internal/provider.go:324-333). */
const TOKEN_PATTERN = /^[0-9A-Za-z\-_]{40,80}$/;

export const cloudflareProvider: ProviderDefinition<CloudflareConfig> = {
  name: "cloudflare",
  version: "6.17.0",
  acceptSecrets: false,
  supportsPreview: true,
  config: {
    keys: ["apiToken"],
    check(news) {
      const failures = refuseUnknownInputs("cloudflare", "provider", news, ["apiToken", "version"]);
      const token = news.apiToken;
      // The validator never shows the value (customvalidator/sensitive_regex.go); unknown values pass.
      if (typeof token === "string" && token !== UNKNOWN && !TOKEN_PATTERN.test(token))
        failures.push({ property: "apiToken", reason: "Attribute api_token API tokens must only contain characters a-z, A-Z, 0-9, hyphens and underscores" });
      // The bridge marks schema-secret config secret in what CheckConfig returns (TB v3.130.0
      // pkg/pf/tfbridge/provider_checkconfig.go:115-117; PCF sets Secret on api_token), so a token
      // given as plain config is still stored encrypted.
      const inputs = typeof token === "string" ? { ...news, apiToken: secret(token) } : news;
      return { inputs, failures };
    },
    // A provider config change is an in-place provider update; no resource is replaced (§0).
    diff: (olds, news) => ({ changes: !deepEqual(olds, news), replaces: [] }),
    parse(props) {
      const token = props.apiToken;
      return { hasCredential: (typeof token === "string" && token !== "") || !!process.env.CLOUDFLARE_API_TOKEN };
    },
  },
  resources: [dnsRecord, originCaCertificate],
};
