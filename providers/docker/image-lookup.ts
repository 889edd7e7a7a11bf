/**
 * KD's image helpers (resource_docker_image_funcs.go:165-378), used by RemoteImage and by
 * Container's Create step 1 (SEMANTICS.md §2, §3): look the image up LOCALLY first (`ImageInspect`,
 * then its ID must be in `ImageList(All:false)`), pull only when it is not local, then look again.
 */
import { type DockerClient, isNotFound } from "./connection";

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
}

/** searchLocalImages: inspect by name, then require the ID among the top-level images. */
export async function searchLocalImage(client: DockerClient, imageName: string): Promise<ImageSummary | null> {
  let inspected: { Id: string };
  try {
    inspected = await client.call<{ Id: string }>("GET", `/images/${imageName}/json`);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw new Error(`unable to inspect image ${imageName}: ${(e as Error).message}`);
  }
  let images: ImageSummary[];
  try {
    images = await client.call<ImageSummary[]>("GET", "/images/json", { query: { all: 0 } });
  } catch (e) {
    throw new Error(`unable to list Docker images: ${(e as Error).message}`);
  }
  return images.find((i) => i.Id === inspected.Id) ?? null;
}

/** How the Go client splits a reference for `POST /images/create` (fromImage + tag or digest). */
export function pullParams(imageName: string): { fromImage: string; tag: string } {
  const at = imageName.indexOf("@");
  if (at >= 0) return { fromImage: imageName.slice(0, at), tag: imageName.slice(at + 1) };
  const slash = imageName.lastIndexOf("/");
  const colon = imageName.lastIndexOf(":");
  if (colon > slash) return { fromImage: imageName.slice(0, colon), tag: imageName.slice(colon + 1) };
  return { fromImage: imageName, tag: "latest" };
}

/** pullImage: `ImagePull` with an empty auth config; the streamed progress is read and ignored. */
async function pullImage(client: DockerClient, imageName: string): Promise<void> {
  const { fromImage, tag } = pullParams(imageName);
  // base64url of `{}`-ish empty registry.AuthConfig JSON, as KD sends it.
  const auth = Buffer.from(JSON.stringify({})).toString("base64url");
  try {
    await client.call("POST", "/images/create", { query: { fromImage, tag }, headers: { "X-Registry-Auth": auth } });
  } catch (e) {
    throw new Error(`error pulling image ${imageName}: ${(e as Error).message}`);
  }
}

/** findImage: local first, then pull, then local again. */
export async function findImage(client: DockerClient, imageName: string): Promise<ImageSummary> {
  if (imageName === "") throw new Error("empty image name is not allowed");
  let found: ImageSummary | null;
  try {
    found = await searchLocalImage(client, imageName);
  } catch (e) {
    throw new Error(`findImage1: error looking up local image "${imageName}": ${(e as Error).message}`);
  }
  if (found) return found;
  try {
    await pullImage(client, imageName);
  } catch (e) {
    throw new Error(`unable to pull image ${imageName}: ${(e as Error).message}`);
  }
  try {
    found = await searchLocalImage(client, imageName);
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
