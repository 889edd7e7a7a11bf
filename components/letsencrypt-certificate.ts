import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { certbotRenewalUnits, renderCertbotScript } from "../renderers/host-scripts";
import { SystemdUnit } from "./systemd-unit";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export interface LetsEncryptCertificateArgs {
  /** SSH connection to the host (from `Host.connection`). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Site name; the certbot lineage is `berth-<siteName>`. */
  siteName: string;
  /** Domains on the certificate. Each must resolve to the host and reach its nginx on port 80. */
  domains: string[];
  /** Contact address of the ACME account. */
  email: string;
  /**
   * ACME directory URL.
   * @default "https://acme-v02.api.letsencrypt.org/directory"
   */
  acmeServer?: string;
  /** A CA bundle on the host that signs the ACME server's own TLS (test servers such as pebble). */
  acmeCaBundle?: string;
  /** Directory nginx serves at `/.well-known/acme-challenge/`. */
  webroot: string;
  /** Where nginx reads the certificate chain; certbot's deploy hook copies each new one there. */
  certificatePath: string;
  /** Where nginx reads the private key. */
  keyPath: string;
  /**
   * When the renewal timer runs.
   * @default "*-*-* 03,15:27:00" (twice a day, as certbot recommends)
   */
  renewOnCalendar?: string;
}

/**
 * A Let's Encrypt certificate from certbot's webroot plugin on the host, and a systemd timer that
 * renews it. Create it after the nginx vhost, which serves the challenge directory.
 */
export class LetsEncryptCertificate extends pulumi.ComponentResource {
  /** certbot's output: issuer and expiry of the installed certificate. */
  readonly status: pulumi.Output<string>;

  constructor(name: string, args: LetsEncryptCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:edge:LetsEncryptCertificate", name, {}, opts);
    const acmeServer = args.acmeServer ?? "https://acme-v02.api.letsencrypt.org/directory";
    const issue = new command.remote.Command(
      `${name}-issue`,
      {
        connection: args.connection,
        ...WITHOUT_PREVIOUS_OUTPUT,
        create: renderCertbotScript({
          siteName: args.siteName,
          hostnames: args.domains,
          email: args.email,
          acmeServer,
          acmeCaBundle: args.acmeCaBundle,
          webroot: args.webroot,
          certificatePath: args.certificatePath,
          keyPath: args.keyPath,
        }),
      },
      { parent: this },
    );
    new SystemdUnit(
      `${name}-renew`,
      {
        connection: args.connection,
        ...certbotRenewalUnits(args.siteName, args.renewOnCalendar),
        env: args.acmeCaBundle ? { REQUESTS_CA_BUNDLE: args.acmeCaBundle } : {},
        envDir: `/etc/berth/${args.siteName}`,
      },
      { parent: this },
    );
    this.status = issue.stdout;
    this.registerOutputs({ status: this.status });
  }
}
