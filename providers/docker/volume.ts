/**
 * `docker:index/volume:Volume` (Terraform `docker_volume`), SEMANTICS.md §5 and
 * KD:internal/provider/resource_docker_volume.go:
 * - every implemented input replaces (`name`, `driver`, `driverOpts`, `labels`); `name` is
 *   auto-named and, when the program sets it, makes the replace delete-before-create (§0);
 * - Create is a plain `VolumeCreate` (the daemon hands back an existing volume of that name and
 *   driver as is); the ID is the volume name;
 * - Read: not found → dropped from state; `labels`, `driver`, `driverOpts`, `mountpoint` read back;
 * - Delete: `VolumeRemove(force)`, retried while "volume is in use" for up to 30 s.
 * `retainOnDelete` is the engine's business; `cluster` (swarm volumes) is not implemented.
 */
import { type ResourceDefinition, InitFailedError } from "../runtime/definition";
import { type Props, UNKNOWN } from "../runtime/properties";
import type { PropertyTypes } from "../runtime/types";
import { bridgeCheck, bridgeDiff, plainInputs, refreshInputs, withBridgeErrors } from "./bridge";
import { clientFor, type DockerClient, type DockerConfig, errorContains, isNotFound } from "./connection";
import { retryUntil } from "./retry";
import { labelSet, labelsToMap, mapToLabels, type Label } from "./terraform-set";

export const TOKEN = "docker:index/volume:Volume";

const label = { object: { label: "string", value: "string" }, required: ["label", "value"] } as const;

const INPUTS: PropertyTypes = {
  name: "string",
  labels: { array: label },
  driver: "string",
  driverOpts: { map: "string" },
};
const OUTPUTS: PropertyTypes = { mountpoint: "string" };

const REPLACE = ["name", "labels", "driver", "driverOpts"] as const;
/** `name` and `driver` are Optional+Computed (resource_docker_volume.go:40-62). */
const COMPUTED = ["name", "driver"] as const;

interface VolumeInspect {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
}

function stateFrom(v: VolumeInspect): Props {
  return {
    name: v.Name,
    labels: mapToLabels(v.Labels),
    driver: v.Driver,
    ...(v.Options && Object.keys(v.Options).length ? { driverOpts: v.Options } : {}),
    mountpoint: v.Mountpoint,
  };
}

async function inspect(client: DockerClient, name: string): Promise<VolumeInspect | null> {
  try {
    return await client.call<VolumeInspect>("GET", `/volumes/${encodeURIComponent(name)}`);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw new Error(`Unable to inspect volume: ${(e as Error).message}`);
  }
}

export const volume: ResourceDefinition<DockerConfig> = withBridgeErrors({
  token: TOKEN,
  inputs: INPUTS,
  outputs: OUTPUTS,
  check(news, olds, ctx) {
    return bridgeCheck({ provider: "docker", token: TOKEN, inputs: INPUTS, defaults: {}, autoNamed: true }, news, olds, ctx);
  },
  diff({ olds, news }) {
    return bridgeDiff(olds, news, { inputs: INPUTS, replace: REPLACE, computed: COMPUTED, sets: ["labels"], autoNamed: true });
  },
  async create(inputs, ctx) {
    const p = plainInputs(inputs, INPUTS);
    if (ctx.preview) {
      return {
        id: "",
        outputs: { ...p, labels: p.labels ? labelSet(p.labels as Label[]) : [], driver: p.driver ?? UNKNOWN, mountpoint: UNKNOWN },
      };
    }
    const client = await clientFor(ctx.config);
    let created: VolumeInspect;
    try {
      created = await client.call<VolumeInspect>("POST", "/volumes/create", {
        body: {
          Name: p.name ?? "",
          Driver: p.driver ?? "",
          DriverOpts: p.driverOpts ?? {},
          Labels: labelsToMap(p.labels),
        },
      });
    } catch (e) {
      throw new Error(`Unable to create volume: ${(e as Error).message}`);
    }
    // Create ends with Read; a volume gone by then leaves the resource without an ID.
    const read = await inspect(client, created.Name).catch((e: Error) => {
      throw new InitFailedError(e.message, created.Name, { ...p });
    });
    if (!read) throw new Error(`volume ${created.Name} vanished right after it was created`);
    return { id: created.Name, outputs: stateFrom(read) };
  },
  async read({ id, inputs }, ctx) {
    const client = await clientFor(ctx.config);
    const v = await inspect(client, id);
    if (!v) return null;
    const outputs = stateFrom(v);
    return { id, outputs, inputs: refreshInputs(inputs, outputs) };
  },
  async update({ olds }) {
    // Nothing implemented updates in place (only cluster.availability would).
    return olds;
  },
  async delete({ id }, ctx) {
    const client = await clientFor(ctx.config);
    await retryUntil({ delayMs: 2000, minIntervalMs: 5000, timeoutMs: 30_000, target: "removed", pending: "in_use" }, async () => {
      try {
        await client.call("DELETE", `/volumes/${encodeURIComponent(id)}`, { query: { force: true } });
        return "removed";
      } catch (e) {
        if (errorContains(e, "volume is in use")) return "in_use";
        throw e;
      }
    });
  },
});
