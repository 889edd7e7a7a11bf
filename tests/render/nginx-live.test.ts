/**
 * Rendered vhosts served by a real nginx from a throwaway prefix on high
 * ports, in front of a small Node upstream: checks what nginx -t cannot (the
 * redirect, SPA fallback, proxy headers, websocket upgrade, maintenance 503).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa, type ResultPromise } from "execa";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { join } from "node:path";
import { renderNginxVhost, type NginxVhostSpec } from "../../renderers/nginx-vhost";
import { PATH, nginxPrefix, selfSignedCert, tempDir } from "./helpers";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(opts: { tls: boolean; port: number; host: string; path: string; headers?: Record<string, string> }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = (opts.tls ? https : http).request(
      { host: "127.0.0.1", port: opts.port, path: opts.path, headers: { Host: opts.host, ...opts.headers }, servername: opts.host, rejectUnauthorized: false, agent: false },
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

async function waitForPort(port: number, nginxLog: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => (c.end(), resolve(true)));
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not listen on ${port}:\n${nginxLog()}`);
}

describe("rendered vhosts served by a real nginx", () => {
  const seen: http.IncomingHttpHeaders[] = [];
  let upstream: http.Server;
  let nginx: ResultPromise | undefined;
  let ports: { http: number; https: number };
  let errorLog = "";

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader("content-type", "text/plain");
      res.end(`upstream ${req.url}`);
    });
    upstream.on("upgrade", (req, socket) => {
      seen.push(req.headers);
      socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    ports = { http: await freePort(), https: await freePort() };

    // nginx workers run as nobody: the served directories must be world-readable.
    const www = tempDir("www");
    chmodSync(www, 0o755);
    mkdirSync(join(www, "public/assets"), { recursive: true, mode: 0o755 });
    mkdirSync(join(www, "acme/.well-known/acme-challenge"), { recursive: true, mode: 0o755 });
    writeFileSync(join(www, "public/index.html"), "<p>spa</p>\n", { mode: 0o644 });
    writeFileSync(join(www, "public/assets/app.js"), "console.log(1);\n", { mode: 0o644 });
    writeFileSync(join(www, "acme/.well-known/acme-challenge/token123"), "token123.key\n", { mode: 0o644 });

    const n = nginxPrefix();
    errorLog = join(n.logs, "error.log");
    const { cert, key } = await selfSignedCert();
    const common: Omit<NginxVhostSpec, "siteName" | "serverNames"> = {
      listen: ports,
      tls: { certificatePath: cert, keyPath: key },
      acmeWebroot: join(www, "acme"),
      upstream: { host: "127.0.0.1", port: upstreamPort },
      staticRoot: join(www, "public"),
      proxiedPaths: ["/api", "/auth"],
      clientMaxBodySize: "1m",
      gzip: true,
      hsts: { maxAgeSeconds: 600, includeSubDomains: true },
      maintenance: { enabled: false, healthPath: "/healthz" },
      logDir: n.logs,
    };
    writeFileSync(join(n.sites, "berth-shop.conf"), renderNginxVhost({ ...common, siteName: "shop", serverNames: ["shop.test"] }));
    writeFileSync(
      join(n.sites, "berth-down.conf"),
      renderNginxVhost({ ...common, siteName: "down", serverNames: ["down.test"], tls: null, staticRoot: null, maintenance: { enabled: true, healthPath: "/healthz" } }),
    );
    writeFileSync(
      join(n.sites, "berth-down-tls.conf"),
      renderNginxVhost({ ...common, siteName: "down-tls", serverNames: ["down-tls.test"], maintenance: { enabled: true, healthPath: "/healthz" } }),
    );
    const args = [...n.args];
    args[args.length - 1] += " daemon off;";
    nginx = execa("nginx", args, { reject: false, env: { PATH } });
    const readLog = () => {
      try {
        return readFileSync(errorLog, "utf8");
      } catch {
        return "(no error log)";
      }
    };
    await Promise.race([
      waitForPort(ports.https, readLog),
      nginx.then((r) => {
        throw new Error(`nginx exited (${r.exitCode}):\n${r.stderr}\n${readLog()}`);
      }),
    ]);
  });

  afterAll(async () => {
    // Only the nginx master this file started; its workers exit with it.
    if (nginx?.pid !== undefined) {
      nginx.kill("SIGQUIT");
      await nginx;
    }
    await new Promise((r) => upstream?.close(r));
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
    seen.length = 0;
    const r = await request({ tls: true, port: ports.https, host: "shop.test", path: "/api/items?x=1" });
    expect(r.status).toBe(200);
    expect(r.body).toBe("upstream /api/items?x=1");
    expect(seen[0]).toMatchObject({ host: "shop.test", "x-real-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "https" });
    expect(seen[0]!.connection).toBeUndefined();
  });

  it("passes websocket upgrades through", async () => {
    seen.length = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request({
        host: "127.0.0.1",
        port: ports.https,
        path: "/auth/ws",
        servername: "shop.test",
        rejectUnauthorized: false,
        agent: false,
        headers: { Host: "shop.test", Connection: "Upgrade", Upgrade: "websocket" },
      });
      req.on("upgrade", (res, socket) => (socket.destroy(), resolve(res.statusCode ?? 0)));
      req.on("response", (res) => resolve(res.statusCode ?? 0));
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(101);
    expect(seen[0]).toMatchObject({ upgrade: "websocket", connection: "upgrade" });
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
});
