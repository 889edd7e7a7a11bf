/**
 * The stand-in "Cloudflare Origin CA": a local CA whose key and certificate sit next to the zone
 * file, made on first use. It signs the CSRs OriginCaCertificate sends, so berth gets a real
 * certificate chain it can install and a test can verify (`openssl verify -CAfile <caCertificatePath()>`).
 * Nothing trusts this CA, exactly like nothing but Cloudflare's edge trusts the real Origin CA.
 *
 * Uses the `openssl` CLI: Node's crypto cannot sign certificates.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { storePath } from "./zone-store";

const run = promisify(execFile);

/** Where the stand-in CA's certificate is (PEM), for verifying issued chains. */
export function caCertificatePath(file = storePath()): string {
  return path.join(path.dirname(file), "origin-ca.pem");
}

function caKeyPath(file = storePath()): string {
  return path.join(path.dirname(file), "origin-ca.key");
}

/**
 * Makes the CA if it is not there yet. Call it under the store lock, so two plugin processes never
 * make two CAs. Valid 100 years: it must outlive any certificate it signs (5475 days at most).
 */
export async function ensureCa(file = storePath()): Promise<void> {
  const cert = caCertificatePath(file);
  const key = caKeyPath(file);
  if (fs.existsSync(cert) && fs.existsSync(key)) return;
  const tmp = fs.mkdtempSync(path.join(path.dirname(file), ".origin-ca-"));
  try {
    await run("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "36500",
      "-keyout", path.join(tmp, "key.pem"), "-out", path.join(tmp, "cert.pem"),
      "-subj", "/O=berth stand-in/OU=Cloudflare Origin CA stand-in/CN=berth stand-in Cloudflare Origin CA (not trusted anywhere)",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    fs.chmodSync(path.join(tmp, "key.pem"), 0o600);
    fs.renameSync(path.join(tmp, "key.pem"), key);
    fs.renameSync(path.join(tmp, "cert.pem"), cert);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Why a CSR cannot be signed: openssl's own words. */
export class CsrError extends Error {}

/**
 * Signs `csr` for `hostnames` (the subjectAltName, in order) for `days` days, with `serialHex` as
 * the serial number. Returns the PEM certificate and its notAfter.
 */
export async function sign(args: { csr: string; hostnames: string[]; days: number; serialHex: string }, file = storePath()): Promise<{ certificate: string; notAfter: Date }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "berth-cf-sign-"));
  try {
    const csrFile = path.join(tmp, "req.csr");
    const extFile = path.join(tmp, "ext.cnf");
    const out = path.join(tmp, "cert.pem");
    fs.writeFileSync(csrFile, args.csr.endsWith("\n") ? args.csr : `${args.csr}\n`);
    fs.writeFileSync(
      extFile,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        `subjectAltName=${args.hostnames.map((h) => `DNS:${h}`).join(",")}`,
        "",
      ].join("\n"),
    );
    try {
      await run("openssl", ["req", "-in", csrFile, "-noout", "-verify"]);
    } catch (e) {
      throw new CsrError(((e as { stderr?: string }).stderr ?? String(e)).trim().split("\n")[0] ?? "invalid CSR");
    }
    await run("openssl", [
      "x509", "-req", "-in", csrFile, "-CA", caCertificatePath(file), "-CAkey", caKeyPath(file),
      "-set_serial", `0x${args.serialHex}`, "-days", String(args.days), "-sha256", "-extfile", extFile, "-out", out,
    ]);
    const certificate = fs.readFileSync(out, "utf8");
    return { certificate, notAfter: new Date(new X509Certificate(certificate).validTo) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
