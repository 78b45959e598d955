// The receive-idle deadline is restarted by progress (each MiB of the stream), not by any byte:
// a peer that handshook and then trickles bytes cannot hold the target's loading slot, while a
// source that is merely slow — one record spanning several timeouts — is not cut.
import { afterEach, describe, expect, it } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  MigrationSource,
  MigrationTarget,
  PAGE_SIZE,
  parseVmConfig,
  RECEIVE_PROGRESS_BYTES,
  SimulatedVm,
  StreamEncoder,
  TargetCapacity,
} from "../../src/index.js";
import { nativePageRoutines } from "../../src/memory/native-page-routines.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A handshaken target (its VM accepted) sharing `capacity`, and the source end of its channel. */
async function accepted(capacity: TargetCapacity, receiveIdleTimeoutMs: number) {
  const { source, target } = createMemoryChannelPair();
  const migration = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
    capacity,
    receiveIdleTimeoutMs,
  });
  const received = migration.receive();
  received.catch(() => {});
  const encoder = new StreamEncoder();
  const config = new TextEncoder().encode(JSON.stringify({ name: "vm", memoryMiB: 16 }));
  await source.send(encoder.start({ config, devices: [] }));
  expect(await source.returnPath?.next()).toMatchObject({ type: "ACCEPT" });
  return { source, encoder, migration, received };
}

/** A RAM_PAGES record of `pages` data pages from `start`, as one buffer. */
function ramRecord(encoder: StreamEncoder, start: number, pages: number): Buffer {
  const data = Array.from({ length: pages }, (_, i) =>
    new Uint8Array(PAGE_SIZE).fill(1 + (i % 250)),
  );
  return Buffer.concat(encoder.ramPages(start, data));
}

describe("the receive-idle deadline", () => {
  it("drops a source that trickles bytes within the idle timeout, and frees the slot for a real migration", async () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 64 });
    const { source, encoder, received } = await accepted(capacity, 500);
    const record = ramRecord(encoder, 0, 1);
    let ended: unknown;
    void received.catch((e: unknown) => {
      ended = e;
    });
    // A byte every 50 ms: ten per idle timeout, each well within it.
    const t0 = performance.now();
    for (let i = 0; ended === undefined && performance.now() - t0 < 10_000; i++) {
      await source
        .send([record.subarray(i % record.length, (i % record.length) + 1)])
        .catch(() => {});
      await sleep(50);
    }
    expect(ended).toMatchObject({
      code: "ETIMEDOUT",
      message: expect.stringMatching(/less than 1 MiB more of the VM's state .* within 500 ms/),
    });
    expect(capacity.loading).toBe(false);
    // Given back at once through core's addon; without it the share stays counted until the
    // runtime collects the RAM (target-capacity/resident.test.ts).
    if (nativePageRoutines?.releasePages !== undefined) expect(capacity.hostedMiB).toBe(0);

    // The slot is free: a real migration arrives.
    const host = createHost({ name: "src", plugins: [] });
    const vm = await SimulatedVm.create(
      parseVmConfig({ memoryMiB: 16, vcpus: 1, initialFill: 0.5, seed: 5 }),
      host,
      { role: "source" },
    );
    vms.push(vm);
    await vm.start();
    const pair = createMemoryChannelPair();
    const target = new MigrationTarget(createHost({ name: "dst", plugins: [] }), pair.target, {
      capacity,
    }).receive();
    target.catch(() => {});
    await new MigrationSource(vm, pair.source, { downtimeLimitMs: 30_000 }).migrate();
    const arrived = await target;
    vms.push(arrived.vm);
    expect(arrived.outcome).toBe("resumed");
  });

  it("does not drop a source that sends records larger than a timeout's worth, slowly but steadily", async () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 64 });
    const idleMs = 1000;
    const { source, encoder, migration, received } = await accepted(capacity, idleMs);
    let ended: unknown;
    void received.catch((e: unknown) => {
      ended = e;
    });
    // Two 4 MiB records, each sent in 128 KiB pieces 40 ms apart: a record takes about 1.3 s,
    // longer than the idle timeout, while a MiB arrives every 0.3 s or so.
    const piece = 128 * 1024;
    expect(RECEIVE_PROGRESS_BYTES).toBeLessThanOrEqual(8 * piece);
    const t0 = performance.now();
    for (const start of [0, 1024]) {
      const record = ramRecord(encoder, start, 1024);
      for (let at = 0; at < record.length; at += piece) {
        await source.send([record.subarray(at, at + piece)]);
        await sleep(40);
      }
    }
    expect(performance.now() - t0).toBeGreaterThan(2 * idleMs);
    expect(ended).toBeUndefined();
    expect(migration.state).toBe("receiving");
    source.destroy();
    await expect(received).rejects.toMatchObject({ code: expect.not.stringMatching("ETIMEDOUT") });
  });
});
