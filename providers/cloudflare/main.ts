/** `pulumi-resource-cloudflare`: the stand-in for pulumi-cloudflare 6.17.0 (SEMANTICS.md §0, §8, §9). */
import { serve } from "../runtime/server";
import { cloudflareProvider } from "./provider";

void serve(cloudflareProvider);
