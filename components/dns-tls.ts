import * as cloudflare from "@pulumi/cloudflare";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderOriginCsrScript, renderSelfSignedScript } from "../renderers/host-scripts";
import { renderInstallFileScript } from "../renderers/remote-scripts";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export type DnsSpec =
  | { provider: "none" }
  | {
      provider: "cloudflare";
      /** Cloudflare zone id of the domains. */
      zoneId: string;
      /** The server's public IPv4 or IPv6 address. */
      target: string;
      /** Through Cloudflare's proxy (orange cloud). */
      proxied: boolean;
      /** Seconds; 1 is automatic. */
      ttl: number;
    };

export type TlsSpec =
  | { mode: "self-signed"; validityDays: number }
  | { mode: "letsencrypt" }
  | { mode: "cloudflare-origin"; validityDays: number };

export interface DnsTlsArgs {
  /** Domains of the site; the first is the certificate's common name. */
  domains: string[];
  /**
   * DNS records to manage.
   * @default { provider: "none" }
   */
  dns?: DnsSpec;
  /** How the certificate nginx serves is made. `letsencrypt` installs a placeholder here; `LetsEncryptCertificate` replaces it once nginx answers challenges. */
  tls: TlsSpec;
  /** SSH connection to the host (from `Host.connection`). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Where nginx reads the certificate chain on the host. */
  certificatePath: string;
  /** Where nginx reads the private key on the host. Private keys are made on the host and never leave it. */
  keyPath: string;
}

/** Child names follow the domain, not its position, so reordering the list changes nothing. */
export function recordName(domain: string): string {
  return domain.replace(/^\*\./, "wildcard.").replace(/\./g, "-");
}

/**
 * The site's name and its certificate: Cloudflare DNS records (or none), and a certificate at the
 * paths nginx reads — self-signed (local), a Cloudflare origin certificate, or a placeholder that
 * Let's Encrypt replaces.
 */
export class DnsTls extends pulumi.ComponentResource {
  readonly certificatePath: string;
  readonly keyPath: string;
  /** The command that put a certificate in place; nginx must not load the vhost before it. */
  readonly certificate: command.remote.Command;
  /** Hostnames of the managed DNS records. */
  readonly records: pulumi.Output<string>[];

  constructor(name: string, args: DnsTlsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:edge:DnsTls", name, {}, opts);
    const child = { parent: this };
    const dns = args.dns ?? { provider: "none" };
    this.certificatePath = args.certificatePath;
    this.keyPath = args.keyPath;

    this.records = [];
    if (dns.provider === "cloudflare") {
      const type = dns.target.includes(":") ? "AAAA" : "A";
      for (const domain of args.domains) {
        const record = new cloudflare.DnsRecord(
          `${name}-record-${recordName(domain)}`,
          {
            zoneId: dns.zoneId,
            name: domain,
            type,
            content: dns.target,
            proxied: dns.proxied,
            // Cloudflare requires automatic TTL on proxied records.
            ttl: dns.proxied ? 1 : dns.ttl,
            comment: "managed by berth",
          },
          child,
        );
        this.records.push(record.name);
      }
    }

    const selfSigned = (onlyIfMissing: boolean, validityDays: number) =>
      new command.remote.Command(
        `${name}-certificate`,
        {
          connection: args.connection,
          ...WITHOUT_PREVIOUS_OUTPUT,
          create: renderSelfSignedScript({
            certificatePath: args.certificatePath,
            keyPath: args.keyPath,
            hostnames: args.domains,
            validityDays,
            onlyIfMissing,
          }),
        },
        child,
      );

    switch (args.tls.mode) {
      case "self-signed":
        this.certificate = selfSigned(false, args.tls.validityDays);
        break;
      case "letsencrypt":
        // nginx cannot start a TLS server without a certificate, and certbot needs nginx to answer
        // its challenge: a short-lived placeholder breaks the circle.
        this.certificate = selfSigned(true, 7);
        break;
      case "cloudflare-origin": {
        const csr = new command.remote.Command(
          `${name}-origin-csr`,
          { connection: args.connection, ...WITHOUT_PREVIOUS_OUTPUT, create: renderOriginCsrScript({ keyPath: args.keyPath, hostnames: args.domains }) },
          child,
        );
        const origin = new cloudflare.OriginCaCertificate(
          `${name}-origin-certificate`,
          {
            csr: csr.stdout,
            hostnames: args.domains,
            requestType: "origin-rsa",
            requestedValidity: args.tls.validityDays,
          },
          child,
        );
        this.certificate = new command.remote.Command(
          `${name}-certificate`,
          {
            connection: args.connection,
            ...WITHOUT_PREVIOUS_OUTPUT,
            stdin: origin.certificate,
            create: renderInstallFileScript({ path: args.certificatePath, mode: "0644", owner: "root", group: "root" }),
          },
          child,
        );
        break;
      }
    }
    this.registerOutputs({ certificatePath: this.certificatePath, keyPath: this.keyPath, records: this.records });
  }
}
