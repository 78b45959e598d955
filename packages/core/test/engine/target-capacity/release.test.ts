// After a failed migration the target holds no path to the guest RAM it built: nothing that
// outlives the failure — the target, the error it rejected with — keeps memory alive, so
// a listener's memory returns to its idle level once the runtime collects it.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  GuestMemory,
  MigrationTarget,
  StreamEncoder,
  TargetCapacity,
} from "../../../src/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

afterEach(() => vi.restoreAllMocks());

/**
 * Collects until `ref` is cleared. Each round first lets the current job end: a WeakRef
 * keeps what `deref()` returned alive until then.
 */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  const tick = () => new Promise((r) => setImmediate(r));
  for (let i = 0; i < 10; i++) {
    await tick();
    gc();
    await tick();
    if (ref.deref() === undefined) return true;
  }
  return false;
}

/** Starts a target, sends it a HANDSHAKE it accepts (8 MiB, no devices), waits for ACCEPT. */
async function acceptedTarget(capacity?: TargetCapacity) {
  const created: WeakRef<GuestMemory>[] = [];
  const create = GuestMemory.create.bind(GuestMemory);
  const spy = vi.spyOn(GuestMemory, "create").mockImplementation((options) => {
    const memory = create(options);
    created.push(new WeakRef(memory));
    return memory;
  });
  const { source, target } = createMemoryChannelPair();
  const migration = new MigrationTarget(
    createHost({ name: "dst", plugins: [] }),
    target,
    capacity ? { capacity } : {},
  );
  const received = migration.receive();
  received.catch(() => {});
  const encoder = new StreamEncoder();
  const config = new TextEncoder().encode(JSON.stringify({ name: "vm", memoryMiB: 8 }));
  await source.send(encoder.start({ config, devices: [] }));
  expect(await source.returnPath?.next()).toMatchObject({ type: "ACCEPT" });
  expect(created).toHaveLength(1);
  // The spy's own record of what it returned would keep the memory alive.
  spy.mockClear();
  return { source, encoder, migration, received, memory: created[0] as WeakRef<GuestMemory> };
}

describe("guest memory after a failed migration", () => {
  it("the source vanishing mid-stream: neither the target nor its error keeps guest RAM", async () => {
    const { source, migration, received, memory } = await acceptedTarget();
    source.destroy();
    const err = await received.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: expect.stringMatching(/^E/) });
    expect(await collected(memory)).toBe(true);
    // Both stay reachable here on purpose: they are what a caller (the CLI) holds.
    expect(migration.state).toBe("receiving");
    expect(err).toBeInstanceOf(Error);
  });

  it("a bad END (RAM digest mismatch, thrown while loading): the error keeps no guest RAM", async () => {
    const { source, encoder, received, memory } = await acceptedTarget();
    await source.send(encoder.precopyEnd()).catch(() => {});
    await source.send(encoder.end(new Uint8Array(32))).catch(() => {});
    const err = await received.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EBADMSG" });
    expect(await collected(memory)).toBe(true);
    expect(err).toBeInstanceOf(Error);
  });

  it("gives the VM's share of a shared budget back, so the next VM is admitted", async () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 8 });
    const { source, received } = await acceptedTarget(capacity);
    expect(capacity.hostedMiB).toBe(8);
    source.destroy();
    await received.catch(() => {});
    // At once through core's addon; without it, once the runtime collected the RAM.
    for (let i = 0; i < 10 && capacity.hostedMiB > 0; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    expect(capacity.hostedMiB).toBe(0);
    expect(capacity.loading).toBe(false);
  });
});
