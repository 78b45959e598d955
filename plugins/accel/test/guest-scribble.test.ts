// Regression (found by `npm run fuzz`, test/fuzz): the guest model reads each submission's
// source and destination addresses back from its SQ in guest RAM to check the output. A
// VM's vCPU workload writes anywhere in RAM, SQs included; a scribbled SQE then named an
// address outside guest RAM, the read threw DmaFaultError out of tick() — from the VM's
// activity timer, an uncaught exception that killed the mdevkit process. A wild address in
// guest memory is the guest's own corruption: a failed check, never a host crash.
import { describe, expect, it } from "vitest";
import { makeHarness, ticks } from "./helpers.js";

describe("guest RAM scribbled over by other vCPUs", () => {
  it("SQEs naming addresses outside guest RAM count as verify failures; tick never throws", async () => {
    const h = await makeHarness({ seed: 5 });
    ticks(h.driver, 40);
    h.driver.setWorkload(false);
    const { depth, qpNum } = h.driver.profile;
    for (let q = 0; q < qpNum; q++) h.driver.guestSubmit(q, 3);
    // The device completes the jobs (reading the SQEs while they were intact) ...
    for (let i = 0; i < 8; i++) h.driver.device.tick();
    // ... then other vCPUs overwrite the SQEs' source addresses before the guest reaps:
    // the IOVA the fuzzer's crash named, far outside the 2 MiB guest.
    const sqeBytes = h.driver.personality.sqeBytes;
    for (const qp of h.driver.layout.qps)
      for (let i = 0; i < depth; i++) {
        const wild = new Uint8Array(8);
        new DataView(wild.buffer).setBigUint64(0, 0x2b200000000n, true);
        h.memory.write(qp.sq + i * sqeBytes + 8, wild);
      }
    expect(() => h.driver.guestService()).not.toThrow();
    h.driver.setWorkload(true);
    expect(() => ticks(h.driver, 400)).not.toThrow();
    const stats = h.driver.guestStats();
    expect(stats.verifyFailures + stats.errors).toBeGreaterThan(0);
    h.dispose();
  });
});
