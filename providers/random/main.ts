/** `pulumi-resource-random`: the stand-in for pulumi-random 4.21.1 (SEMANTICS.md §0, §7). */
import { serve } from "../runtime/server";
import { randomProvider } from "./provider";

void serve(randomProvider);
