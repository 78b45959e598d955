import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Errno, MdevError } from "@mdevkit/core";
import { type ChildEvent, childEventSchema } from "./events.js";

/** Path of the mdevkit executable script, to start child `listen`/`migrate` processes. */
export const MDEVKIT_BIN = fileURLToPath(new URL("../bin/mdevkit.js", import.meta.url));

/** A child mdevkit process speaking `--events`. */
export class MdevkitChild {
  readonly process: ChildProcess;
  /**
   * The child's exit code (null when a signal ended it), once it exited and every line it
   * printed was read: Node may report the exit before the child's last output, so waiting
   * for "exit" alone can miss a `result` the child did print.
   */
  readonly exited: Promise<number | null>;
  readonly #listeners = new Set<(e: ChildEvent) => void>();
  readonly events: ChildEvent[] = [];

  /**
   * Starts `mdevkit ARGS --events`. `wrapper` runs it through another command, e.g.
   * `["ip", "netns", "exec", "ns1"]` to start it in a network namespace.
   */
  constructor(args: readonly string[], wrapper: readonly string[] = []) {
    const argv = [process.execPath, MDEVKIT_BIN, ...args, "--events"];
    const [command, ...rest] = [...wrapper, ...argv] as [string, ...string[]];
    this.process = spawn(command, rest, { stdio: ["ignore", "pipe", "inherit"] });
    this.exited = new Promise((resolve) => this.process.once("close", (code) => resolve(code)));
    const lines = createInterface({ input: this.process.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      let parsed: ChildEvent;
      try {
        parsed = childEventSchema.parse(JSON.parse(line));
      } catch {
        process.stderr.write(`${line}\n`);
        return;
      }
      this.events.push(parsed);
      for (const l of this.#listeners) l(parsed);
    });
  }

  /** Calls `fn` for every event from now on. */
  on(fn: (e: ChildEvent) => void): void {
    this.#listeners.add(fn);
  }

  /** The first event of `type` (already seen or still to come); rejects if the child exits first. */
  waitFor<T extends ChildEvent["event"]>(
    type: T,
    timeoutMs = 60_000,
  ): Promise<Extract<ChildEvent, { event: T }>> {
    const seen = this.events.find((e) => e.event === type);
    if (seen) return Promise.resolve(seen as Extract<ChildEvent, { event: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new MdevError("ETIMEDOUT", `no "${type}" from child within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const fn = (e: ChildEvent): void => {
        if (e.event !== type) return;
        clearTimeout(timer);
        this.#listeners.delete(fn);
        resolve(e as Extract<ChildEvent, { event: T }>);
      };
      this.#listeners.add(fn);
      void this.exited.then((code) => {
        clearTimeout(timer);
        this.#listeners.delete(fn);
        const again = this.events.find((e) => e.event === type);
        if (again) resolve(again as Extract<ChildEvent, { event: T }>);
        else reject(new MdevError("ECONNRESET", `child exited (code ${code}) before "${type}"`));
      });
    });
  }

  /**
   * The child's `result` event; rejects with its `error` event (as a typed MdevError) if
   * that comes first — how a parent waits for a `migrate` child.
   */
  result(timeoutMs = 60_000): Promise<Extract<ChildEvent, { event: "result" }>> {
    const failure = this.waitFor("error", timeoutMs).then((e) => {
      throw new MdevError(e.code as Errno, e.message);
    });
    failure.catch(() => {});
    return Promise.race([this.waitFor("result", timeoutMs), failure]);
  }

  /** Kills the child. */
  kill(): void {
    this.process.kill("SIGKILL");
  }
}
