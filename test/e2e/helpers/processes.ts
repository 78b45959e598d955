// Real mdevkit processes for end-to-end tests: every child is tracked so afterEach can
// kill whatever a failed test left running (a stray `listen` would hold a port and a core).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ChildEvent, MDEVKIT_BIN, MdevkitChild } from "@mdevkit/cli";
import { expect } from "vitest";

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/** Absolute path of a module in test/e2e/fixtures (for `--plugin`). */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** A fresh temp dir, removed by {@link cleanup}. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-e2e-"));
  dirs.add(dir);
  return dir;
}

/** Writes `text` to a file `name` in a new temp dir and returns the file's path. */
export function writeText(name: string, text: string): string {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

/** Writes `value` as JSON into a new temp dir and returns the file's path. */
export function writeJson(name: string, value: unknown): string {
  return writeText(name, JSON.stringify(value));
}

/** Starts `mdevkit ARGS --events`; killed by {@link cleanup} if still running. */
export function spawnEvents(args: readonly string[]): MdevkitChild {
  const child = new MdevkitChild(args);
  children.add(child.process);
  return child;
}

/** Kills every child still running and removes temp dirs (for afterEach). */
export async function cleanup(): Promise<void> {
  const exits: Promise<unknown>[] = [];
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      exits.push(new Promise((resolve) => child.once("exit", resolve)));
      child.kill("SIGKILL");
    }
  }
  await Promise.all(exits);
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** A `listen --once` target that announced its address. */
export interface Target {
  readonly child: MdevkitChild;
  readonly url: string;
}

/**
 * Starts `mdevkit listen --once --verify-ram` on `on` (an ephemeral loopback port by
 * default) and waits until it listens.
 */
export async function startTarget(
  extra: readonly string[] = [],
  on = "tcp://127.0.0.1:0",
): Promise<Target> {
  const child = spawnEvents(["listen", "--on", on, "--once", "--verify-ram", ...extra]);
  const { url } = await child.waitFor("listening", 30_000);
  return { child, url };
}

/** How a finished child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Waits for `child` to exit (at most `timeoutMs`) and says how it ended. */
export async function exitOf(child: MdevkitChild, timeoutMs = 90_000): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`child still running after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([child.exited, late]);
  } finally {
    clearTimeout(timer);
  }
  return { code: child.process.exitCode, signal: child.process.signalCode };
}

/** What a plain (non-`--events`) mdevkit run printed. */
export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `mdevkit ARGS` to completion, capturing stdout and stderr. */
export function runCli(args: readonly string[], timeoutMs = 90_000): Promise<CliRun> {
  const child = spawn(process.execPath, [MDEVKIT_BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mdevkit ${args.join(" ")} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The event of `type` a child printed, or a failure naming what it printed instead. */
export function eventOf<T extends ChildEvent["event"]>(
  child: MdevkitChild,
  type: T,
): Extract<ChildEvent, { event: T }> {
  const found = child.events.find((e) => e.event === type);
  if (found === undefined)
    throw new Error(`no "${type}" event; the child printed:\n${transcript(child)}`);
  return found as Extract<ChildEvent, { event: T }>;
}

/** The child's events except progress, one JSON per line: context for a failed assertion. */
export function transcript(child: MdevkitChild): string {
  return child.events
    .filter((e) => e.event !== "progress")
    .map((e) => JSON.stringify(e))
    .join("\n");
}

/** Waits for `child` to exit and checks how; a mismatch shows what the child printed. */
export async function expectExit(
  child: MdevkitChild,
  expected: Exit,
  timeoutMs = 90_000,
): Promise<void> {
  const exit = await exitOf(child, timeoutMs);
  expect(exit, `${child.process.spawnargs.slice(2).join(" ")}\n${transcript(child)}`).toEqual(
    expected,
  );
}

/** Index of the first event of `type` (-1 when absent), to check the order of events. */
export function indexOf(child: MdevkitChild, type: ChildEvent["event"]): number {
  return child.events.findIndex((e) => e.event === type);
}
