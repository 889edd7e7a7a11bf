import { defineConfig } from "vitest/config";

// The layers, each runnable alone (`npm run test:unit` etc.). In one run, the ones that touch the
// devhost (host, providers, e2e) run one group after another: they share its nginx, its ports and
// the machine's Docker engine. The pure layers run together first.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          sequence: { groupOrder: 0 },
          include: ["tests/unit/**/*.test.ts"],
          // Pulumi mocks cost ~12 ms a resource and the first run compiles a lot.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "render",
          sequence: { groupOrder: 0 },
          include: ["tests/render/**/*.test.ts"],
          globalSetup: ["tests/render/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          // The rendered host scripts, run over SSH on the devhost (systemd, nginx, Docker, Postgres)
          // exactly as the Command resources run them.
          name: "host",
          sequence: { groupOrder: 1 },
          include: ["tests/host/**/*.test.ts"],
          globalSetup: ["tests/host/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 1_800_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          // The real Pulumi CLI on the berth program, where no provider plugin is needed.
          name: "cli",
          sequence: { groupOrder: 0 },
          include: ["tests/cli/**/*.test.ts"],
          globalSetup: ["tests/cli/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 3_600_000,
        },
      },
      {
        test: {
          // The provider stand-ins against the real providers' schemas and SEMANTICS.md, one case
          // per rule; the rules with real effects run against Docker and the devhost.
          name: "providers",
          sequence: { groupOrder: 2 },
          include: ["tests/providers/**/*.test.ts"],
          globalSetup: ["tests/providers/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 1_800_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: "e2e",
          sequence: { groupOrder: 3 },
          include: ["tests/e2e/**/*.test.ts"],
          globalSetup: ["tests/e2e/global-setup.ts"],
          testTimeout: 900_000,
          hookTimeout: 3_600_000,
          // One stack, one devhost: the end-to-end files share both, so they run one at a time.
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
