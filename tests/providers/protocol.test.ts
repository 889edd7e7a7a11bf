/**
 * The stand-ins as the engine meets them: each launcher that `scripts/standins.sh` writes starts a
 * plugin that prints its port, answers GetPluginInfo with the pinned version, and declares the same
 * protocol capabilities as the real provider (SEMANTICS.md §0). `acceptSecrets` decides how the
 * engine marks outputs secret, so a stand-in that differed would make a secret look safe in tests
 * and leak in production, or the reverse.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import type * as pluginproto from "@pulumi/pulumi/proto/plugin_pb";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, STAND_INS, type StandInName } from "./stand-ins";

/** The real providers' capabilities, from SEMANTICS.md §0 (with its citations). */
const REAL: Record<StandInName, { version: string; acceptSecrets: boolean; supportsPreview: boolean; why: string }> = {
  docker: { version: "5.0.0", acceptSecrets: false, supportsPreview: true, why: "§0: the SDKv2 bridge's Configure sets only SupportsPreview (TB provider.go:923-926); no Handshake" },
  random: { version: "4.21.1", acceptSecrets: false, supportsPreview: true, why: "§0: the plugin-framework bridge answers AcceptSecrets false (provider_server.go:337)" },
  cloudflare: { version: "6.17.0", acceptSecrets: false, supportsPreview: true, why: "§0: cloudflare is plugin-framework too" },
  command: { version: "1.2.1", acceptSecrets: true, supportsPreview: true, why: "§0: pulumi-go-provider answers AcceptSecrets true (GP provider.go:795)" },
};

const plugins: Array<{ name: StandInName; child: ChildProcess; client: provrpc.ResourceProviderClient }> = [];
let pluginBin = "";

function unary<Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r))));
}

async function start(name: StandInName) {
  const child = spawn(path.join(pluginBin, `pulumi-resource-${name}`), ["127.0.0.1:1"], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`pulumi-resource-${name} exited (${code}) before printing its port`)));
    setTimeout(() => reject(new Error(`pulumi-resource-${name} printed no port in 30 s`)), 30_000);
  });
  const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  plugins.push({ name, child, client });
  return client;
}

beforeAll(async () => {
  const r = await execa("bash", ["scripts/standins.sh", "ensure"], { cwd: REPO });
  pluginBin = r.stdout.trim();
});

afterAll(() => {
  for (const p of plugins) {
    p.client.close();
    p.child.kill();
  }
});

describe.each(STAND_INS)("the %s stand-in's launcher", (name) => {
  it("starts a plugin that answers GetPluginInfo with the pinned version", async () => {
    const client = await start(name);
    const info = await unary<emptyproto.Empty, pluginproto.PluginInfo>(client.getPluginInfo.bind(client), new emptyproto.Empty());
    expect(info.getVersion()).toBe(REAL[name].version);
  });

  it(`declares the real provider's capabilities (${REAL[name].why})`, async () => {
    const client = plugins.find((p) => p.name === name)?.client ?? (await start(name));
    const req = new provproto.ConfigureRequest();
    // What the engine sends for a default provider with no config (docker's host comes from its default).
    req.setArgs(structproto.Struct.fromJavaScript(name === "cloudflare" ? { apiToken: "conformance-token" } : {}));
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    const resp = await unary<provproto.ConfigureRequest, provproto.ConfigureResponse>(client.configure.bind(client), req);
    expect({ acceptSecrets: resp.getAcceptsecrets(), supportsPreview: resp.getSupportspreview() }).toEqual({
      acceptSecrets: REAL[name].acceptSecrets,
      supportsPreview: REAL[name].supportsPreview,
    });
  });
});
