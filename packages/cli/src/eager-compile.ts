import { setFlagsFromString } from "node:v8";
import { setV8FlagUnlessChosen } from "./v8-flags.js";

/** Whether {@link compileEagerly} set `--no-lazy` in this process (not the user). */
let eagerBySetting = false;

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
  const set = setV8FlagUnlessChosen("--no-lazy", /^--(?:no[-_])?lazy$/, execArgv, nodeOptions);
  eagerBySetting ||= set;
  return set;
}

/**
 * Compiles lazily again what loads from here on, where {@link compileEagerly} had turned
 * it off; returns whether it did. Call it once the main thread's code (the CLI and every
 * plugin) has loaded.
 *
 * Why: V8's flags are per process, so the vCPU worker threads started afterwards compiled
 * Node's bootstrap and the worker's modules eagerly too, for nothing: their code runs from
 * the thread's start, never for the first time in the paused window. Two threads started
 * with eager compilation took 290-310 ms of CPU and 21-24 MiB, against 200-230 ms and
 * 18.5-18.7 MiB (3 runs each, our 2-core EPYC machines, 2026-12-02).
 */
export function compileLazilyFromHere(): boolean {
  if (!eagerBySetting) return false;
  setFlagsFromString("--lazy");
  eagerBySetting = false;
  return true;
}
