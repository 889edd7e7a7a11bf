/**
 * How the stand-in fails where the real provider's API call fails, so a failure reads like the
 * real one. The provider turns an API error into the diagnostic "failed to make http request"
 * (CF:internal/services/dns_record/resource.go:95-97 and the same in every resource), whose detail
 * is the Go SDK's error: `METHOD "URL": STATUS STATUS-TEXT BODY` (the Stainless-generated
 * cloudflare-go v6 apierror). The plugin-framework bridge joins summary and detail as
 * `summary: detail` (TB v3.130.0 pkg/pf/tfbridge/provider_diagnostics.go:155-160).
 */
export const API_BASE = "https://api.cloudflare.com/client/v4";

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found" };

export interface ApiErrorEntry {
  /** Cloudflare's error code where the text is known from public reports; absent otherwise. */
  code?: number;
  message: string;
}

/** An API call the "server" refused. `status` decides, as in the provider, whether Read drops. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    method: string,
    urlPath: string,
    errors: ApiErrorEntry[],
  ) {
    const body = JSON.stringify({ result: null, success: false, errors, messages: [] });
    super(`failed to make http request: ${method} "${API_BASE}${urlPath}": ${status} ${STATUS_TEXT[status] ?? ""} ${body}`);
  }
}

/** The stand-in's provider config, as `Configure` parsed it. Holds no token, only whether one is set. */
export interface CloudflareConfig {
  /** An API token was configured (`apiToken`) or found in `CLOUDFLARE_API_TOKEN`. */
  hasCredential: boolean;
}

/**
 * The real provider accepts a missing token at Configure (CF:internal/provider.go:359-430 only adds
 * request options) and the API then refuses the first call, which carries no credential header.
 * Code and text are those the API gives a request without auth headers (public reports; not in
 * the pinned sources).
 */
export function requireCredential(config: CloudflareConfig, method: string, urlPath: string): void {
  if (config.hasCredential) return;
  throw new ApiError(400, method, urlPath, [
    { code: 9106, message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers" },
    {
      message:
        "cloudflare stand-in: no API token configured; set the secret config cloudflare:apiToken or CLOUDFLARE_API_TOKEN (the stand-in implements token auth only)",
    },
  ]);
}
