// Issue #9 regression: a small VM converges in a pass or two, and the source used to spend
// its whole iteration budget in milliseconds while the target's switchover-ack sat unread
// ("EAGAIN: switchover-ack never arrived", 3 failures in 6 tries). Several migrations of
// that VM in a row between two processes must all complete.
import { afterEach, describe, expect, it } from "vitest";
import { migrateConfig } from "../helpers/migrate.js";
import { cleanup } from "../helpers/processes.js";
import { smallVmConfig } from "../helpers/vm-configs.js";

afterEach(cleanup);

const RUNS = 3;

describe("a small VM", () => {
  it(`migrates ${RUNS} times in a row between two processes, waiting for the switchover-ack`, async () => {
    const config = smallVmConfig();
    for (let run = 1; run <= RUNS; run++) {
      const { src } = await migrateConfig(config);
      // The target's device load time reached the source over the return path (LOADED).
      const downtime = (src as unknown as { downtime: { targetLoadMs: Record<string, number> } })
        .downtime;
      expect(Object.keys(downtime.targetLoadMs), `run ${run}`).toEqual(["00:05.0"]);
    }
    // Three whole migrations of 256 MiB, each with two fresh processes: more than one
    // test's usual share on a loaded 2-core machine.
  }, 300_000);
});
