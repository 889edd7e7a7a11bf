/**
 * Seed 003's way of running the same app: a Docker Compose project (web + Postgres, the app's
 * environment in the compose file and its secrets in an env file, a fixed host port) changed by
 * editing those files and running `docker-compose up -d`, which recreates what changed in place.
 * Behind the same nginx as berth's site, through a vhost of its own.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";

export interface ComposeState {
  /** The app image's tag. */
  tag: string;
  /** Plain environment, written into the compose file. */
  env: Record<string, string>;
  /** Secret environment, written into the env file beside it (seed 003 keeps secrets in `.env`). */
  secrets: Record<string, string>;
  /** The app's healthcheck interval. */
  healthInterval: string;
  /** The worker service's command, when there is one. */
  worker?: string[];
}

export interface ComposeSpec {
  /** Compose project name: prefixes its containers, network and volume. */
  project: string;
  /** The app image repository (the tag is in the state). */
  image: string;
  /** Host loopback port the app is published on (compose publishes a fixed one). */
  hostPort: number;
  /** The app's port in the container. */
  port: number;
  /** Memory limits, as berth's stack gives them, so both run the same containers. */
  appMemory: string;
  dbMemory: string;
  dbImage: string;
  /** The app's healthcheck, but for its interval (which a row changes). */
  health: { path: string; timeout: string; retries: number; startPeriod: string };
  stopGraceSeconds: number;
}

export class ComposeProject {
  readonly dir: string;
  readonly network: string;
  readonly databaseUrl: string;
  private readonly dbPassword = randomBytes(18).toString("hex");

  constructor(
    readonly spec: ComposeSpec,
    dir: string,
  ) {
    this.dir = dir;
    this.network = `${spec.project}_default`;
    this.databaseUrl = `postgres://app:${this.dbPassword}@db:5432/app`;
  }

  /** Writes docker-compose.yml and app.env for `state`, as an operator edits them. */
  write(state: ComposeState): void {
    const s = this.spec;
    const app = {
      image: `${s.image}:${state.tag}`,
      environment: { PORT: String(s.port), ...state.env },
      env_file: ["app.env"],
      mem_limit: s.appMemory,
      stop_grace_period: `${s.stopGraceSeconds}s`,
      restart: "unless-stopped",
      depends_on: { db: { condition: "service_healthy" } },
    };
    const doc = {
      version: "2.4",
      services: {
        db: {
          image: s.dbImage,
          environment: { POSTGRES_PASSWORD: this.dbPassword, POSTGRES_USER: "app", POSTGRES_DB: "app" },
          volumes: ["db_data:/var/lib/postgresql/data"],
          mem_limit: s.dbMemory,
          restart: "unless-stopped",
          healthcheck: { test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d app"], interval: "1s", retries: 60 },
        },
        app: {
          ...app,
          ports: [`127.0.0.1:${s.hostPort}:${s.port}`],
          healthcheck: {
            test: ["CMD-SHELL", `curl -fsS -o /dev/null http://127.0.0.1:${s.port}${s.health.path} || exit 1`],
            interval: state.healthInterval,
            timeout: s.health.timeout,
            retries: s.health.retries,
            start_period: s.health.startPeriod,
          },
        },
        ...(state.worker ? { worker: { ...app, command: state.worker } } : {}),
      },
      volumes: { db_data: {} },
    };
    fs.writeFileSync(path.join(this.dir, "docker-compose.yml"), stringify(doc));
    const envFile = Object.entries({ DATABASE_URL: this.databaseUrl, ...state.secrets })
      .map(([k, v]) => `${k}=${v}`)
      .join("\n");
    fs.writeFileSync(path.join(this.dir, "app.env"), `${envFile}\n`, { mode: 0o600 });
  }

  /** `docker-compose <args>` in the project directory; returns what it printed (it reports on stderr). */
  async run(...args: string[]): Promise<string> {
    const r = await execa("docker-compose", ["-p", this.spec.project, ...args], { cwd: this.dir, all: true });
    return String(r.all ?? "");
  }

  /** `docker-compose up -d`: recreates the services whose configuration changed. Returns the services it recreated. */
  async up(): Promise<string[]> {
    const out = await this.run("up", "-d");
    // Compose prints each "Recreating <project>_<service>_<n> ..." line twice (started, done).
    return [...new Set([...out.matchAll(/Recreating \S+?_([a-z0-9-]+)_\d+/g)].map((m) => m[1]!))];
  }

  /** Removes the project's containers, network and volume. */
  async down(): Promise<void> {
    await execa("docker-compose", ["-p", this.spec.project, "down", "-v", "--remove-orphans", "-t", "5"], { cwd: this.dir, reject: false });
  }
}
