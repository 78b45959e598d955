import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MdevkitChild } from "@mdevkit/cli";
import type { Target } from "../../e2e/helpers/processes.js";

/**
 * The processes and files of one cell. The e2e helpers track children in one module-wide
 * set that `cleanup()` empties; cells run side by side, so each owns its own set here and
 * ends only what it started.
 */
export class CellProcesses {
  readonly #children = new Set<MdevkitChild>();
  readonly #dir = mkdtempSync(join(tmpdir(), "mdevkit-faults-"));

  /** Starts `mdevkit ARGS --events`, through `wrapper` when given (e.g. `ip netns exec NS`). */
  spawn(args: readonly string[], wrapper: readonly string[] = []): MdevkitChild {
    const child = new MdevkitChild(args, wrapper);
    this.#children.add(child);
    return child;
  }

  /**
   * Starts `listen --once --verify-ram EXTRA` on `on` (an ephemeral loopback port by
   * default), through `wrapper` when given; waits until it listens.
   */
  async target(
    extra: readonly string[],
    on = "tcp://127.0.0.1:0",
    wrapper: readonly string[] = [],
  ): Promise<Target> {
    const child = this.spawn(["listen", "--on", on, "--once", "--verify-ram", ...extra], wrapper);
    const { url } = await child.waitFor("listening", 60_000);
    return { child, url };
  }

  /** Writes `value` as JSON into this cell's temp dir; returns the path. */
  writeJson(name: string, value: unknown): string {
    const file = join(this.#dir, name);
    writeFileSync(file, JSON.stringify(value));
    return file;
  }

  /** SIGKILLs every child still running (stopped ones too), then removes the temp dir. */
  async dispose(): Promise<void> {
    const exits: Promise<unknown>[] = [];
    for (const child of this.#children) {
      const p = child.process;
      if (p.exitCode === null && p.signalCode === null) {
        exits.push(child.exited);
        p.kill("SIGKILL");
      }
    }
    await Promise.all(exits);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
