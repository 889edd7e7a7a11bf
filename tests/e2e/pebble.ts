/**
 * pebble, Let's Encrypt's own test ACME server (Debian's package ships only the binary), run on the
 * devhost for one site: a throwaway CA for its HTTPS endpoint, a config whose HTTP-01 port is the
 * vhost's, the site's name in /etc/hosts, and a transient systemd unit. Shared by the host layer
 * and the end-to-end layer.
 */
import { eventually, onDevhost } from "./devhost";

export interface Pebble {
  /** ACME directory URL. */
  directory: string;
  /** CA bundle on the devhost that signs pebble's HTTPS endpoint (certbot's REQUESTS_CA_BUNDLE). */
  caBundle: string;
  /** Stops pebble and removes what `startPebble` added (the site's certbot lineage is the caller's). */
  stop(): Promise<void>;
}

export async function startPebble(container: string, opts: { name: string; domain: string; httpPort: number }): Promise<Pebble> {
  const dir = `/etc/${opts.name}-pebble`;
  const unit = `${opts.name}-pebble`;
  const directory = "https://127.0.0.1:14000/dir";
  // /etc/hosts is a bind mount in the container: `sed -i` cannot rename over it, so rewrite in place.
  const dropHostsLine = `if grep -q ' ${opts.domain}$' /etc/hosts; then grep -v ' ${opts.domain}$' /etc/hosts > /tmp/${unit}-hosts; cat /tmp/${unit}-hosts > /etc/hosts; rm -f /tmp/${unit}-hosts; fi`;
  const stopScript = `systemctl stop ${unit} 2>/dev/null || true
systemctl reset-failed ${unit} 2>/dev/null || true
# pebble forgets its accounts when it stops, so certbot's account for this server goes with it.
rm -rf /etc/letsencrypt/accounts/127.0.0.1:14000
${dropHostsLine}
rm -rf ${dir}`;
  await onDevhost(container, stopScript, { reject: false });
  await onDevhost(
    container,
    `set -euo pipefail
command -v pebble >/dev/null || { echo "pebble is not installed in the devhost image" >&2; exit 1; }
install -d -m 0700 ${dir}
cd ${dir}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=${opts.name}-acme-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout key.pem -out req.pem 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf
openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem 2>/dev/null
cat > config.json <<JSON
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "${dir}/cert.pem", "privateKey": "${dir}/key.pem",
  "httpPort": ${opts.httpPort}, "tlsPort": 15001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
grep -q ' ${opts.domain}$' /etc/hosts || echo '127.0.0.1 ${opts.domain}' >> /etc/hosts
# No sleeps before validating, and no randomly rejected nonces: deterministic runs.
systemd-run --unit ${unit} --setenv=PEBBLE_VA_NOSLEEP=1 --setenv=PEBBLE_WFE_NONCEREJECT=0 /usr/bin/pebble -config ${dir}/config.json`,
  );
  const caBundle = `${dir}/ca.pem`;
  await eventually(
    async () => (await onDevhost(container, `curl -fsS --cacert ${caBundle} ${directory}`, { reject: false })).exitCode === 0,
    "pebble to answer",
  );
  return {
    directory,
    caBundle,
    async stop() {
      await onDevhost(container, stopScript, { reject: false });
    },
  };
}
