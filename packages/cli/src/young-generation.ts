import { setV8FlagUnlessChosen } from "./v8-flags.js";

/**
 * Keeps V8's young generation at its initial size (two 1 MiB semi-spaces) for the life of
 * the process, unless the user sized it through `NODE_OPTIONS` or node's own flags.
 *
 * Why: V8 doubles the young generation whenever a scavenge finds it busy, up to two 16 MiB
 * semi-spaces, and never gives the pages back while the process allocates. Loading the CLI
 * alone grows it to the maximum, and a migration then writes through all of it: about
 * 25 MiB more resident on each side, next to a guest whose RAM is the budget (issue #13's
 * "peak RSS ≤ guest RAM + 10 %"). What the engine allocates per batch dies young, so
 * the small young generation costs no measurable time (RAM-static 2 GiB, interleaved:
 * median totals equal within the noise).
 *
 * V8 reads the growth factor each time it considers growing, so setting it at run time
 * works, but only for what is allocated afterwards: call this before importing anything
 * large. The maximum size (`--max-semi-space-size`) is read once at start-up and cannot be
 * changed here.
 */
export function keepYoungGenerationSmall(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): boolean {
  return setV8FlagUnlessChosen(
    "--semi-space-growth-factor=1",
    /^--(?:(?:max|min)[-_])?semi[-_]space/,
    execArgv,
    nodeOptions,
  );
}
