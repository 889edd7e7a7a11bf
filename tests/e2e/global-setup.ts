/** Readies the engine and the devhost once for all end-to-end files; `npm test` already did the slow part. */
import type { TestProject } from "vitest/node";
import { prepareEnvironment, type DevhostInfo } from "./environment";

declare module "vitest" {
  export interface ProvidedContext {
    engineBin: string;
    pluginBin: string;
    devhost: DevhostInfo;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const { engineBin, pluginBin, providers, devhost } = await prepareEnvironment(project.config.root);
  console.log(`e2e: ${providers}`);
  project.provide("engineBin", engineBin);
  project.provide("pluginBin", pluginBin);
  project.provide("devhost", devhost);
}
