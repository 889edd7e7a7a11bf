/**
 * `docker:index/network:Network` (Terraform `docker_network`), SEMANTICS.md §4 and
 * KD:internal/provider/resource_docker_network{,_funcs}.go:
 * - every input replaces and there is no Update; `name` is auto-named, and a program-set `name`
 *   makes the replace delete-before-create (§0);
 * - Create: `NetworkCreate`, with CheckDuplicate (the Go client sets it on API < 1.44), so an
 *   existing name fails; the ID is the network ID; Create ends with Read;
 * - Read waits about 2 s (StateChangeConf Delay) before inspecting; ANY inspect error drops the
 *   network from state; `name`, `labels`, `driver`, `options`, `internal`, `attachable`,
 *   `ipamDriver`, `scope` are read back (so out-of-band label changes plan a replace);
 * - Delete: after the same 2 s, inspect (gone = removed), then `NetworkRemove`, retrying
 *   "has active endpoints" (≥5 s apart) for up to 30 s.
 * `ipamDriver` is implemented because the bridge fills its Terraform default ("default") into
 * every Network's inputs; `ingress`, `ipv6`, `ipamConfigs`, `ipamOptions` are not.
 */
import { InitFailedError, type ResourceDefinition } from "../runtime/definition";
import { type Props, UNKNOWN } from "../runtime/properties";
import type { PropertyTypes } from "../runtime/types";
import { bridgeCheck, bridgeDiff, plainInputs, refreshInputs, withBridgeErrors } from "./bridge";
import { clientFor, type DockerClient, type DockerConfig, errorContains } from "./connection";
import { retryUntil } from "./retry";
import { type Label, labelSet, labelsToMap, mapToLabels } from "./terraform-set";

export const TOKEN = "docker:index/network:Network";

const label = { object: { label: "string", value: "string" }, required: ["label", "value"] } as const;

const INPUTS: PropertyTypes = {
  name: "string",
  labels: { array: label },
  driver: "string",
  options: { map: "string" },
  internal: "boolean",
  attachable: "boolean",
  ipamDriver: "string",
};
const OUTPUTS: PropertyTypes = { scope: "string" };

const REPLACE = Object.keys(INPUTS);
/** Optional+Computed: `driver`, `options`, `internal` (resource_docker_network.go). */
const COMPUTED = ["driver", "options", "internal"] as const;

const DIFF = { inputs: INPUTS, replace: REPLACE, computed: COMPUTED, sets: ["labels"], autoNamed: true };

/** StateChangeConf Delay of the read and remove waits (funcs.go:17-24). */
export const READ_DELAY_MS = 2000;

interface NetworkInspect {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Internal: boolean;
  Attachable: boolean;
  IPAM: { Driver: string } | null;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stateFrom(n: NetworkInspect): Props {
  return {
    name: n.Name,
    labels: mapToLabels(n.Labels),
    driver: n.Driver,
    internal: n.Internal,
    attachable: n.Attachable,
    ipamDriver: n.IPAM?.Driver ?? "",
    scope: n.Scope,
    options: n.Options ?? {},
  };
}

/** resourceDockerNetworkRead: the delayed inspect; `null` when the network is gone (or any error). */
async function readNetwork(client: DockerClient, id: string): Promise<NetworkInspect | null> {
  await sleep(READ_DELAY_MS);
  try {
    return await client.call<NetworkInspect>("GET", `/networks/${encodeURIComponent(id)}`);
  } catch {
    return null;
  }
}

export const network: ResourceDefinition<DockerConfig> = withBridgeErrors({
  token: TOKEN,
  inputs: INPUTS,
  outputs: OUTPUTS,
  check(news, olds, ctx) {
    return bridgeCheck({ provider: "docker", token: TOKEN, inputs: INPUTS, defaults: { ipamDriver: "default" }, autoNamed: true }, news, olds, ctx);
  },
  diff({ olds, news }) {
    return bridgeDiff(olds, news, DIFF);
  },
  async create(inputs, ctx) {
    const p = plainInputs(inputs, INPUTS);
    if (ctx.preview) {
      return {
        id: "",
        outputs: {
          ...p,
          labels: p.labels ? labelSet(p.labels as Label[]) : [],
          driver: p.driver ?? UNKNOWN,
          options: p.options ?? UNKNOWN,
          internal: p.internal ?? UNKNOWN,
          scope: UNKNOWN,
        },
      };
    }
    const client = await clientFor(ctx.config);
    const body: Record<string, unknown> = { Name: p.name, Labels: labelsToMap(p.labels) };
    // The Go client asks the daemon to refuse duplicate names on API < 1.44.
    if (Number(client.apiVersion.split(".")[1]) < 44 && client.apiVersion.startsWith("1.")) body.CheckDuplicate = true;
    if (p.driver) body.Driver = p.driver;
    if (p.options && Object.keys(p.options).length > 0) body.Options = p.options;
    if (p.internal) body.Internal = true;
    if (p.attachable) body.Attachable = true;
    if (p.ipamDriver) body.IPAM = { Driver: p.ipamDriver };
    let id: string;
    try {
      id = (await client.call<{ Id: string }>("POST", "/networks/create", { body })).Id;
    } catch (e) {
      throw new Error(`Unable to create network: ${(e as Error).message}`);
    }
    const n = await readNetwork(client, id).catch((e: Error) => {
      throw new InitFailedError(e.message, id, { ...p });
    });
    if (!n) throw new Error(`network ${id} vanished right after it was created`);
    return { id, outputs: stateFrom(n) };
  },
  async read({ id, inputs }, ctx) {
    const client = await clientFor(ctx.config);
    const n = await readNetwork(client, id);
    if (!n) return null;
    const outputs = stateFrom(n);
    return { id, outputs, inputs: refreshInputs(inputs, outputs) };
  },
  async update({ id, olds }) {
    // docker_network has no Update function: SDKv2 answers "doesn't support update" with the prior
    // state (only reachable for a network left with init errors, since every input replaces).
    throw new InitFailedError("doesn't support update", id, olds);
  },
  async delete({ id }, ctx) {
    const client = await clientFor(ctx.config);
    await retryUntil({ delayMs: READ_DELAY_MS, minIntervalMs: 5000, timeoutMs: 30_000, target: "removed", pending: "pending" }, async () => {
      try {
        await client.call("GET", `/networks/${encodeURIComponent(id)}`);
      } catch {
        return "removed"; // not found (or any inspect error): already removed
      }
      try {
        await client.call("DELETE", `/networks/${encodeURIComponent(id)}`);
        return "removed";
      } catch (e) {
        if (errorContains(e, "has active endpoints")) return "pending";
        throw e;
      }
    });
  },
});
