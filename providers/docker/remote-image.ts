/**
 * `docker:index/remoteImage:RemoteImage` (Terraform `docker_image`), SEMANTICS.md §2 and
 * KD:internal/provider/resource_docker_image{,_funcs}.go:
 * - `name` is required and NOT auto-named; `name`, `pullTriggers`, `triggers` replace
 *   (create-before-delete: no DBR for docker_image); `keepLocally`, `forceRemove` update in place;
 * - Create and Update: local lookup first, pull only when missing (`image-lookup.ts`), then Read;
 *   so a tag that moved in the registry is never re-pulled, and `pullTriggers` is never read;
 *   the pull sends the provider's `registryAuth` credentials filed under the image's registry
 *   (KD funcs.go:49, 142, 249-265; `registry-auth.ts`), and a `name` with a digest
 *   (`repo@sha256:…`) is looked up and pulled by that digest, so a new digest is a new image;
 * - outputs `imageId` (full `sha256:` ID) and `repoDigest`; the ID is `imageId + name`;
 * - Read looks locally only: gone → dropped from state; a re-pointed tag → new `imageId`;
 * - Delete uses `keepLocally` from STATE; otherwise `ImageRemove(name, force=forceRemove)` by name.
 * Not implemented (refused): `build`, `platform`.
 */
import { InitFailedError, type ResourceDefinition } from "../runtime/definition";
import { type Props, UNKNOWN } from "../runtime/properties";
import type { PropertyTypes } from "../runtime/types";
import { bridgeCheck, bridgeDiff, plainInputs, refreshInputs, updatedState, withBridgeErrors } from "./bridge";
import { clientFor, type DockerClient, type DockerConfig } from "./connection";
import { findImage, ListImagesError, listLocalImages, repoDigest, searchLocalImage, searchLocalImages } from "./image-lookup";
import type { AuthConfigs } from "./registry-auth";
import { stringSet } from "./terraform-set";

export const TOKEN = "docker:index/remoteImage:RemoteImage";

const INPUTS: PropertyTypes = {
  name: "string",
  keepLocally: "boolean",
  forceRemove: "boolean",
  pullTriggers: { array: "string" },
  triggers: { map: "string" },
};
const OUTPUTS: PropertyTypes = { imageId: "string", repoDigest: "string" };
const REPLACE = ["name", "pullTriggers", "triggers"] as const;
const DIFF = { inputs: INPUTS, replace: REPLACE, computed: [], sets: ["pullTriggers"], autoNamed: false };

/** State as the bridge writes it: inputs (sets in set order) plus the read-back outputs. */
function baseState(p: Props): Props {
  const s: Props = { ...p };
  if (Array.isArray(p.pullTriggers)) s.pullTriggers = stringSet(p.pullTriggers as string[]);
  return s;
}

/** resourceDockerImageRead: local lookup only; `null` when the image is not there. */
async function readImage(client: DockerClient, name: string): Promise<{ id: string; imageId: string; repoDigest: string } | null> {
  let found;
  try {
    found = await searchLocalImage(client, name);
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof ListImagesError) throw new Error(`Error reading docker image list: ${msg}`);
    throw new Error(`resourceDockerImageRead: error looking up local image "${name}": ${msg}`);
  }
  if (!found) return null;
  return { id: found.Id + name, imageId: found.Id, repoDigest: repoDigest(name, found) };
}

async function lookupOrPull(client: DockerClient, name: string, authConfigs: AuthConfigs): Promise<void> {
  try {
    await findImage(client, name, authConfigs);
  } catch (e) {
    throw new Error(`Unable to read Docker image into resource: ${(e as Error).message}`);
  }
}

export const remoteImage: ResourceDefinition<DockerConfig> = withBridgeErrors({
  token: TOKEN,
  inputs: INPUTS,
  outputs: OUTPUTS,
  check(news, olds, ctx) {
    const r = bridgeCheck({ provider: "docker", token: TOKEN, inputs: INPUTS, defaults: {}, autoNamed: false }, news, olds, ctx);
    if (news.name === undefined || news.name === null) r.failures.push({ property: "name", reason: "Missing required property 'name'" });
    return r;
  },
  diff({ olds, news }) {
    // No DBR for docker_image and `name` is not auto-named: replaces are create-before-delete.
    return bridgeDiff(olds, news, DIFF);
  },
  async create(inputs, ctx) {
    const p = plainInputs(inputs, INPUTS);
    if (ctx.preview) return { id: "", outputs: { ...baseState(p), imageId: UNKNOWN, repoDigest: UNKNOWN } };
    const client = await clientFor(ctx.config);
    const name = p.name as string;
    await lookupOrPull(client, name, ctx.config.authConfigs);
    const r = await readImage(client, name);
    if (!r) throw new Error(`unable to find or pull image ${name}`);
    return { id: r.id, outputs: { ...baseState(p), imageId: r.imageId, repoDigest: r.repoDigest } };
  },
  async read({ state, inputs }, ctx) {
    const client = await clientFor(ctx.config);
    const r = await readImage(client, state.name as string);
    if (!r) return null;
    const outputs = { ...state, imageId: r.imageId, repoDigest: r.repoDigest };
    return { id: r.id, outputs, inputs: refreshInputs(inputs, outputs) };
  },
  async update({ id, olds, news }, ctx) {
    const next = baseState(updatedState(olds, news, DIFF));
    if (ctx.preview) return next;
    try {
      const client = await clientFor(ctx.config);
      const name = next.name as string;
      await lookupOrPull(client, name, ctx.config.authConfigs);
      const r = await readImage(client, name);
      if (!r) return next;
      return { ...next, imageId: r.imageId, repoDigest: r.repoDigest };
    } catch (e) {
      // SDKv2 hands back the planned state with the error: an init error (TB provider.go:1715-1770).
      throw new InitFailedError((e as Error).message, id, next);
    }
  },
  async delete({ state }, ctx) {
    const client = await clientFor(ctx.config);
    try {
      if (state.keepLocally === true) return;
      // removeImage (funcs.go:187-220): the list comes before the empty-name check.
      const images = await listLocalImages(client);
      const name = (state.name as string | undefined) ?? "";
      if (name === "") throw new Error("empty image name is not allowed");
      let found;
      try {
        found = await searchLocalImages(client, images, name);
      } catch (e) {
        throw new Error(`removeImage: error looking up local image "${name}": ${(e as Error).message}`);
      }
      if (found) await client.call("DELETE", `/images/${name}`, { query: { force: state.forceRemove === true, noprune: false } });
    } catch (e) {
      throw new Error(`Unable to remove Docker image: ${(e as Error).message}`);
    }
  },
});
