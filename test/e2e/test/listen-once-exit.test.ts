// `listen --once` printed its result and exited 5 s after every completed migration: the
// target closed its channel from inside its receive loop, whose reads had stopped, so the
// close never saw the source's FIN and waited out its 5 s fallback. Both processes must be
// done together.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, expectExit, spawnEvents, startTarget, writeJson } from "../helpers/processes.js";

afterEach(cleanup);

/** When `child` exits, by the wall clock. */
function exitTime(child: { process: NodeJS.EventEmitter }): Promise<number> {
  return new Promise((resolve) => child.process.once("exit", () => resolve(Date.now())));
}

// The close's fallback is 5 s; a graceful close between two local processes takes
// milliseconds. Half the fallback tells them apart on any load.
const GRACEFUL_MS = 2500;

describe("listen --once", () => {
  it("exits as soon as its source has, once the migration completed", async () => {
    const config = writeJson("idle.json", {
      name: "idle-vm",
      memoryMiB: 64,
      vcpus: 1,
      initialFill: 0.5,
      workloads: [{ pattern: "idle" }],
      devices: [{ slot: "00:05.0", plugin: "mtty", deviceType: "mtty-1" }],
    });
    const target = await startTarget();
    const targetExit = exitTime(target.child);
    const source = spawnEvents(["migrate", "--to", target.url, "--config", config]);
    const sourceExit = exitTime(source);
    await expectExit(source, { code: 0, signal: null });
    await expectExit(target.child, { code: 0, signal: null });
    expect((await targetExit) - (await sourceExit)).toBeLessThan(GRACEFUL_MS);
  }, 60_000);
});
