// ITERATION records carry the dirty pages the sync that ended the iteration found: what the
// next iteration sends (its dirtyPagesFound).
import { afterEach, describe, expect, it } from "vitest";
import {
  type IterationBody,
  MigrationSource,
  type SimulatedVm,
  type SourceChannel,
  StreamDecoder,
} from "../../src/index.js";
import { memoryTarget, startVm, toyHost } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** `channel`, with every ITERATION record it carries decoded into `seen`. */
function tapIterations(channel: SourceChannel, seen: IterationBody[]): SourceChannel {
  const decoder = new StreamDecoder();
  return {
    role: "source",
    peer: channel.peer,
    capabilities: channel.capabilities,
    returnPath: channel.returnPath,
    close: () => channel.close(),
    destroy: (reason) => channel.destroy(reason),
    send: (frames) => {
      for (const f of frames) {
        for (const r of decoder.push(f.slice())) {
          if (r.type === "HANDSHAKE") decoder.setGuestPageCount(vms[0]?.memory.pages ?? 0);
          if (r.type === "ITERATION") seen.push({ ...r });
        }
      }
      return channel.send(frames);
    },
  };
}

describe("ITERATION records", () => {
  it("carry the dirty pages found by the sync that ends the iteration", async () => {
    const host = toyHost("src");
    const vm = await startVm(host, vms, {
      memoryMiB: 8,
      vcpus: 1,
      workloads: [{ pattern: "uniform", pagesPerSecond: 20_000 }],
      devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
      initialFill: 0.25,
      seed: 5,
    });
    const { source, received } = memoryTarget(toyHost("dst"), vms);
    const seen: IterationBody[] = [];
    const result = await new MigrationSource(
      vm,
      tapIterations(source, seen),
      // Capped at 20 MB/s, the pages dirtied during a pass never fit 1 ms, however fast the
      // machine: uncapped, a quick first pass could leave few enough to fit and complete.
      { downtimeLimitMs: 1, maxIterations: 4, switchoverAck: false, maxBandwidth: 20e6 },
      host,
    )
      .migrate()
      .catch((e: unknown) => e);
    await received.catch(() => {});
    // Four iterations, then the source gives up.
    expect(seen.map((r) => r.iteration)).toEqual([1, 2, 3, 4]);
    expect(result).toMatchObject({ code: "EAGAIN" });
    for (const r of seen.slice(0, -1)) {
      const next = seen[r.iteration];
      // What this iteration's closing sync found is exactly what the next one sent.
      expect(r.dirtyPages).toBeGreaterThan(0);
      expect((next?.dataPages ?? 0) + (next?.zeroPages ?? 0)).toBe(r.dirtyPages);
    }
  });
});
