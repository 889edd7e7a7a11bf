/** The Docker engine and the devhost, for the stand-in rules that have real effects. */
import type { TestProject } from "vitest/node";
import { prepareDevhost } from "../e2e/environment";

export default async function setup(project: TestProject): Promise<void> {
  await prepareDevhost(project.config.root);
}
