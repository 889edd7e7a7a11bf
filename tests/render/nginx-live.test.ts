/**
 * Rendered vhosts served by a real nginx from a throwaway prefix on high ports, in front of small
 * Node upstreams, installed and removed by berth's own site scripts (their `nginx -t`, catch-alls
 * and reload with its waits, against this master): checks what nginx -t cannot (the redirect, SPA
 * fallback, proxy headers, which upgrades pass, maintenance 503, the default server that turns
 * unknown names away, and a switch that leaves nothing routed to the old upstream).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import net from "node:net";
import tls from "node:tls";
import { join } from "node:path";
import { nginxDefaultServers, renderNginxVhost, type NginxVhostSpec } from "../../renderers/nginx-vhost";
import { renderInstallNginxSiteScript, renderRemoveNginxSiteScript } from "../../renderers/remote-scripts";
import { liveNginx, selfSignedCert, tempDir, type LiveNginx } from "./helpers";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(opts: { tls: boolean; port: number; host: string; path: string; headers?: Record<string, string>; servername?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = (opts.tls ? https : http).request(
      {
        host: "127.0.0.1",
        port: opts.port,
        path: opts.path,
        headers: { Host: opts.host, ...opts.headers },
        servername: opts.servername ?? opts.host,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** What a request ends in: `HTTP <status>` when an answer came, else the error's code. */
async function outcome(opts: Parameters<typeof request>[0]): Promise<string> {
  try {
    return `HTTP ${(await request(opts)).status}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** A TLS handshake for `servername` (none when empty): `ok`, or the error's code. */
function handshake(port: number, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      socket.destroy();
      resolve("ok");
    });
    socket.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** A websocket-style upgrade request: the status nginx answers. */
function upgrade(port: number, host: string, path: string, value: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: "127.0.0.1",
      port,
      path,
      servername: host,
      rejectUnauthorized: false,
      agent: false,
      headers: { Host: host, Connection: "Upgrade", Upgrade: value },
    });
    req.on("upgrade", (res, socket) => (socket.destroy(), resolve(res.statusCode ?? 0)));
    req.on("response", (res) => (res.resume(), resolve(res.statusCode ?? 0)));
    req.on("error", reject);
    req.end();
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A small upstream: records each request's headers, answers `<name> <url>`, or 101 to an upgrade.
 * `/api/held` is answered only once `release()` is called.
 */
async function upstream(name: string) {
  const seen: http.IncomingHttpHeaders[] = [];
  const held: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    const answer = () => {
      res.setHeader("content-type", "text/plain");
      res.end(`${name} ${req.url}`);
    };
    if (req.url === "/api/held") held.push(answer);
    else answer();
  });
  server.on("upgrade", (req, socket) => {
    seen.push(req.headers);
    socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    seen,
    port: (server.address() as AddressInfo).port,
    release: () => held.splice(0).forEach((answer) => answer()),
    close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())),
  };
}

describe("rendered vhosts served by a real nginx", () => {
  let app: Awaited<ReturnType<typeof upstream>>;
  let nginx: LiveNginx;
  let ports: { http: number; https: number };
  let common: Omit<NginxVhostSpec, "siteName" | "serverNames">;

  const install = async (spec: NginxVhostSpec) => {
    const r = await nginx.runScript(renderInstallNginxSiteScript({ siteName: spec.siteName, content: renderNginxVhost(spec), defaultServers: nginxDefaultServers(spec), confDir: nginx.sites }));
    expect(r.exitCode, `install ${spec.siteName}:\n${r.stderr}\n${nginx.errorLog()}`).toBe(0);
    return r;
  };
  const remove = async (siteName: string) => {
    const r = await nginx.runScript(renderRemoveNginxSiteScript({ siteName, confDir: nginx.sites }));
    expect(r.exitCode, `remove ${siteName}:\n${r.stderr}`).toBe(0);
    return r;
  };
  const shop = (): NginxVhostSpec => ({ ...common, siteName: "shop", serverNames: ["shop.test"] });

  beforeAll(async () => {
    app = await upstream("upstream");
    ports = { http: await freePort(), https: await freePort() };

    // nginx workers run as nobody: the served directories must be world-readable.
    const www = tempDir("www");
    chmodSync(www, 0o755);
    mkdirSync(join(www, "public/assets"), { recursive: true, mode: 0o755 });
    mkdirSync(join(www, "acme/.well-known/acme-challenge"), { recursive: true, mode: 0o755 });
    writeFileSync(join(www, "public/index.html"), "<p>spa</p>\n", { mode: 0o644 });
    writeFileSync(join(www, "public/assets/app.js"), "console.log(1);\n", { mode: 0o644 });
    writeFileSync(join(www, "acme/.well-known/acme-challenge/token123"), "token123.key\n", { mode: 0o644 });

    nginx = await liveNginx();
    const { cert, key } = await selfSignedCert();
    common = {
      listen: ports,
      tls: { certificatePath: cert, keyPath: key },
      acmeWebroot: join(www, "acme"),
      upstream: { host: "127.0.0.1", port: app.port },
      staticRoot: join(www, "public"),
      proxiedPaths: ["/api", "/auth"],
      clientMaxBodySize: "1m",
      gzip: true,
      hsts: { maxAgeSeconds: 600, includeSubDomains: true },
      maintenance: { enabled: false, healthPath: "/healthz" },
      logDir: nginx.logs,
    };
    await install(shop());
    await install({ ...common, siteName: "down", serverNames: ["down.test"], tls: null, staticRoot: null, maintenance: { enabled: true, healthPath: "/healthz" } });
    await install({ ...common, siteName: "down-tls", serverNames: ["down-tls.test"], maintenance: { enabled: true, healthPath: "/healthz" } });
  });

  afterAll(async () => {
    await nginx?.stop();
    app?.release();
    await app?.close();
  });

  it("plain HTTP redirects to HTTPS with host, non-443 port and URI kept", async () => {
    const r = await request({ tls: false, port: ports.http, host: "shop.test", path: "/a/b?c=d" });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe(`https://shop.test:${ports.https}/a/b?c=d`);
  });

  it("ACME challenges are served over plain HTTP, even for a site in maintenance", async () => {
    for (const host of ["shop.test", "down.test", "down-tls.test"]) {
      const r = await request({ tls: false, port: ports.http, host, path: "/.well-known/acme-challenge/token123" });
      expect(r.status, host).toBe(200);
      expect(r.body).toBe("token123.key\n");
      expect(r.headers["content-type"]).toBe("text/plain");
    }
  });

  it("serves static files and falls back to index.html for client-side routes, with security headers and HSTS", async () => {
    const asset = await request({ tls: true, port: ports.https, host: "shop.test", path: "/assets/app.js" });
    expect(asset.status).toBe(200);
    expect(asset.body).toBe("console.log(1);\n");
    const route = await request({ tls: true, port: ports.https, host: "shop.test", path: "/orders/42" });
    expect(route.status).toBe(200);
    expect(route.body).toBe("<p>spa</p>\n");
    expect(route.headers["x-content-type-options"]).toBe("nosniff");
    expect(route.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(route.headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
    expect(route.headers["strict-transport-security"]).toBe("max-age=600; includeSubDomains");
  });

  it("proxies /api with forwarding headers and no Connection header on plain requests (upstream keepalive)", async () => {
    app.seen.length = 0;
    const r = await request({ tls: true, port: ports.https, host: "shop.test", path: "/api/items?x=1" });
    expect(r.status).toBe(200);
    expect(r.body).toBe("upstream /api/items?x=1");
    expect(app.seen[0]).toMatchObject({ host: "shop.test", "x-real-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "https", "x-forwarded-host": "shop.test" });
    expect(app.seen[0]!.connection).toBeUndefined();
    expect(app.seen[0]!.upgrade).toBeUndefined();
  });

  it("the app sees the served name in X-Forwarded-Host, never the one the client wrote there", async () => {
    app.seen.length = 0;
    const r = await request({ tls: true, port: ports.https, host: "shop.test", path: "/api/me", headers: { "X-Forwarded-Host": "evil.example" } });
    expect(r.status).toBe(200);
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0]!["x-forwarded-host"]).toBe("shop.test");
    expect(JSON.stringify(app.seen[0])).not.toContain("evil.example");
  });

  it("passes websocket upgrades through, the token in any case", async () => {
    for (const value of ["websocket", "WebSocket"]) {
      app.seen.length = 0;
      expect(await upgrade(ports.https, "shop.test", "/auth/ws", value), value).toBe(101);
      expect(app.seen[0]).toMatchObject({ upgrade: "websocket", connection: "upgrade" });
    }
  });

  it("never passes another upgrade (h2c): the app gets a plain request without Upgrade or Connection", async () => {
    for (const value of ["h2c", "websocket, h2c", "TLS/1.0"]) {
      app.seen.length = 0;
      expect(await upgrade(ports.https, "shop.test", "/api/h2c", value), value).toBe(200);
      expect(app.seen, value).toHaveLength(1);
      expect(app.seen[0]!.upgrade, value).toBeUndefined();
      expect(app.seen[0]!.connection, value).toBeUndefined();
    }
  });

  it.each([
    ["plain site", false, "down.test"],
    ["TLS site", true, "down-tls.test"],
  ] as const)("maintenance (%s): 503 page with Retry-After everywhere except the exact health path", async (_name, tls, host) => {
    const port = tls ? ports.https : ports.http;
    for (const path of ["/", "/api/items", "/index.html", "/healthz/extra", "/healthzz"]) {
      const r = await request({ tls, port, host, path });
      expect(r.status, path).toBe(503);
      expect(r.headers["retry-after"]).toBe("300");
      expect(r.headers["content-type"]).toBe("text/html");
      expect(r.headers["x-frame-options"]).toBe("SAMEORIGIN");
      expect(r.headers["strict-transport-security"]).toBe(tls ? "max-age=600; includeSubDomains" : undefined);
      expect(r.body).toContain("Down for maintenance");
    }
    const health = await request({ tls, port, host, path: "/healthz" });
    expect(health.status).toBe(200);
    expect(health.body).toBe("upstream /healthz");
  });

  it("turns away names no site serves: no answer over HTTP, a failed handshake over TLS, and the app never sees them", async () => {
    app.seen.length = 0;
    // nginx's 444 closes the connection without a response.
    expect(await outcome({ tls: false, port: ports.http, host: "evil.example", path: "/api/x" })).toBe("ECONNRESET");
    expect(await handshake(ports.https, "evil.example")).toBe("ERR_SSL_TLSV1_UNRECOGNIZED_NAME");
    expect(await handshake(ports.https, "")).toBe("ERR_SSL_TLSV1_UNRECOGNIZED_NAME");
    // A known SNI name does not carry an unknown Host past the catch-all either.
    expect(await outcome({ tls: true, port: ports.https, host: "evil.example", servername: "shop.test", path: "/api/x" })).toBe("ECONNRESET");
    expect(app.seen).toEqual([]);
    // The served names are untouched.
    expect(await handshake(ports.https, "shop.test")).toBe("ok");
    expect(await outcome({ tls: true, port: ports.https, host: "shop.test", path: "/api/x" })).toBe("HTTP 200");
    expect(await outcome({ tls: false, port: ports.http, host: "down.test", path: "/healthz" })).toBe("HTTP 200");
  });

  // What the old release needs to stay up for. The master starts the new workers, sleeps 100 ms and
  // only then tells the old ones to quit; until they take that signal they still accept connections,
  // and they serve everything they accepted with the old configuration's upstream.
  it("a switch returns only when no worker of the old configuration is left, after the requests they held", async () => {
    app.seen.length = 0;
    const held = request({ tls: true, port: ports.https, host: "shop.test", path: "/api/held" });
    const started = Date.now();
    while (app.seen.length === 0 && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(app.seen, "the upstream got the held request").toHaveLength(1);
    const before = nginx.workers();
    expect(before.length).toBeGreaterThan(0);

    let returned = false;
    const switched = install({ ...shop(), clientMaxBodySize: "2m" }).finally(() => (returned = true));
    // The new generation is up, and the old one still holds the request: the switch has not returned.
    while (!nginx.workers().some((pid) => !before.includes(pid)) && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    expect(returned, "the switch returned while an old worker still held a request").toBe(false);
    expect(before.some((pid) => nginx.isWorker(pid))).toBe(true);

    app.release();
    expect((await held).body).toBe("upstream /api/held");
    await switched;
    expect(before.filter((pid) => nginx.isWorker(pid)), "old workers left after the switch").toEqual([]);
  });

  it("the catch-alls are shared: removing a site keeps them while another listens there, the last one takes them", async () => {
    const defaults = [`berth-default.${ports.http}.conf`, `berth-default.${ports.https}.conf`].sort();
    const berthFiles = () => readdirSync(nginx.sites).filter((f) => f.endsWith(".conf")).sort();
    expect(berthFiles()).toEqual(["berth-down-tls.conf", "berth-down.conf", ...defaults, "berth-shop.conf"].sort());

    await remove("down");
    await remove("down-tls");
    expect(berthFiles()).toEqual([...defaults, "berth-shop.conf"].sort());
    expect(await outcome({ tls: false, port: ports.http, host: "evil.example", path: "/" })).toBe("ECONNRESET");
    expect(await handshake(ports.https, "evil.example")).toBe("ERR_SSL_TLSV1_UNRECOGNIZED_NAME");
    expect(await outcome({ tls: false, port: ports.http, host: "down.test", path: "/healthz" })).toBe("ECONNRESET");
    expect(await outcome({ tls: true, port: ports.https, host: "shop.test", path: "/api/x" })).toBe("HTTP 200");

    const last = await remove("shop");
    expect(last.stdout).toContain(`no berth site listens on port ${ports.http} any more`);
    expect(berthFiles()).toEqual([]);
    expect(existsSync(join(nginx.sites, `berth-default.${ports.https}.conf`))).toBe(false);
    // Nothing of berth's listens any more.
    expect(await outcome({ tls: false, port: ports.http, host: "shop.test", path: "/" })).toBe("ECONNREFUSED");
  });
});
