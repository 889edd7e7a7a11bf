/**
 * The Pulumi CLI and Node.js language host, built from Go modules when no pinned CLI is installed.
 * The provider plugins are not needed by this layer (and cannot be built here: see README).
 */
import { execa } from "execa";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    cliBin: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const r = await execa("bash", ["scripts/engine.sh", "ensure"], {
    cwd: project.config.root,
    stderr: "inherit",
    env: { ...process.env, BERTH_ENGINE_ALLOW_MISSING: "1" },
  });
  project.provide("cliBin", r.stdout.trim().split("\n").pop()!);
}
