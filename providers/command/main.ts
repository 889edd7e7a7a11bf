/** `pulumi-resource-command`: the stand-in for pulumi-command 1.2.1 (SEMANTICS.md §0, §6). */
import { serve } from "../runtime/server";
import { commandProvider } from "./provider";

void serve(commandProvider);
