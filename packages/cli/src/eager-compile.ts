import { setV8FlagUnlessChosen } from "./v8-flags.js";

/**
 * Makes V8 compile each function of the modules loaded from here on as the module loads,
 * instead of at the function's first call, unless the user chose (`--lazy`, `--no-lazy`).
 *
 * Why: a plugin's stop, save and load run for the first time in a process inside the
 * paused window of its first migration, and lazy compilation put their parsing and
 * bytecode generation there — the first device of each plugin took 0.4–1.0 ms more than
 * the next of its kind (issue #13, "downtime flat in device count"). Measured interleaved
 * on our 2-core EPYC machines (2026-12-01, 6 + 6 runs): 8 devices of 3 plugins, median
 * downtime 13.4 → 10.9 ms; 1 device 5.8 → 5.0 ms; the seed VM (5 + 5) 56.7 → 48.1 ms with
 * equal totals. It costs about 15 ms at start-up and 3–5 MiB of bytecode.
 *
 * V8 reads the flag when it compiles a script, so call this before importing the CLI.
 */
export function compileEagerly(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): boolean {
  return setV8FlagUnlessChosen("--no-lazy", /^--(?:no[-_])?lazy$/, execArgv, nodeOptions);
}
