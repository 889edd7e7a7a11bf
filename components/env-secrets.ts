import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface GeneratedSecretSpec {
  /**
   * Length in characters.
   * @default 64
   */
  length?: number;
  /**
   * Any string; changing it generates a new value on the next `up` (rotation).
   * @default "1"
   */
  rotation?: string;
}

export interface EnvSecretsArgs {
  /**
   * Secrets berth generates, by env name (e.g. `SESSION_SECRET`). Stable across `up`s.
   * @default {}
   */
  generated?: Record<string, GeneratedSecretSpec>;
  /**
   * Secrets the operator sets with `pulumi config set --secret`, by env name.
   * @default {}
   */
  provided?: Record<string, pulumi.Input<string>>;
}

/**
 * The app's secret environment: generated values (stable until their rotation key changes) and
 * operator-provided ones, all kept as Pulumi secrets so neither state nor preview shows them.
 */
export class EnvSecrets extends pulumi.ComponentResource {
  /** Every secret by env name, as one secret map. */
  readonly env: pulumi.Output<Record<string, string>>;
  /** The names, for documentation and the unit tests; the values stay secret. */
  readonly names: string[];

  constructor(name: string, args: EnvSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:app:EnvSecrets", name, {}, opts);
    const values: Record<string, pulumi.Input<string>> = {};
    for (const [envName, spec] of Object.entries(args.generated ?? {})) {
      const generated = new random.RandomPassword(
        `${name}-${envName.toLowerCase().replace(/_/g, "-")}`,
        {
          length: spec.length ?? 64,
          // Letters and digits survive every env-file and shell quoting rule unchanged.
          special: false,
          keepers: { rotation: spec.rotation ?? "1" },
        },
        { parent: this },
      );
      values[envName] = pulumi.secret(generated.result);
    }
    for (const [envName, value] of Object.entries(args.provided ?? {})) {
      values[envName] = pulumi.secret(value);
    }
    this.names = Object.keys(values).sort();
    this.env = pulumi.secret(pulumi.output(values) as pulumi.Output<Record<string, string>>);
    this.registerOutputs({ env: this.env });
  }
}
