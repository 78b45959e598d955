import {
  type Clock,
  createHost,
  createMemoryChannelPair,
  type MdevHost,
  MigrationError,
  type MigrationEvent,
  type MigrationEventSink,
  type MigrationSource,
  MigrationTarget,
  parseVmConfig,
  type ReturnPathWriter,
  SimulatedVm,
  type SimulatedVm as SimulatedVmType,
  type TargetChannel,
  type TargetResult,
  type VmConfigInput,
} from "../../src/index.js";
import { dmaToyPlugin } from "./dma-toy-plugin.js";

/** A small, quiet VM with one DMA toy device: converges in a pass or two. */
export const SMALL_VM: VmConfigInput = {
  memoryMiB: 8,
  vcpus: 1,
  workloads: [{ pattern: "uniform", pagesPerSecond: 500 }],
  devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
  initialFill: 0.25,
  seed: 21,
};

/** A host with the DMA toy plugin. */
export function toyHost(name: string): MdevHost {
  return createHost({ name, plugins: [dmaToyPlugin()] });
}

/**
 * The target end `channel` with its return path swapped for `wrap(original)`: for tests
 * that watch, hold back or bend the target's answers.
 */
export function withReturnPath(
  channel: TargetChannel,
  wrap: (original: ReturnPathWriter) => ReturnPathWriter,
): TargetChannel {
  const original = channel.returnPath;
  if (original === null) throw new Error("needs a return path");
  return {
    role: "target",
    peer: channel.peer,
    capabilities: channel.capabilities,
    receive: () => channel.receive(),
    close: () => channel.close(),
    destroy: (reason) => channel.destroy(reason),
    returnPath: wrap(original),
  };
}

/** Builds and starts a source VM on `host`; `vms` collects it for afterEach. */
export async function startVm(
  host: MdevHost,
  vms: SimulatedVmType[],
  config: VmConfigInput = SMALL_VM,
): Promise<SimulatedVm> {
  const vm = await SimulatedVm.create(parseVmConfig(config), host, { role: "source" });
  vms.push(vm);
  await vm.start();
  return vm;
}

/** A target receiving on the far end of an in-memory pair; returns the source end. */
export function memoryTarget(
  host: MdevHost,
  vms: SimulatedVmType[],
): {
  source: ReturnType<typeof createMemoryChannelPair>["source"];
  received: Promise<TargetResult>;
} {
  const { source, target } = createMemoryChannelPair();
  const received = receiveOn(host, target, vms);
  return { source, received };
}

/** Runs a MigrationTarget on `channel`; the arrived VM goes to `vms`. */
export function receiveOn(
  host: MdevHost,
  channel: TargetChannel,
  vms: SimulatedVmType[],
): Promise<TargetResult> {
  const received = new MigrationTarget(host, channel, { verifyRam: true }).receive().then((r) => {
    vms.push(r.vm);
    return r;
  });
  received.catch(() => {});
  return received;
}

/** A clock that advances exactly `stepNs` at every reading, and counts the readings. */
export class SteppingClock implements Clock {
  reads = 0;
  #now = 0n;

  constructor(private readonly stepNs: bigint) {}

  nowNs(): bigint {
    this.reads++;
    this.#now += this.stepNs;
    return this.#now;
  }
}

/** An event sink that keeps every event. */
export class RecordingSink implements MigrationEventSink {
  readonly events: MigrationEvent[] = [];

  event(e: MigrationEvent): void {
    this.events.push(e);
  }

  /** The events of one kind, in order. */
  of<K extends MigrationEvent["kind"]>(kind: K): Extract<MigrationEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<MigrationEvent, { kind: K }> => e.kind === kind);
  }
}

/**
 * Runs a migration that must fail: resolves with its MigrationError and how long it took
 * to fail; throws if it completed (`completed` says why that is wrong) or failed otherwise.
 */
export async function failedMigration(
  source: MigrationSource,
  completed: string,
): Promise<{ error: MigrationError; ms: number }> {
  const t0 = performance.now();
  const error = await source.migrate().then(
    () => {
      throw new Error(completed);
    },
    (e: unknown) => e,
  );
  if (!(error instanceof MigrationError)) throw error;
  return { error, ms: performance.now() - t0 };
}
