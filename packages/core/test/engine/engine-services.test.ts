// The engine's collaborators come from the host's container (EngineServices): swapping a
// token's registration changes what a migration uses.
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChannelFactory,
  type ChannelListener,
  createMemoryChannelPair,
  MigrationError,
  MigrationSource,
  type SimulatedVm,
  type SourceChannel,
  type TargetChannel,
  TOKENS,
} from "../../src/index.js";
import {
  memoryTarget,
  RecordingSink,
  receiveOn,
  SteppingClock,
  startVm,
  toyHost,
} from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** A factory that hands out in-memory channels and remembers every URL it was asked for. */
class MemoryChannelFactory implements ChannelFactory {
  readonly connected: string[] = [];

  constructor(private readonly peer: (channel: TargetChannel) => void) {}

  async connect(url: string): Promise<SourceChannel> {
    this.connected.push(url);
    const { source, target } = createMemoryChannelPair();
    this.peer(target);
    return source;
  }

  listen(): Promise<ChannelListener> {
    throw new Error("not used");
  }

  openRestore(): TargetChannel {
    throw new Error("not used");
  }
}

describe("engine services from the host container", () => {
  it("a virtual clock registered on the hosts shows in the result's timings", async () => {
    const sourceHost = toyHost("src");
    const targetHost = toyHost("dst");
    const vm = await startVm(sourceHost, vms);
    // One millisecond per reading: every timing becomes a whole number of readings.
    const clock = new SteppingClock(1_000_000n);
    sourceHost.container.register(TOKENS.Clock, { useValue: clock });
    targetHost.container.register(TOKENS.Clock, { useValue: new SteppingClock(1_000_000n) });
    const { source, received } = memoryTarget(targetHost, vms);
    const result = await new MigrationSource(vm, source, {}, sourceHost).migrate();
    await received;
    const timings = [
      result.totalTimeMs,
      result.downtimeMs,
      ...Object.values(result.downtime).filter((v): v is number => typeof v === "number"),
      ...result.iterations.map((i) => i.durationMs),
      ...result.throughput.map((s) => s.tMs),
    ];
    for (const t of timings) expect(Number.isInteger(t), `${t}`).toBe(true);
    expect(result.totalTimeMs).toBeGreaterThan(0);
    expect(result.totalTimeMs).toBeLessThanOrEqual(clock.reads);
    // The target timed its device load on its own virtual clock: two readings, 1 ms.
    expect(result.downtime.targetLoadMs).toEqual({ "00:05.0": 1 });
  });

  it("a recording event sink sees the source's phases in order, its iterations and progress", async () => {
    const host = toyHost("src");
    const sink = new RecordingSink();
    host.container.register(TOKENS.EventSink, { useValue: sink });
    const vm = await startVm(host, vms);
    const { source, received } = memoryTarget(toyHost("dst"), vms);
    const result = await new MigrationSource(vm, source, {}, host).migrate();
    await received;
    expect(sink.of("phase").map((e) => e.phase)).toEqual([
      "handshake",
      "setup",
      "precopy",
      "switchover",
      "handover",
      "completed",
    ]);
    expect(sink.of("iteration").map((e) => e.stats)).toEqual(result.iterations);
    expect(sink.of("progress").at(-1)?.progress.wireBytes).toBe(result.wireBytes);
  });

  it("a recording event sink on the target host sees it walk receiving → loaded → running", async () => {
    const targetHost = toyHost("dst");
    const sink = new RecordingSink();
    targetHost.container.register(TOKENS.EventSink, { useValue: sink });
    const host = toyHost("src");
    const vm = await startVm(host, vms);
    const { source, received } = memoryTarget(targetHost, vms);
    await new MigrationSource(vm, source, {}, host).migrate();
    await received;
    expect(sink.of("target-state").map((e) => e.state)).toEqual(["receiving", "loaded", "running"]);
  });

  it("MigrationSource.connect opens its channel through the host's channel factory", async () => {
    const host = toyHost("src");
    const targetHost = toyHost("dst");
    let received: Promise<unknown> = Promise.resolve();
    const factory = new MemoryChannelFactory((target) => {
      received = receiveOn(targetHost, target, vms);
    });
    host.container.register(TOKENS.ChannelFactory, { useValue: factory });
    const vm = await startVm(host, vms);
    const source = await MigrationSource.connect(host, vm, "tcp://target.invalid:4444");
    const result = await source.migrate();
    await received;
    expect(factory.connected).toEqual(["tcp://target.invalid:4444"]);
    expect(result.outcome).toBe("completed");
  });

  it("a channel factory that cannot connect fails the handshake with the VM untouched", async () => {
    const host = toyHost("src");
    const refusing: ChannelFactory = {
      connect: async () => {
        throw new MigrationError("ECONNREFUSED", "handshake", "nobody listens");
      },
      listen: async () => {
        throw new Error("not used");
      },
      openRestore: () => {
        throw new Error("not used");
      },
    };
    host.container.register(TOKENS.ChannelFactory, { useValue: refusing });
    const vm = await startVm(host, vms);
    await expect(MigrationSource.connect(host, vm, "tcp://gone:1")).rejects.toMatchObject({
      code: "ECONNREFUSED",
      phase: "handshake",
      rolledBack: true,
      message: expect.stringContaining("cannot reach tcp://gone:1"),
    });
    expect(vm.running).toBe(true);
  });
});
