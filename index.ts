import * as pulumi from "@pulumi/pulumi";
import { Site } from "./components/site";
import { loadStackConfig } from "./config/load";

// Everything is validated here, before the first resource is registered.
const config = loadStackConfig();

const site = new Site(config.settings.site.name, {
  settings: config.settings,
  secrets: config.secrets,
  sshPrivateKey: config.sshPrivateKey,
  hostKey: config.hostKey,
  dockerSshOpts: config.dockerSshOpts,
  registryPassword: config.registryPassword,
  stack: pulumi.getStack(),
});

export const url = site.url;
export const imageId = site.imageId;
export const tag = site.tag;
export const webPort = site.webPort;
export const databaseVolume = site.databaseVolume;
