/** `pulumi-resource-docker`: the stand-in for pulumi-docker 5.0.0 (SEMANTICS.md §0-§5, §10). */
import { serve } from "../runtime/server";
import { dockerProvider } from "./provider";

void serve(dockerProvider);
