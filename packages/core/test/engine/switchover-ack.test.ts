// Regression (issue #9): a small VM converges in a pass or two, after which the source spent
// its whole iteration budget in milliseconds without reading the return path, and aborted
// with "switchover-ack never arrived" while the ack sat unread in its socket. Waiting for the
// ack is not an iteration: the source waits (bounded), sending what gets dirtied meanwhile.
import { afterEach, describe, expect, it } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  MigrationSource,
  MigrationTarget,
  MigState,
  parseVmConfig,
  type ReturnMessage,
  SimulatedVm,
  type TargetChannel,
} from "../../src/index.js";
import { dmaToyPlugin } from "../helpers/dma-toy-plugin.js";
import { withReturnPath } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** A small, quiet VM: it fits any downtime limit after its first pass. */
async function smallVm(): Promise<SimulatedVm> {
  const host = createHost({ name: "src", plugins: [dmaToyPlugin()] });
  const vm = await SimulatedVm.create(
    parseVmConfig({
      memoryMiB: 8,
      vcpus: 1,
      workloads: [{ pattern: "uniform", pagesPerSecond: 200 }],
      devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
      initialFill: 0.2,
      seed: 11,
    }),
    host,
    { role: "source" },
  );
  vms.push(vm);
  await vm.start();
  return vm;
}

/**
 * The target's channel with its SWITCHOVER_ACK held back until `release` settles; later
 * answers queue behind it, so the return path keeps its order. The target itself is not
 * blocked: it goes on reading the stream.
 */
function holdingAck(channel: TargetChannel, release: Promise<void>): TargetChannel {
  let queue: Promise<void> = Promise.resolve();
  return withReturnPath(channel, (rp) => ({
    start: (digest, version) => rp.start(digest, version),
    send: (msg: ReturnMessage) => {
      const held = msg.type === "SWITCHOVER_ACK";
      queue = queue.then(() => (held ? release : undefined)).then(() => rp.send(msg));
      if (held) {
        queue.catch(() => {});
        return Promise.resolve();
      }
      return queue;
    },
  }));
}

describe("switchover-ack", () => {
  it("waiting for a late switchover-ack spends no iteration: the migration completes", async () => {
    const vm = await smallVm();
    const { source: src, target: dst } = createMemoryChannelPair();
    let releaseAck = (): void => {};
    const release = new Promise<void>((r) => {
      releaseAck = r;
    });
    const target = new MigrationTarget(
      createHost({ name: "dst", plugins: [dmaToyPlugin()] }),
      holdingAck(dst, release),
      { verifyRam: true },
    );
    const received = target.receive();
    received.catch(() => {});
    // Two iterations allowed, and the ack is held until a third began: only a source that
    // does not count the wait as iterations gets there.
    const source = new MigrationSource(vm, src, {
      maxIterations: 2,
      downtimeLimitMs: 60_000,
      verifyRam: true,
    });
    let iterations = 0;
    source.on("iteration", () => {
      if (++iterations === 3) releaseAck();
    });
    const result = await source.migrate();
    const arrived = await received;
    vms.push(arrived.vm);
    expect(result.outcome).toBe("completed");
    expect(result.iterations.length).toBeGreaterThanOrEqual(3);
    expect(arrived.ramSha256).toBe(result.ramSha256);
  });

  it("a switchover-ack that never comes fails after peerTimeoutMs, and the VM runs on", async () => {
    const vm = await smallVm();
    const { source: src, target: dst } = createMemoryChannelPair();
    const target = new MigrationTarget(
      createHost({ name: "dst", plugins: [dmaToyPlugin()] }),
      holdingAck(dst, new Promise<void>(() => {})),
    );
    target.receive().catch(() => {});
    const source = new MigrationSource(vm, src, {
      maxIterations: 2,
      downtimeLimitMs: 60_000,
      peerTimeoutMs: 300,
    });
    await expect(source.migrate()).rejects.toMatchObject({
      code: "ETIMEDOUT",
      phase: "precopy",
      rolledBack: true,
      message: expect.stringMatching(/switchover-ack never arrived .* within 300 ms/),
    });
    expect(vm.running).toBe(true);
    for (const d of vm.devices) expect(d.driver.getState()).toBe(MigState.RUNNING);
  });
});
