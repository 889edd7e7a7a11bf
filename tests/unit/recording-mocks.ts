/**
 * Recording mocks: every resource registration is kept with its type, name, parent and inputs, so
 * tests assert on exactly what berth would ask the engine for. Outputs that real providers compute
 * (Docker's assigned port, image ids, generated passwords) get deterministic fake values.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export interface Registration {
  type: string;
  name: string;
  /** Inputs as the provider would receive them; secrets are unwrapped here, see `secretInputs`. */
  inputs: Record<string, any>;
  custom: boolean;
  /** The resource options the engine received. */
  options: RecordedOptions;
}

export interface RecordedOptions {
  /** Names of the resources this one waits for (explicit `dependsOn` and output dependencies). */
  dependsOn: string[];
  additionalSecretOutputs: string[];
  /** `deleteBeforeReplace` when the program set it, else undefined (the provider decides). */
  deleteBeforeReplace?: boolean;
  /** The names of the aliases given, as the engine receives them. */
  aliasNames: string[];
  ignoreChanges: string[];
  retainOnDelete: boolean;
}

const short = (s: string) => createHash("sha256").update(s).digest("hex");

/** Fake provider-computed outputs, keyed by resource type. */
function computed(type: string, name: string, inputs: Record<string, any>, portCounter: () => number): Record<string, unknown> {
  switch (type) {
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:${short(inputs.name)}`, repoDigest: "" };
    case "docker:index/container:Container":
      return {
        name: inputs.name ?? `${name}-1234567`,
        ports: (inputs.ports ?? []).map((p: any) => ({ ...p, external: p.external ?? portCounter(), protocol: "tcp" })),
      };
    case "docker:index/network:Network":
    case "docker:index/volume:Volume":
      return { name: inputs.name ?? `${name}-abcdefg` };
    case "random:index/randomPassword:RandomPassword":
      // A new keeper is a new password, as the random provider replaces the resource.
      return { result: `pw${short(inputs.keepers ? `${name}${JSON.stringify(inputs.keepers)}` : name).slice(0, 30)}`, bcryptHash: "x" };
    case "command:remote:Command":
      // The port reservation prints the port it took, like renderReservePortScript on a host.
      if (/-port-/.test(name)) return { stdout: `${portCounter()}\n`, stderr: "" };
      return { stdout: name.endsWith("-origin-csr") ? "-----BEGIN CERTIFICATE REQUEST-----" : "", stderr: "" };
    case "cloudflare:index/originCaCertificate:OriginCaCertificate":
      return { certificate: "-----BEGIN CERTIFICATE-----\nmock\n-----END CERTIFICATE-----\n", expiresOn: "2041-01-01" };
    default:
      return {};
  }
}

export interface Recording {
  registrations: Registration[];
  /** Registrations of one type. */
  ofType(type: string): Registration[];
  /** The one registration with this name; throws when there is none or more than one. */
  named(name: string): Registration;
}

export async function startRecording(opts: { stack?: string; preview?: boolean } = {}): Promise<Recording> {
  const registrations: Registration[] = [];
  let nextPort = 49153;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state = { ...args.inputs, ...computed(args.type, args.name, args.inputs, () => nextPort++) };
        const options = pending.get(`${args.type}::${args.name}`)!;
        registrations.push({ type: args.type, name: args.name, inputs: args.inputs, custom: args.custom ?? true, options });
        // Docker ids are 64 hex digits, and berth's scripts check that they are.
        return { id: args.type === "docker:index/container:Container" ? short(args.name) : `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    "berth",
    opts.stack ?? "test",
    opts.preview ?? false,
  );
  // The mocks' newResource sees only inputs; the options travel in the same request, read here.
  const pending = new Map<string, RecordedOptions>();
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: any, cb: unknown): unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    pending.set(`${req.getType()}::${req.getName()}`, {
      dependsOn: (req.getDependenciesList() as string[]).map((urn) => urn.slice(urn.lastIndexOf("::") + 2)).sort(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
      aliasNames: (req.getAliasesList() as any[]).map((a) => a.getSpec()?.getName() ?? "").filter(Boolean),
      ignoreChanges: req.getIgnorechangesList(),
      retainOnDelete: req.getRetainondelete(),
    });
    return register(req, cb);
  };
  return {
    registrations,
    ofType: (type) => registrations.filter((r) => r.type === type),
    named(name) {
      const found = registrations.filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one registration named ${name}, found ${found.length}: ${registrations.map((r) => r.name).join(", ")}`);
      return found[0]!;
    },
  };
}

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Whether a recorded input value is a secret, as the engine would receive it. */
export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** The recorded value with secret wrappers removed, for comparing plain inputs. */
export function plain(v: unknown): any {
  if (isSecretValue(v)) return plain((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** The recorded value with every secret replaced by "[secret]": what a reader of state or preview sees. */
export function redacted(v: unknown): any {
  if (isSecretValue(v)) return "[secret]";
  if (Array.isArray(v)) return v.map(redacted);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redacted(x)]));
  return v;
}

/** Resolves an output, failing the test if it never resolves. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("output never resolved")), 10_000);
    output.apply((v) => {
      clearTimeout(timer);
      resolve(v);
      return v;
    });
  });
}

/** Whether an output is marked secret. */
export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(output);
}

/** Waits until every registration the program started has reached the mock monitor. */
export async function settled(): Promise<void> {
  const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (typeof waitForRPCs !== "function") throw new Error("@pulumi/pulumi no longer exports runtime.waitForRPCs; update tests/unit/recording-mocks.ts");
  await waitForRPCs();
}
