/**
 * nginx vhost for one berth site: spec in, config text out. The text is meant to
 * be included inside nginx's `http {}` (Debian's /etc/nginx/conf.d/*.conf), so
 * it may hold http-level blocks (`map`, `upstream`) next to the `server`s; their
 * names carry the site name so several berth sites can load into one nginx.
 */
import { RenderError, array, bool, fsPath, intInRange, matchString, show, urlPath } from "./validate";

export { RenderError } from "./validate";

/** One nginx site: where it listens, how it terminates TLS and what it serves. */
export interface NginxVhostSpec {
  /**
   * Short site id, `^[a-z][a-z0-9-]{0,30}$`. Names the upstream (`berth_<siteName>`),
   * the websocket `map` variables, the TLS session cache and the log files.
   */
  siteName: string;
  /**
   * Host names for `server_name`, at least one: lowercase RFC 1123 names
   * (labels of a-z, 0-9, inner `-`, up to 63 chars each), optionally with one
   * leading `*.` wildcard label; `localhost` is fine.
   */
  serverNames: string[];
  /** TCP ports to listen on (1-65535). `https` is only used when `tls` is set. */
  listen: {
    /** Plain-HTTP port, usually 80. Serves the site without TLS, or redirects to HTTPS with TLS. */
    http: number;
    /** HTTPS port, usually 443. Included in the redirect URL when it is not 443. */
    https: number;
  };
  /**
   * Certificate files for HTTPS, or `null` to serve plain HTTP only. With TLS the
   * HTTP server only redirects (301) to HTTPS and answers ACME challenges.
   */
  tls: {
    /** Absolute path to the PEM certificate chain (`ssl_certificate`). */
    certificatePath: string;
    /** Absolute path to the PEM private key (`ssl_certificate_key`). */
    keyPath: string;
  } | null;
  /**
   * Directory served at `/.well-known/acme-challenge/` on the HTTP server (for
   * certbot/lego `--webroot`), or `null` for none. Absolute path.
   */
  acmeWebroot: string | null;
  /** The app's HTTP listener on this host. */
  upstream: {
    /** IPv4 address in dotted-quad form, typically `127.0.0.1` (the container's published port). */
    host: string;
    /** TCP port 1-65535. */
    port: number;
  };
  /**
   * Directory of static files (an SPA build) served at `/` with an
   * `index.html` fallback, or `null` to proxy `/` to the upstream. Absolute path.
   */
  staticRoot: string | null;
  /**
   * URL path prefixes proxied to the upstream when `staticRoot` is set, e.g.
   * `["/api", "/auth"]`; each becomes `location ^~ <path>`. Ignored without a
   * static root (then everything is proxied). Pattern `^/[A-Za-z0-9._~/-]*$`, no duplicates.
   */
  proxiedPaths: string[];
  /** Largest request body accepted (`client_max_body_size`), e.g. `10m`; `^[0-9]{1,6}[kKmMgG]?$`. `0` turns the limit off. */
  clientMaxBodySize: string;
  /**
   * Compress text responses (`gzip on` with a fixed type list, proxied responses included);
   * `false` emits `gzip off`.
   *
   * This is a trade the operator makes, not a free win. Over TLS, compressing a response that holds
   * both a secret (a CSRF token, a session value echoed into the page) and text the client put in the
   * request (a search term, a reflected parameter) is the precondition of BREACH: an attacker who can
   * make a victim's browser send many requests and can watch the encrypted lengths recovers the secret
   * a character at a time, because a guess that matches compresses better. TLS cannot hide it; only
   * not compressing those responses, or an app that never reflects input next to a secret (CSRF tokens
   * masked per response, as Rails and Django do; secrets kept out of compressible bodies), closes it.
   * `true` buys smaller, faster text responses (often 3-10x for HTML and JSON); `false` pays that
   * bandwidth and latency to take BREACH off the table whatever the app does. Static files carry no
   * per-user secret, so the risk lies only in the app's dynamic responses.
   */
  gzip: boolean;
  /** `Strict-Transport-Security` header, or `null` for none. Ignored without TLS (browsers ignore it over HTTP). */
  hsts: {
    /** `max-age` in seconds, 0-315360000 (ten years). */
    maxAgeSeconds: number;
    /** Adds `; includeSubDomains`. */
    includeSubDomains: boolean;
  } | null;
  /** Maintenance switch. */
  maintenance: {
    /**
     * When `true`, every request answers 503 with a small HTML page and
     * `Retry-After`, except the exact `healthPath` (still proxied, so the
     * deploy can tell when the app is back) and ACME challenges (so a
     * certificate renewal during maintenance still succeeds).
     */
    enabled: boolean;
    /** Exact URL path of the app's health check, e.g. `/healthz`. Pattern `^/[A-Za-z0-9._~/-]*$`. */
    healthPath: string;
  };
  /**
   * Directory for `berth-<siteName>.access.log` / `.error.log`.
   * @default "/var/log/nginx"
   */
  logDir?: string;
}

const SITE_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const BODY_SIZE = /^[0-9]{1,6}[kKmMgG]?$/;
const IPV4_OCTET = /^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** Validates a site name; shared with the install/remove scripts, which derive file names from it. */
export function checkSiteName(field: string, value: unknown): string {
  return matchString(field, value, SITE_NAME, "a site name: lowercase letter, then up to 30 of a-z 0-9 - (pattern ^[a-z][a-z0-9-]{0,30}$)");
}

function checkServerName(field: string, value: unknown): string {
  const allowed = "a lowercase hostname (RFC 1123 labels of a-z 0-9 -, optional leading *.)";
  if (typeof value !== "string") throw new RenderError(field, `must be a string (${allowed}), got ${show(value)}`);
  const labels = value.startsWith("*.") ? value.slice(2).split(".") : value.split(".");
  if (value.length > 253 || !labels.every((l) => LABEL.test(l))) {
    throw new RenderError(field, `must be ${allowed}, got ${show(value)}`);
  }
  return value;
}

function checkIpv4(field: string, value: unknown): string {
  const allowed = "an IPv4 address in dotted-quad form such as 127.0.0.1";
  if (typeof value !== "string" || !value.split(".").every((o) => IPV4_OCTET.test(o)) || value.split(".").length !== 4) {
    throw new RenderError(field, `must be ${allowed}, got ${show(value)}`);
  }
  return value;
}

function isObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RenderError(field, `must be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

// Mozilla "intermediate" list (TLS 1.2 AEAD suites with forward secrecy); TLS 1.3 suites are not configurable here.
const CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-GCM-SHA384",
].join(":");

// text/html is always compressed by nginx once gzip is on; listing it again only produces a warning.
const GZIP_TYPES = [
  "text/plain",
  "text/css",
  "text/xml",
  "text/javascript",
  "application/javascript",
  "application/json",
  "application/xml",
  "application/manifest+json",
  "image/svg+xml",
].join(" ");

const MAINTENANCE_PAGE =
  "<!doctype html><html><head><meta charset=utf-8><title>Maintenance</title></head>" +
  "<body><h1>Down for maintenance</h1><p>We will be back shortly.</p></body></html>";

/** Validates the whole spec; returns it with defaults applied. */
function validate(spec: NginxVhostSpec): Required<NginxVhostSpec> {
  isObject("spec", spec);
  const siteName = checkSiteName("siteName", spec.siteName);
  const serverNames = array<string>("serverNames", spec.serverNames, 1).map((n, i) => checkServerName(`serverNames[${i}]`, n));
  serverNames.forEach((n, i) => {
    // nginx only warns ("conflicting server name") and ignores the repeat; refuse it so the mistake is seen.
    if (serverNames.indexOf(n) !== i) throw new RenderError(`serverNames[${i}]`, `duplicates ${show(n)}`);
  });
  const listen = isObject("listen", spec.listen);
  const http = intInRange("listen.http", listen.http, 1, 65535);
  const https = intInRange("listen.https", listen.https, 1, 65535);
  let tls: NginxVhostSpec["tls"] = null;
  if (spec.tls !== null) {
    const t = isObject("tls", spec.tls);
    tls = { certificatePath: fsPath("tls.certificatePath", t.certificatePath), keyPath: fsPath("tls.keyPath", t.keyPath) };
    if (http === https) throw new RenderError("listen.https", `must differ from listen.http when tls is set, both are ${http}`);
  }
  const acmeWebroot = spec.acmeWebroot === null ? null : fsPath("acmeWebroot", spec.acmeWebroot);
  const up = isObject("upstream", spec.upstream);
  const upstream = { host: checkIpv4("upstream.host", up.host), port: intInRange("upstream.port", up.port, 1, 65535) };
  const staticRoot = spec.staticRoot === null ? null : fsPath("staticRoot", spec.staticRoot);
  const proxiedPaths = array<string>("proxiedPaths", spec.proxiedPaths).map((p, i) => urlPath(`proxiedPaths[${i}]`, p));
  proxiedPaths.forEach((p, i) => {
    // nginx refuses duplicate locations; `/` would collide with the SPA's own `location /`.
    if (proxiedPaths.indexOf(p) !== i) throw new RenderError(`proxiedPaths[${i}]`, `duplicates ${show(p)}`);
    if (p === "/") throw new RenderError(`proxiedPaths[${i}]`, `must not be "/" (set staticRoot to null to proxy everything)`);
  });
  const clientMaxBodySize = matchString("clientMaxBodySize", spec.clientMaxBodySize, BODY_SIZE, "a size: 1-6 digits with an optional k/m/g unit (pattern ^[0-9]{1,6}[kKmMgG]?$)");
  const gzip = bool("gzip", spec.gzip);
  let hsts: NginxVhostSpec["hsts"] = null;
  if (spec.hsts !== null) {
    const h = isObject("hsts", spec.hsts);
    hsts = {
      maxAgeSeconds: intInRange("hsts.maxAgeSeconds", h.maxAgeSeconds, 0, 315_360_000),
      includeSubDomains: bool("hsts.includeSubDomains", h.includeSubDomains),
    };
  }
  const m = isObject("maintenance", spec.maintenance);
  const maintenance = { enabled: bool("maintenance.enabled", m.enabled), healthPath: urlPath("maintenance.healthPath", m.healthPath) };
  const logDir = spec.logDir === undefined ? "/var/log/nginx" : fsPath("logDir", spec.logDir);
  return { siteName, serverNames, listen: { http, https }, tls, acmeWebroot, upstream, staticRoot, proxiedPaths, clientMaxBodySize, gzip, hsts, maintenance, logDir };
}

/** Renders the vhost; throws {@link RenderError} naming the field when a value is not allowed. */
export function renderNginxVhost(spec: NginxVhostSpec): string {
  const s = validate(spec);
  // nginx variable names allow only [A-Za-z0-9_]; site names never contain `_`, so this mapping stays unique.
  const id = s.siteName.replace(/-/g, "_");
  const upstreamName = `berth_${s.siteName}`;
  const upgradeVar = `$berth_${id}_upgrade`;
  const connectionVar = `$berth_${id}_connection`;
  const out: string[] = [];
  const line = (depth: number, text: string) => out.push(`${"    ".repeat(depth)}${text}`);

  const logs = (d: number) => {
    line(d, `access_log ${s.logDir}/berth-${s.siteName}.access.log;`);
    line(d, `error_log ${s.logDir}/berth-${s.siteName}.error.log;`);
  };
  const acme = (d: number) => {
    if (s.acmeWebroot === null) return;
    line(d, "location ^~ /.well-known/acme-challenge/ {");
    line(d + 1, `root ${s.acmeWebroot};`);
    line(d + 1, "default_type text/plain;");
    line(d, "}");
  };
  // add_header in a block replaces (not extends) the inherited ones, so any
  // location that adds its own header repeats the security headers.
  const securityHeaders = (d: number) => {
    line(d, 'add_header X-Content-Type-Options "nosniff" always;');
    line(d, 'add_header X-Frame-Options "SAMEORIGIN" always;');
    line(d, 'add_header Referrer-Policy "strict-origin-when-cross-origin" always;');
    if (s.tls !== null && s.hsts !== null) {
      const value = `max-age=${s.hsts.maxAgeSeconds}${s.hsts.includeSubDomains ? "; includeSubDomains" : ""}`;
      line(d, `add_header Strict-Transport-Security "${value}" always;`);
    }
  };
  const proxy = (d: number) => {
    line(d, `proxy_pass http://${upstreamName};`);
    line(d, "proxy_http_version 1.1;");
    line(d, `proxy_set_header Upgrade ${upgradeVar};`);
    line(d, `proxy_set_header Connection ${connectionVar};`);
    // $host matched server_name to get here: a name no site serves goes to the port's default server.
    line(d, "proxy_set_header Host $host;");
    line(d, "proxy_set_header X-Real-IP $remote_addr;");
    line(d, "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;");
    line(d, "proxy_set_header X-Forwarded-Proto $scheme;");
    // Set, not passed through: an app that builds links or checks origins from X-Forwarded-Host
    // would otherwise trust whatever name the client wrote there.
    line(d, "proxy_set_header X-Forwarded-Host $host;");
    line(d, "proxy_connect_timeout 5s;");
    line(d, "proxy_send_timeout 60s;");
    // Websockets idle longer than a minute; the app should ping within this.
    line(d, "proxy_read_timeout 300s;");
  };
  const site = (d: number) => {
    line(d, `client_max_body_size ${s.clientMaxBodySize};`);
    if (s.gzip) {
      line(d, "gzip on;");
      line(d, "gzip_vary on;");
      line(d, "gzip_proxied any;");
      line(d, "gzip_comp_level 5;");
      line(d, "gzip_min_length 256;");
      line(d, `gzip_types ${GZIP_TYPES};`);
    } else {
      // Debian's stock nginx.conf turns gzip on at http level; say so explicitly.
      line(d, "gzip off;");
    }
    securityHeaders(d);
    if (s.staticRoot !== null) line(d, `root ${s.staticRoot};`);
    if (s.maintenance.enabled) {
      line(d, `location = ${s.maintenance.healthPath} {`);
      proxy(d + 1);
      line(d, "}");
      line(d, "location / {");
      securityHeaders(d + 1);
      line(d + 1, 'add_header Retry-After "300" always;');
      line(d + 1, "default_type text/html;");
      line(d + 1, `return 503 '${MAINTENANCE_PAGE}';`);
      line(d, "}");
      return;
    }
    if (s.staticRoot !== null) {
      line(d, "location / {");
      line(d + 1, "try_files $uri $uri/ /index.html;");
      line(d, "}");
      for (const p of s.proxiedPaths) {
        line(d, `location ^~ ${p} {`);
        proxy(d + 1);
        line(d, "}");
      }
    } else {
      line(d, "location / {");
      proxy(d + 1);
      line(d, "}");
    }
  };

  out.push(`# berth site "${s.siteName}". Generated by berth; local edits are overwritten on the next deploy.`);
  out.push("");
  // Only a websocket upgrade is passed on (the token matched without case, as RFC 6455 allows). After
  // the app answers 101 nginx stops parsing and relays bytes both ways, so any other protocol a client
  // asks for (h2c above all) would open a tunnel straight to the app, past every rule in this file.
  line(0, `map $http_upgrade ${upgradeVar} {`);
  line(1, "default '';");
  line(1, "~*^websocket$ websocket;");
  line(0, "}");
  out.push("");
  // Connection "upgrade" only with that websocket Upgrade; empty otherwise, so nginx sends no Connection
  // header and plain requests keep the upstream keepalive.
  line(0, `map ${upgradeVar} ${connectionVar} {`);
  line(1, "default '';");
  line(1, "websocket upgrade;");
  line(0, "}");
  out.push("");
  line(0, `upstream ${upstreamName} {`);
  line(1, `server ${s.upstream.host}:${s.upstream.port};`);
  line(1, "keepalive 16;");
  line(0, "}");
  out.push("");
  line(0, "server {");
  line(1, `listen ${s.listen.http};`);
  line(1, `server_name ${s.serverNames.join(" ")};`);
  line(1, "server_tokens off;");
  logs(1);
  acme(1);
  if (s.tls !== null) {
    const port = s.listen.https === 443 ? "" : `:${s.listen.https}`;
    line(1, "location / {");
    line(2, `return 301 https://$host${port}$request_uri;`);
    line(1, "}");
  } else {
    site(1);
  }
  line(0, "}");
  if (s.tls !== null) {
    out.push("");
    line(0, "server {");
    // `listen ... http2` rather than `http2 on;`: the latter needs nginx >= 1.25.1, bookworm ships 1.22.
    line(1, `listen ${s.listen.https} ssl http2;`);
    line(1, `server_name ${s.serverNames.join(" ")};`);
    line(1, "server_tokens off;");
    logs(1);
    line(1, `ssl_certificate ${s.tls.certificatePath};`);
    line(1, `ssl_certificate_key ${s.tls.keyPath};`);
    line(1, "ssl_protocols TLSv1.2 TLSv1.3;");
    line(1, `ssl_ciphers ${CIPHERS};`);
    line(1, "ssl_prefer_server_ciphers off;");
    line(1, `ssl_session_cache shared:berth_${id}:10m;`);
    line(1, "ssl_session_timeout 1d;");
    line(1, "ssl_session_tickets off;");
    site(1);
    line(0, "}");
  }
  return out.join("\n") + "\n";
}

/**
 * berth's catch-all for one port: the `default_server` every berth site on that port shares, which
 * turns away every name no site serves. Without it nginx hands a request for an unknown Host (or a
 * TLS handshake for an unknown SNI name) to the first server on the port — some berth site — whose
 * app then sees `Host: evil.example` (and builds links, cookies and password-reset mails from it).
 */
export interface NginxDefaultServerSpec {
  /** TCP port 1-65535. */
  port: number;
  /**
   * Whether berth sites use the port for TLS. The handshake for a name no site serves (or no name:
   * a client without SNI) fails with an `unrecognized_name` alert, so no certificate is shown; a
   * request that gets through with a known name but an unknown Host is closed without an answer.
   * Plain HTTP: every request whose Host no site serves is closed without an answer (nginx's 444).
   */
  tls: boolean;
}

/** The catch-alls a vhost's ports need: its plain port, and its TLS port when it has TLS. */
export function nginxDefaultServers(spec: Pick<NginxVhostSpec, "listen" | "tls">): NginxDefaultServerSpec[] {
  const plain = { port: spec.listen.http, tls: false };
  return spec.tls === null ? [plain] : [plain, { port: spec.listen.https, tls: true }];
}

/** Renders one catch-all server (an http-level include, like the vhost). */
export function renderNginxDefaultServer(spec: NginxDefaultServerSpec): string {
  isObject("spec", spec);
  const port = intInRange("port", spec.port, 1, 65535);
  const tls = bool("tls", spec.tls);
  const out = [
    `# berth: the default server of port ${port}, shared by every berth site that listens on it; it turns`,
    "# away every name no site serves. Generated by berth; removed with the last berth site on the port.",
    "server {",
  ];
  if (tls) {
    // ssl_reject_handshake (nginx >= 1.19.4) needs no certificate, so no site's certificate is shown to a
    // client that asked for another name.
    out.push(`    listen ${port} ssl default_server;`, "    ssl_reject_handshake on;");
  } else {
    out.push(`    listen ${port} default_server;`);
  }
  // 444: nginx closes the connection without a response.
  out.push("    return 444;", "}");
  return out.join("\n") + "\n";
}
