import type { SystemdServiceSpec, SystemdTimerSpec } from "../../renderers/systemd-unit";

/** A hardened long-running API with every optional field set; argv exercises systemd's quoting. */
export const api: SystemdServiceSpec = {
  name: "berth-api",
  description: "berth API (100% uptime, \"hopefully\")",
  execStart: ["/usr/bin/sleep", "infinity", "$HOME", "50%", 'say "hi" \\o/', "", "a b;c"],
  execStartPre: [["/usr/bin/true"], ["/usr/bin/test", "-d", "/var/lib/berth"]],
  user: "berth",
  group: "berth",
  workingDirectory: "/var/lib/berth",
  environmentFile: "/etc/berth/api.env",
  environment: { NODE_ENV: "production", GREETING: 'a "b" 100% $x' },
  restartSec: 5,
  after: ["network-online.target", "docker.service"],
  wants: ["network-online.target"],
  requires: ["docker.service"],
  readWritePaths: ["/var/lib/berth", "/var/log/berth"],
  allowJit: true,
};

/** A timer-driven oneshot: no [Install], no hardening, no restart. */
export const backup: SystemdServiceSpec = {
  name: "berth-backup",
  description: "berth nightly database backup",
  type: "oneshot",
  execStart: ["/usr/bin/sleep", "1"],
  restart: "no",
  hardening: false,
  wantedBy: null,
};

export const timer: SystemdTimerSpec = {
  name: "berth-backup",
  description: "Run berth-backup.service nightly",
  onCalendar: "*-*-* 03:15:00",
  persistent: false,
  randomizedDelaySec: 900,
  unit: "berth-backup.service",
};
