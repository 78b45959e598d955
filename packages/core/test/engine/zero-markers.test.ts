// A zero marker for a page the target holds data for must clear it; repeating the marker
// must not clear it again. A hostile source re-sent 65,536-page zero runs (8 KiB each on
// the wire) over pages written once, and the target zeroed 256 MiB for each, freezing its
// event loop for 16 s on 1.6 MB of input. Zeroing is bounded by the data that arrived.
import { describe, expect, it } from "vitest";
import { ReceivingState } from "../../src/engine/target-receiving.js";
import { GuestMemory } from "../../src/memory/guest-memory.js";
import { PAGE_SIZE } from "../../src/memory/page.js";
import type { RamPagesBody } from "../../src/stream/records.js";
import type { SimulatedVm } from "../../src/vm/simulated-vm.js";

const PAGES = 64;

function run(startPage: number, count: number, data: Uint8Array | undefined): RamPagesBody {
  const kinds = new Uint8Array(Math.ceil(count / 8)).fill(data === undefined ? 0 : 0xff);
  return { type: "RAM_PAGES", startPage, count, kinds, data: data ?? new Uint8Array(0) };
}

/** Guest memory whose {@link GuestMemory.pageView} calls are counted: each is a page zeroed. */
function countingVm(): { vm: SimulatedVm; memory: GuestMemory; zeroed: () => number } {
  const memory = GuestMemory.create({ size: PAGES * PAGE_SIZE });
  let views = 0;
  const pageView = memory.pageView.bind(memory);
  memory.pageView = (pfn: number) => {
    views++;
    return pageView(pfn);
  };
  const vm = { memory, devices: [] } as unknown as SimulatedVm;
  return { vm, memory, zeroed: () => views };
}

describe("zero markers on the target", () => {
  it("clear a written page once, however often they repeat", () => {
    const { vm, memory, zeroed } = countingVm();
    const receiving = new ReceivingState(
      { vm, streams: new Map() },
      { initialDataLoaded: async () => {} },
    );
    receiving.applyPages(run(0, PAGES, new Uint8Array(PAGES * PAGE_SIZE).fill(7)));
    for (let i = 0; i < 100; i++) receiving.applyPages(run(0, PAGES, undefined));
    expect(zeroed()).toBe(PAGES);
    expect(memory.view(0, PAGES * PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });

  it("clear a page again once new data was written to it", () => {
    const { vm, memory, zeroed } = countingVm();
    const receiving = new ReceivingState(
      { vm, streams: new Map() },
      { initialDataLoaded: async () => {} },
    );
    for (let round = 1; round <= 3; round++) {
      receiving.applyPages(run(8, 8, new Uint8Array(8 * PAGE_SIZE).fill(round)));
      receiving.applyPages(run(0, 24, undefined));
      expect(memory.view(8 * PAGE_SIZE, 8 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    }
    expect(zeroed()).toBe(3 * 8);
  });
});
