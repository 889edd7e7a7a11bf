/**
 * `docker:index/container:Container` (Terraform `docker_container`), SEMANTICS.md §3 and
 * KD:internal/provider/resource_docker_container{,_funcs,_structures}.go.
 *
 * - Replacement is ALWAYS delete-before-replace (PD sets DeleteBeforeReplace for docker_container).
 *   `name` is auto-named `<URN name>-<7 hex>`, kept on update, drawn afresh on replace (§0).
 * - Which implemented inputs do what:
 *   replace: name, image, envs, labels, ports, volumes, networksAdvanced, command, entrypoints,
 *     hostname, user, workingDir, logDriver, logOpts, stopTimeout, networkMode;
 *   in place, live (one `ContainerUpdate`): restart, memory, memorySwap;
 *   in place, start only: mustRun false→true (`ContainerStart`, if `start`);
 *   in place, state only: healthcheck, wait, waitTimeout, destroyGraceSeconds, start, rm,
 *     removeVolumes, containerReadRefreshTimeoutMilliseconds.
 * - Optional+Computed inputs left out of the program keep the stored value (envs, labels, command,
 *   entrypoints, hostname, logDriver, stopTimeout, healthcheck; `user` and `workingDir` through their
 *   DiffSuppressFunc for ""). Other inputs left out are their zero value, so a read-back
 *   `memorySwap` the program never set plans an update.
 * - Create steps 1-7 (image local-first/pull, ContainerCreate, networksAdvanced, start, wait, Read);
 *   a failure after ContainerCreate is a partial create (InitFailedError).
 * - Read: not in `ContainerList(all)` → dropped; stopped → exitCode, mustRun=false, ports rewritten
 *   first (empty); the read-back list of §3; never envs, labels, volumes, networksAdvanced.
 * - Update: one ContainerUpdate with the live fields, a start for mustRun false→true, no Read.
 * - Delete: stop (timeout destroyGraceSeconds or 0), forced remove with removeVolumes, wait;
 *   "No such container" ignored throughout.
 */
import { type CheckFailure, InitFailedError, type ResourceDefinition } from "../runtime/definition";
import { containsUnknown, deepEqual, type Props, UNKNOWN, type Value } from "../runtime/properties";
import type { PropertyTypes } from "../runtime/types";
import { bridgeCheck, bridgeDiff, plainInputs, refreshInputs, updatedState, valuesEqual, withBridgeErrors } from "./bridge";
import { clientFor, type DockerClient, type DockerConfig, errorContains } from "./connection";
import { formatGoDuration, parseGoDuration } from "./go-duration";
import { findImage } from "./image-lookup";
import { type Label, labelSet, labelsToMap, stringSet } from "./terraform-set";

export const TOKEN = "docker:index/container:Container";

const MiB = 1024 * 1024;

const label = { object: { label: "string", value: "string" }, required: ["label", "value"] } as const;
const port = { object: { internal: "integer", external: "integer", ip: "string", protocol: "string" }, required: ["internal"] } as const;
const networkAdvanced = {
  object: { name: "string", aliases: { array: "string" }, ipv4Address: "string", ipv6Address: "string" },
  required: ["name"],
} as const;
const volumeMount = {
  object: {
    volumeName: "string",
    containerPath: "string",
    hostPath: "string",
    readOnly: "boolean",
    fromContainer: "string",
    selinuxRelabel: "string",
  },
} as const;
const healthcheckType = {
  object: {
    tests: { array: "string" },
    interval: "string",
    timeout: "string",
    startPeriod: "string",
    startInterval: "string",
    retries: "integer",
  },
} as const;

const INPUTS: PropertyTypes = {
  name: "string",
  image: "string",
  envs: { array: "string" },
  labels: { array: label },
  command: { array: "string" },
  entrypoints: { array: "string" },
  hostname: "string",
  user: "string",
  workingDir: "string",
  ports: { array: port },
  volumes: { array: volumeMount },
  networksAdvanced: { array: networkAdvanced },
  networkMode: "string",
  logDriver: "string",
  logOpts: { map: "string" },
  stopTimeout: "integer",
  restart: "string",
  memory: "integer",
  memorySwap: "integer",
  mustRun: "boolean",
  start: "boolean",
  rm: "boolean",
  removeVolumes: "boolean",
  healthcheck: healthcheckType,
  wait: "boolean",
  waitTimeout: "integer",
  destroyGraceSeconds: "integer",
  containerReadRefreshTimeoutMilliseconds: "integer",
};

const OUTPUTS: PropertyTypes = {
  exitCode: "integer",
  bridge: "string",
  networkDatas: {
    array: {
      object: {
        networkName: "string",
        ipAddress: "string",
        ipPrefixLength: "integer",
        gateway: "string",
        globalIpv6Address: "string",
        globalIpv6PrefixLength: "integer",
        ipv6Gateway: "string",
        macAddress: "string",
      },
    },
  },
};

const REPLACE = [
  "name",
  "image",
  "envs",
  "labels",
  "ports",
  "volumes",
  "networksAdvanced",
  "command",
  "entrypoints",
  "hostname",
  "user",
  "workingDir",
  "logDriver",
  "logOpts",
  "stopTimeout",
  "networkMode",
] as const;
/** Sent to Docker by Update's one ContainerUpdate (funcs.go:1010-1066). */
export const LIVE = ["restart", "memory", "memorySwap"] as const;
/** Optional+Computed, plus the two whose DiffSuppressFunc treats "" as "keep" (container.go:181-255). */
const COMPUTED = ["envs", "labels", "command", "entrypoints", "hostname", "logDriver", "stopTimeout", "healthcheck", "user", "workingDir"] as const;

/** Terraform `Default`s of the implemented top-level inputs (container.go:57-127, 230-261, 901-907, 1098-1103). */
const DEFAULTS: Props = {
  start: true,
  mustRun: true,
  wait: false,
  waitTimeout: 60,
  restart: "no",
  removeVolumes: true,
  rm: false,
  networkMode: "bridge",
  containerReadRefreshTimeoutMilliseconds: 15000,
};

const HEALTHCHECK_DEFAULTS: Props = { interval: "0s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0 };

/** Nested defaults: `ports[].ip` "0.0.0.0" (and "" → "0.0.0.0", its StateFunc), `ports[].protocol` "tcp", healthcheck durations "0s", retries 0. */
function nestedDefaults(inputs: Props): Props {
  const out = { ...inputs };
  if (Array.isArray(out.ports)) {
    out.ports = out.ports.map((p) => {
      if (!p || typeof p !== "object" || Array.isArray(p)) return p; // an unknown element
      const o = { ...p };
      if (o.ip === undefined || o.ip === null || o.ip === "") o.ip = "0.0.0.0";
      if (o.protocol === undefined || o.protocol === null) o.protocol = "tcp";
      return o;
    });
  }
  if (out.healthcheck && typeof out.healthcheck === "object" && !Array.isArray(out.healthcheck)) {
    const h = { ...(out.healthcheck as Props) };
    for (const [k, v] of Object.entries(HEALTHCHECK_DEFAULTS)) if (h[k] === undefined || h[k] === null) h[k] = v;
    out.healthcheck = h;
  }
  return out;
}

/** Terraform ValidateFuncs of the implemented inputs, with KD's messages. */
function validate(inputs: Props): CheckFailure[] {
  const f: CheckFailure[] = [];
  const pattern = (prop: string, v: Value | undefined, re: RegExp, src: string) => {
    if (typeof v === "string" && !containsUnknown(v) && !re.test(v)) f.push({ property: prop, reason: `'${v}' doesn't match the pattern '${src}'` });
  };
  const geq = (prop: string, v: Value | undefined, min: number) => {
    if (typeof v === "number" && v < min) f.push({ property: prop, reason: `'${v}' cannot be lower than ${min}` });
  };
  pattern("restart", inputs.restart, /^(no|on-failure|always|unless-stopped)$/, "^(no|on-failure|always|unless-stopped)$");
  geq("memory", inputs.memory, 0);
  geq("memorySwap", inputs.memorySwap, -1);
  const h = inputs.healthcheck;
  if (h && typeof h === "object" && !Array.isArray(h)) {
    for (const k of ["interval", "timeout", "startPeriod", "startInterval"]) {
      const v = h[k];
      if (typeof v !== "string" || containsUnknown(v)) continue;
      try {
        if (parseGoDuration(v) < 0n) f.push({ property: `healthcheck.${k}`, reason: `'${v}' duration must not be negative` });
      } catch {
        f.push({ property: `healthcheck.${k}`, reason: `'${v}' is not a valid duration` });
      }
    }
    geq("healthcheck.retries", h.retries, 0);
  }
  if (Array.isArray(inputs.volumes)) {
    inputs.volumes.forEach((v, i) => {
      const m = (v ?? {}) as Props;
      if (typeof m.hostPath === "string" && !containsUnknown(m.hostPath) && !/^[a-zA-Z]:[\\/]|^\//.test(m.hostPath))
        f.push({ property: `volumes[${i}].hostPath`, reason: `'${m.hostPath}' must be an absolute path` });
      pattern(`volumes[${i}].selinuxRelabel`, m.selinuxRelabel, /^(z|Z)$/, "^(z|Z)$");
    });
  }
  return f;
}

// ---- equality of read-back / structured values (diff) ----

type Port = { internal: number; external?: number; ip?: string; protocol?: string };

function portsOf(v: Value | undefined): Port[] {
  return ((v ?? []) as Props[]).map((p) => ({
    internal: p.internal as number,
    external: (p.external ?? undefined) as number | undefined,
    ip: !p.ip ? "0.0.0.0" : (p.ip as string),
    protocol: (p.protocol ?? "tcp") as string,
  }));
}

/**
 * `ports` is a Terraform list with a DiffSuppressFunc (container.go:1192-1247): a length change is
 * a change; otherwise every old port must find a new one with the same internal port and the same
 * protocol, ip and external. `external` is Optional+Computed, so a new port without it matches the
 * stored one.
 */
export function portsEqual(state: Value | undefined, news: Value | undefined): boolean {
  const o = portsOf(state);
  const n = portsOf(news);
  if (o.length !== n.length) return false;
  const same = (a: Port, b: Port) => a.internal === b.internal && a.protocol === b.protocol && a.ip === b.ip && (b.external === undefined || a.external === b.external);
  if (o.every((p, i) => same(p, n[i]!))) return true;
  return o.every((op) => n.some((np) => same(op, np)));
}

function healthcheckEqual(state: Value | undefined, news: Value | undefined): boolean {
  const norm = (v: Value | undefined) => {
    const h = { ...HEALTHCHECK_DEFAULTS, ...((v ?? {}) as Props) };
    return { ...h, tests: h.tests ?? [] };
  };
  return deepEqual(norm(state), norm(news));
}

function normaliseNetworks(v: Value | undefined): Value[] {
  return ((v ?? []) as Props[]).map((n) => ({
    name: n.name ?? "",
    aliases: [...new Set((n.aliases ?? []) as string[])].sort(),
    ipv4Address: n.ipv4Address ?? "",
    ipv6Address: n.ipv6Address ?? "",
  }));
}

function normaliseVolumes(v: Value | undefined): Value[] {
  return ((v ?? []) as Props[]).map((m) => ({
    volumeName: m.volumeName ?? "",
    containerPath: m.containerPath ?? "",
    hostPath: m.hostPath ?? "",
    readOnly: m.readOnly ?? false,
    fromContainer: m.fromContainer ?? "",
    selinuxRelabel: m.selinuxRelabel ?? "",
  }));
}

const setOfObjects = (norm: (v: Value | undefined) => Value[]) => (a: Value | undefined, b: Value | undefined) =>
  valuesEqual({ array: "string" }, norm(a), norm(b), true);

/** DiffSuppressFunc of `user` and `workingDir`: a new "" is "no change". */
const suppressEmpty = (a: Value | undefined, b: Value | undefined) => b === undefined || b === null || b === "" || a === b;

const DIFF = {
  inputs: INPUTS,
  replace: REPLACE,
  computed: COMPUTED,
  sets: ["envs", "labels"],
  equal: {
    ports: portsEqual,
    healthcheck: healthcheckEqual,
    networksAdvanced: setOfObjects(normaliseNetworks),
    volumes: setOfObjects(normaliseVolumes),
    user: suppressEmpty,
    workingDir: suppressEmpty,
  },
  deleteBeforeReplace: true,
  autoNamed: true,
};

// ---- Docker API shapes ----

interface Inspect {
  Id: string;
  Name: string;
  Image: string;
  State: { Running: boolean; ExitCode: number; Health?: { Status: string } | null };
  Config: {
    Hostname: string;
    User: string;
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    WorkingDir: string;
    Image: string;
    StopTimeout?: number | null;
    Healthcheck?: { Test?: string[] | null; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } | null;
  };
  HostConfig: {
    AutoRemove: boolean;
    RestartPolicy: { Name: string };
    Memory: number;
    MemorySwap: number;
    NetworkMode: string;
    LogConfig: { Type: string; Config: Record<string, string> | null };
  };
  NetworkSettings: {
    Bridge: string;
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
    Networks: Record<
      string,
      { IPAddress: string; IPPrefixLen: number; Gateway: string; GlobalIPv6Address: string; GlobalIPv6PrefixLen: number; IPv6Gateway: string; MacAddress: string }
    > | null;
  } | null;
}

/** flattenContainerPorts: one entry per binding, sorted by container port. */
export function flattenPorts(ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null | undefined): Props[] {
  const keys = Object.keys(ports ?? {}).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  const out: Props[] = [];
  for (const key of keys) {
    const [internal, protocol] = key.split("/");
    for (const b of ports![key] ?? []) {
      out.push({ internal: parseInt(internal!, 10), external: parseInt(b.HostPort, 10) || 0, ip: b.HostIp, protocol: protocol ?? "tcp" });
    }
  }
  return out;
}

function flattenNetworks(settings: Inspect["NetworkSettings"]): Props[] {
  return Object.entries(settings?.Networks ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([networkName, n]) => ({
      networkName,
      ipAddress: n.IPAddress,
      ipPrefixLength: n.IPPrefixLen,
      gateway: n.Gateway,
      globalIpv6Address: n.GlobalIPv6Address,
      globalIpv6PrefixLength: n.GlobalIPv6PrefixLen,
      ipv6Gateway: n.IPv6Gateway,
      macAddress: n.MacAddress,
    }));
}

const durationNs = (v: Value | undefined) => Number(parseGoDuration((v as string | undefined) ?? "0s"));

/** The planned state of a new container: its inputs, sets in Terraform set order. */
function plannedState(inputs: Props): Props {
  const s = plainInputs(inputs, INPUTS);
  if (Array.isArray(s.envs)) s.envs = stringSet(s.envs as string[]);
  if (Array.isArray(s.labels)) s.labels = labelSet(s.labels as Label[]);
  return s;
}

/** The ContainerCreate request (config + HostConfig + NetworkingConfig in one JSON), as funcs.go:43-456 builds it. */
export function createBody(p: Props): Record<string, unknown> {
  const config: Record<string, unknown> = {
    Image: p.image,
    Hostname: p.hostname ?? "",
    Domainname: "",
    Tty: false,
    OpenStdin: false,
    StopSignal: "",
  };
  if (p.stopTimeout) config.StopTimeout = p.stopTimeout;
  if (Array.isArray(p.envs) && p.envs.length) config.Env = p.envs;
  if (Array.isArray(p.command) && p.command.length) {
    if ((p.command as string[]).some((c) => c === "")) throw new Error("values for command may not be empty");
    config.Cmd = p.command;
  }
  if (Array.isArray(p.entrypoints) && p.entrypoints.length) config.Entrypoint = p.entrypoints;
  if (p.user) config.User = p.user;
  if (p.workingDir) config.WorkingDir = p.workingDir;

  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of (p.ports ?? []) as Props[]) {
    const key = `${port.internal}/${port.protocol ?? "tcp"}`;
    exposed[key] = {};
    // KD reads `external` as 0 when unset, so HostPort "0": Docker picks an ephemeral port.
    (bindings[key] ??= []).push({ HostIp: (port.ip as string | undefined) ?? "0.0.0.0", HostPort: String(port.external ?? 0) });
  }
  if (Object.keys(exposed).length) config.ExposedPorts = exposed;

  const volumes: Record<string, object> = {};
  const binds: string[] = [];
  const volumesFrom: string[] = [];
  for (const v of (p.volumes ?? []) as Props[]) {
    const fromContainer = (v.fromContainer as string | undefined) ?? "";
    const containerPath = (v.containerPath as string | undefined) ?? "";
    const volumeName = ((v.volumeName as string | undefined) || (v.hostPath as string | undefined)) ?? "";
    if (!fromContainer && !containerPath) throw new Error("Unable to parse volumes: volume entry without container path or source container");
    if (fromContainer && containerPath) throw new Error("Unable to parse volumes: both a container and a path specified in a volume entry");
    if (fromContainer) volumesFrom.push(fromContainer);
    else if (volumeName) {
      let rw = v.readOnly ? "ro" : "rw";
      if (v.selinuxRelabel) rw += `,${v.selinuxRelabel}`;
      volumes[containerPath] = {};
      binds.push(`${volumeName}:${containerPath}:${rw}`);
    } else volumes[containerPath] = {};
  }
  if (Object.keys(volumes).length) config.Volumes = volumes;
  if (Array.isArray(p.labels) && p.labels.length) config.Labels = labelsToMap(p.labels);
  if (p.healthcheck) {
    const h = p.healthcheck as Props;
    config.Healthcheck = {
      Test: h.tests ?? null,
      Interval: durationNs(h.interval),
      Timeout: durationNs(h.timeout),
      StartPeriod: durationNs(h.startPeriod),
      StartInterval: durationNs(h.startInterval),
      Retries: h.retries ?? 0,
    };
  }

  const hostConfig: Record<string, unknown> = {
    Privileged: false,
    PublishAllPorts: false,
    RestartPolicy: { Name: p.restart ?? "no", MaximumRetryCount: 0 },
    Runtime: "",
    Mounts: [],
    AutoRemove: p.rm ?? false,
    ReadonlyRootfs: false,
    LogConfig: { Type: p.logDriver ?? "", ...(p.logOpts && Object.keys(p.logOpts).length ? { Config: p.logOpts } : {}) },
    Init: false,
  };
  if (Object.keys(bindings).length) hostConfig.PortBindings = bindings;
  if (binds.length) hostConfig.Binds = binds;
  if (volumesFrom.length) hostConfig.VolumesFrom = volumesFrom;
  if (p.memory) hostConfig.Memory = (p.memory as number) * MiB;
  if (p.memorySwap) hostConfig.MemorySwap = (p.memorySwap as number) > 0 ? (p.memorySwap as number) * MiB : p.memorySwap;
  if (p.networkMode) hostConfig.NetworkMode = p.networkMode;
  return { ...config, HostConfig: hostConfig, NetworkingConfig: {} };
}

/** Step 6: inspect every second until healthy, never stopping early on "unhealthy" (funcs.go:590-628). */
async function waitHealthy(client: DockerClient, id: string, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    let info: Inspect;
    try {
      info = await client.call<Inspect>("GET", `/containers/${id}/json`);
    } catch (e) {
      throw new Error(`error inspecting container state: ${(e as Error).message}`);
    }
    if (!info.State?.Health)
      throw new Error(
        "you have supplied a 'wait' argument, but the container does not have a healthcheck defined. Please remove the 'wait' argument or add a 'healthcheck' attribute",
      );
    if (info.State.Health.Status === "healthy") return;
    if (Date.now() + 1000 > deadline) {
      await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
      throw new Error("container failed to be in healthy state");
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * resourceDockerContainerRead: `null` when the container is not in `ContainerList(all)`; else the
 * state with §3's read-back fields written over `state`.
 */
export async function readContainer(client: DockerClient, id: string, state: Props): Promise<Props | null> {
  let list: { Id: string }[];
  try {
    list = await client.call<{ Id: string }[]>("GET", "/containers/json", { query: { all: 1 } });
  } catch (e) {
    throw new Error(`error fetching container information from Docker: ${(e as Error).message}\n`);
  }
  if (!list.some((c) => c.Id === id)) return null;
  const c = await client.call<Inspect>("GET", `/containers/${id}/json`);
  const s: Props = { ...state };
  if (c.NetworkSettings) {
    s.bridge = c.NetworkSettings.Bridge ?? "";
    // ports are rewritten when running OR while mustRun is still true: a stopped container's are empty.
    if (c.State.Running || s.mustRun === true) s.ports = flattenPorts(c.NetworkSettings.Ports);
    s.networkDatas = flattenNetworks(c.NetworkSettings);
  }
  if (!c.State.Running) {
    s.exitCode = c.State.ExitCode;
    if (s.mustRun === true) s.mustRun = false;
  }
  s.name = c.Name.replace(/^\/+/, "");
  s.rm = c.HostConfig.AutoRemove;
  s.image = typeof state.image === "string" && state.image.startsWith("sha256:") ? c.Image : c.Config.Image;
  s.hostname = c.Config.Hostname;
  s.command = c.Config.Cmd ?? [];
  s.entrypoints = c.Config.Entrypoint ?? [];
  s.user = c.Config.User;
  s.restart = c.HostConfig.RestartPolicy.Name;
  s.workingDir = c.Config.WorkingDir;
  s.memory = Math.trunc(c.HostConfig.Memory / MiB);
  s.memorySwap = c.HostConfig.MemorySwap > 0 ? Math.trunc(c.HostConfig.MemorySwap / MiB) : c.HostConfig.MemorySwap;
  s.logDriver = c.HostConfig.LogConfig.Type;
  // log_opts is read back only when configured (containerLogOptsForState).
  if (s.logOpts && typeof s.logOpts === "object" && Object.keys(s.logOpts).length > 0) s.logOpts = c.HostConfig.LogConfig.Config ?? {};
  s.networkMode = c.HostConfig.NetworkMode;
  const h = c.Config.Healthcheck;
  if (h) {
    s.healthcheck = {
      tests: h.Test ?? [],
      interval: formatGoDuration(BigInt(h.Interval ?? 0)),
      timeout: formatGoDuration(BigInt(h.Timeout ?? 0)),
      startPeriod: formatGoDuration(BigInt(h.StartPeriod ?? 0)),
      startInterval: formatGoDuration(BigInt(h.StartInterval ?? 0)),
      retries: h.Retries ?? 0,
    };
  }
  if (c.Config.StopTimeout !== undefined && c.Config.StopTimeout !== null) s.stopTimeout = c.Config.StopTimeout;
  else delete s.stopTimeout;
  return s;
}

/** resourceDockerContainerUpdate: a start for mustRun false→true, then one ContainerUpdate if a live field changed. */
async function applyUpdate(config: DockerConfig, id: string, olds: Props, next: Props): Promise<void> {
  const client = await clientFor(config);
  if (olds.mustRun === false && next.mustRun === true && next.start !== false) {
    try {
      await client.call("POST", `/containers/${id}/start`);
    } catch (e) {
      throw new Error(`Unable to start container: ${(e as Error).message}`);
    }
  }
  if (LIVE.some((k) => !valuesEqual(INPUTS[k]!, olds[k] ?? undefined, next[k] ?? undefined, false))) {
    const body: Record<string, unknown> = {
      RestartPolicy: { Name: next.restart ?? "", MaximumRetryCount: 0 },
      CpuShares: 0,
      Memory: ((next.memory as number | undefined) ?? 0) * MiB,
      MemoryReservation: 0,
      CpusetCpus: "",
    };
    const swap = (next.memorySwap as number | undefined) ?? 0;
    if (swap !== 0) body.MemorySwap = swap > 0 ? swap * MiB : swap;
    try {
      await client.call("POST", `/containers/${id}/update`, { body });
    } catch (e) {
      throw new Error(`Unable to update a container: ${(e as Error).message}`);
    }
  }
}

export const container: ResourceDefinition<DockerConfig> = withBridgeErrors({
  token: TOKEN,
  inputs: INPUTS,
  outputs: OUTPUTS,
  check(news, olds, ctx) {
    const r = bridgeCheck(
      { provider: "docker", token: TOKEN, inputs: INPUTS, defaults: DEFAULTS, autoNamed: true, nested: nestedDefaults, validate },
      news,
      olds,
      ctx,
    );
    if (news.image === undefined || news.image === null) r.failures.push({ property: "image", reason: "Missing required property 'image'" });
    return r;
  },
  diff({ olds, news }) {
    return bridgeDiff(olds, news, DIFF);
  },
  async create(inputs, ctx) {
    const p = plainInputs(inputs, INPUTS);
    const planned = plannedState(inputs);
    if (ctx.preview) {
      const predicted: Props = { ...planned, exitCode: UNKNOWN, bridge: UNKNOWN, networkDatas: UNKNOWN, hostname: p.hostname ?? UNKNOWN };
      for (const k of ["envs", "labels", "command", "entrypoints", "logDriver", "stopTimeout", "healthcheck"] as const) if (p[k] === undefined) predicted[k] = UNKNOWN;
      if (Array.isArray(p.ports)) predicted.ports = (p.ports as Props[]).map((x) => ({ ...x, external: x.external ?? UNKNOWN }));
      return { id: "", outputs: predicted };
    }
    const client = await clientFor(ctx.config);
    const image = p.image as string;
    try {
      // With the provider's registry credentials, as KD passes AuthConfigs (funcs.go:48-53).
      await findImage(client, image, ctx.config.authConfigs);
    } catch (e) {
      throw new Error(`Unable to create container with image ${image}: ${(e as Error).message}`);
    }
    const body = createBody(p);
    let id: string;
    try {
      id = (await client.call<{ Id: string }>("POST", "/containers/create", { query: { name: p.name as string }, body })).Id;
    } catch (e) {
      throw new Error(`Unable to create container: ${(e as Error).message}`);
    }
    // From here on the container exists: any failure is a partial create (§0, §3).
    const partial = (e: unknown) => new InitFailedError((e as Error).message, id, planned);
    try {
      if (Array.isArray(p.networksAdvanced) && p.networksAdvanced.length > 0) {
        try {
          await client.call("POST", "/networks/bridge/disconnect", { body: { Container: id, Force: false } });
        } catch (e) {
          if (!errorContains(e, "is not connected to the network bridge")) throw new Error(`Unable to disconnect the default network: ${(e as Error).message}`);
        }
        for (const n of p.networksAdvanced as Props[]) {
          const name = n.name as string;
          const endpoint = {
            Aliases: Array.isArray(n.aliases) ? stringSet(n.aliases as string[]) : [],
            IPAMConfig: { IPv4Address: (n.ipv4Address as string | undefined) ?? "", IPv6Address: (n.ipv6Address as string | undefined) ?? "" },
          };
          try {
            await client.call("POST", `/networks/${encodeURIComponent(name)}/connect`, { body: { Container: id, EndpointConfig: endpoint } });
          } catch (e) {
            throw new Error(`Unable to connect to network '${name}': ${(e as Error).message}`);
          }
        }
      }
      if (p.start !== false) {
        try {
          await client.call("POST", `/containers/${id}/start`);
        } catch (e) {
          throw new Error(`Unable to start container: ${(e as Error).message}`);
        }
        if (p.wait === true) await waitHealthy(client, id, (p.waitTimeout as number | undefined) ?? 60);
      }
      const read = await readContainer(client, id, planned);
      if (!read) throw new Error(`container ${id} was gone by the Read that ends Create`);
      return { id, outputs: read };
    } catch (e) {
      throw partial(e);
    }
  },
  async read({ id, state, inputs }, ctx) {
    const client = await clientFor(ctx.config);
    const s = await readContainer(client, id, state);
    if (!s) return null;
    return { id, outputs: s, inputs: refreshInputs(inputs, s) };
  },
  async update({ id, olds, news }, ctx) {
    const next = updatedState(olds, news, DIFF);
    if (ctx.preview) return next;
    try {
      await applyUpdate(ctx.config, id, olds, next);
    } catch (e) {
      // SDKv2 returns the planned state with the error: the engine records it with init errors,
      // so the next `up` finds nothing to change and never retries the call (derived).
      throw new InitFailedError((e as Error).message, id, next);
    }
    return next;
  },
  async delete({ id, state }, ctx) {
    const client = await clientFor(ctx.config);
    const timeout = typeof state.destroyGraceSeconds === "number" && state.destroyGraceSeconds > 0 ? state.destroyGraceSeconds : 0;
    try {
      await client.call("POST", `/containers/${id}/stop`, { query: { t: timeout } });
    } catch (e) {
      if (!errorContains(e, "No such container")) throw new Error(`Error stopping container ${id}: ${(e as Error).message}`);
    }
    try {
      await client.call("DELETE", `/containers/${id}`, { query: { v: state.removeVolumes !== false, force: true } });
    } catch (e) {
      if (!errorContains(e, "No such container", "is already in progress")) throw new Error(`Error deleting container ${id}: ${(e as Error).message}`);
    }
    const condition = state.rm === true ? "removed" : "not-running";
    try {
      await client.call("POST", `/containers/${id}/wait`, { query: { condition } });
    } catch (e) {
      if (!errorContains(e, "No such container", "is already in progress")) throw new Error(`Error waiting for container removal '${id}': ${(e as Error).message}`);
    }
  },
});
