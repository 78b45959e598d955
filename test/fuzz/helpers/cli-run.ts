// `mdevkit` commands run two ways: in-process through the command line's own parser and
// command functions (fast: thousands of inputs), and as the real binary in a child process
// (what an operator runs: exit code, stderr, signals, hangs).
import { spawn } from "node:child_process";
import { buildProgram, MDEVKIT_BIN } from "@mdevkit/cli";

/**
 * Runs `mdevkit ARGS` in this process with stdout swallowed; resolves when the command
 * finished, rejects with what it threw. Listeners the command left on stdout are removed
 * (each command assumes it runs once per process).
 */
export async function runInProcess(args: readonly string[]): Promise<void> {
  const write = process.stdout.write;
  const listeners = new Set(process.stdout.listeners("error"));
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await buildProgram().parseAsync(["node", "mdevkit", ...args]);
  } finally {
    process.stdout.write = write;
    for (const l of process.stdout.listeners("error"))
      if (!listeners.has(l as never)) process.stdout.off("error", l as never);
  }
}

/** How a child `mdevkit` ended. */
export interface BinaryRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  /** True when it had to be killed after the time bound (a hang). */
  readonly hung: boolean;
  readonly ms: number;
}

/** Runs the real binary; kills it after `timeoutMs` (then `hung` is true). */
export function runBinary(args: readonly string[], timeoutMs: number): Promise<BinaryRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [MDEVKIT_BIN, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  return new Promise((resolve) => {
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, hung, ms: performance.now() - t0 });
    });
  });
}
