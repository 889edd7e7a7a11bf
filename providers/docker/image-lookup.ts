/**
 * KD's image helpers (resource_docker_image_funcs.go:165-378), used by RemoteImage and by
 * Container's Create step 1 (SEMANTICS.md §2, §3): list the top-level images (`ImageList(All:false)`),
 * then look the image up LOCALLY (`ImageInspect`, whose ID must be among those listed), pull only
 * when it is not local, then list and look again.
 *
 * The pull (pullImage, funcs.go:249-279) is the Go client's `ImagePull(name)`: the reference is
 * parsed and normalized first (`reference.ts`; a digest reference `repo@sha256:…`, or
 * `repo:tag@sha256:…`, is pulled by its digest: `fromImage=<name>&tag=sha256:…`), and
 * `X-Registry-Auth` carries the provider's `registryAuth` credentials for the image's registry
 * (`registry-auth.ts`). The streamed progress is read and ignored, so an error inside the stream
 * only shows as the second lookup's "unable to find or pull image". A digest reference is found
 * locally by ImageInspect once the daemon has that repo digest (after a pull or a push of it).
 */
import { type DockerClient, isNotFound } from "./connection";
import { pullQuery } from "./reference";
import { type AuthConfigs, registryAuthHeader } from "./registry-auth";

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
}

/** fetchLocalImages' failure (funcs.go:222-226): its callers pass it on without their own prefix. */
export class ListImagesError extends Error {}

/** fetchLocalImages: `ImageList(All:false)`. */
export async function listLocalImages(client: DockerClient): Promise<ImageSummary[]> {
  try {
    return await client.call<ImageSummary[]>("GET", "/images/json", { query: { all: 0 } });
  } catch (e) {
    throw new ListImagesError(`unable to list Docker images: ${(e as Error).message}`);
  }
}

/** searchLocalImages (funcs.go:165-185): inspect by name, then require the ID among the listed images. */
export async function searchLocalImages(client: DockerClient, images: ImageSummary[], imageName: string): Promise<ImageSummary | null> {
  let inspected: { Id: string };
  try {
    inspected = await client.call<{ Id: string }>("GET", `/images/${imageName}/json`);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw new Error(`unable to inspect image ${imageName}: ${(e as Error).message}`);
  }
  return images.find((i) => i.Id === inspected.Id) ?? null;
}

/** The list, then the lookup (what Read and removeImage do). */
export async function searchLocalImage(client: DockerClient, imageName: string): Promise<ImageSummary | null> {
  return searchLocalImages(client, await listLocalImages(client), imageName);
}

/** pullImage (funcs.go:249-279). */
async function pullImage(client: DockerClient, authConfigs: AuthConfigs, imageName: string): Promise<void> {
  const auth = registryAuthHeader(authConfigs, imageName);
  try {
    const query = pullQuery(imageName);
    await client.call("POST", "/images/create", { query, headers: { "X-Registry-Auth": auth } });
  } catch (e) {
    throw new Error(`error pulling image ${imageName}: ${(e as Error).message}`);
  }
}

/** findImage (funcs.go:343-378): local first, then pull, then local again. */
export async function findImage(client: DockerClient, imageName: string, authConfigs: AuthConfigs = {}): Promise<ImageSummary> {
  if (imageName === "") throw new Error("empty image name is not allowed");
  let images = await listLocalImages(client);
  let found: ImageSummary | null;
  try {
    found = await searchLocalImages(client, images, imageName);
  } catch (e) {
    throw new Error(`findImage1: error looking up local image "${imageName}": ${(e as Error).message}`);
  }
  if (found) return found;
  try {
    await pullImage(client, authConfigs, imageName);
  } catch (e) {
    throw new Error(`unable to pull image ${imageName}: ${(e as Error).message}`);
  }
  images = await listLocalImages(client);
  try {
    found = await searchLocalImages(client, images, imageName);
  } catch (e) {
    throw new Error(`findImage2: error looking up local image "${imageName}": ${(e as Error).message}`);
  }
  if (found) return found;
  throw new Error(`unable to find or pull image ${imageName}`);
}

/**
 * determineRepoDigest (KD data_source_docker_image.go:66-103): "" without digests, the only one,
 * else the first starting with the name cut at its first `:`, else the first.
 */
export function repoDigest(imageName: string, image: Pick<ImageSummary, "RepoDigests">): string {
  const digests = image.RepoDigests ?? [];
  if (digests.length === 0) return "";
  if (digests.length === 1) return digests[0]!;
  const colon = imageName.indexOf(":");
  const prefix = colon === -1 ? imageName : imageName.slice(0, colon);
  return digests.find((d) => d.startsWith(prefix)) ?? digests[0]!;
}
