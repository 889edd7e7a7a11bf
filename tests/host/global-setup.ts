/** Docker, the local images and the devhost, up once for all host-layer files. */
import type { TestProject } from "vitest/node";
import { prepareDevhost, type DevhostInfo } from "../e2e/environment";

declare module "vitest" {
  export interface ProvidedContext {
    devhost: DevhostInfo;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide("devhost", await prepareDevhost(project.config.root));
}
