// The target backs an incoming VM's RAM before ACCEPT. Before the fix it touched every page
// in one go on the main thread: one HANDSHAKE for a large VM froze the whole process (every
// other connection) for seconds, and the work went on after the peer had left.
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  GuestMemory,
  MigrationTarget,
  StreamEncoder,
  TargetCapacity,
} from "../../../src/index.js";
import { nativePageRoutines } from "../../../src/memory/native-page-routines.js";

afterEach(() => vi.restoreAllMocks());

const MIB = 2 ** 20;

/** Header + HANDSHAKE for a device-less VM of `memoryMiB`. */
function handshakeFrames(memoryMiB: number): Uint8Array[] {
  const config = new TextEncoder().encode(JSON.stringify({ name: "big", memoryMiB }));
  return new StreamEncoder().start({ config, devices: [] });
}

/** Pages `prefault` was asked to touch, summed over its calls (it runs in the spy). */
function countPrefaulted(onCall: () => void = () => {}) {
  let pages = 0;
  const prefault = GuestMemory.prototype.prefault;
  vi.spyOn(GuestMemory.prototype, "prefault").mockImplementation(function (
    this: GuestMemory,
    first = 0,
    count = this.pages - first,
  ) {
    pages += count;
    prefault.call(this, first, count);
    onCall();
  });
  return () => pages;
}

describe("the target's prefault of an incoming VM", () => {
  it("lets the process serve its other work while it runs", async () => {
    let turns = 0;
    let turnsDuringPrefault = 0;
    const timer = setInterval(() => turns++, 1);
    const prefaulted = countPrefaulted(() => {
      turnsDuringPrefault = turns;
    });
    const { source, target } = createMemoryChannelPair();
    const received = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
      maxMemoryMiB: 256,
    }).receive();
    received.catch(() => {});
    const startTurns = turns;
    await source.send(handshakeFrames(256));
    try {
      expect(await source.returnPath?.next()).toMatchObject({ type: "ACCEPT" });
    } finally {
      clearInterval(timer);
      source.destroy();
    }
    expect(prefaulted()).toBe((256 * MIB) / 4096);
    // Timers fired between the first and the last slice of the prefault.
    expect(turnsDuringPrefault).toBeGreaterThan(startTurns);
  }, 30_000);

  it("stops once the source left, and gives the VM's share of the budget back", async () => {
    const { source, target } = createMemoryChannelPair();
    // The source vanishes as soon as the first pages were touched.
    const prefaulted = countPrefaulted(() => source.destroy());
    const capacity = new TargetCapacity({ maxMemoryMiB: 1024 });
    const received = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
      capacity,
    }).receive();
    await source.send(handshakeFrames(1024));
    await expect(received).rejects.toMatchObject({
      code: "ECONNRESET",
      message: expect.stringMatching(/left while its VM's RAM was prefaulted/),
    });
    // One slice (about 10 ms of work), not the 262,144 pages of 1 GiB.
    expect(prefaulted()).toBeLessThan((1024 * MIB) / 4096 / 4);
    // Its RAM was given back at once through core's addon; without it, the share stays
    // counted until the runtime collects the RAM (resident.test.ts).
    if (nativePageRoutines?.releasePages !== undefined) expect(capacity.hostedMiB).toBe(0);
    expect(capacity.loading).toBe(false);
  }, 30_000);
});
