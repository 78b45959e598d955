/**
 * One real migration of a VM holding a GVTg_TEST vGPU through the engine
 * (MigrationSource → memory channel → MigrationTarget), with everything the invariant
 * tests need recorded: the source frozen at STOP, the target as it arrived (before its
 * guest ran), quiescence and precise ⊆ pinned observations, and interrupts after RUNNING.
 */
import {
  createHost,
  createMemoryChannelPair,
  type MigrationOptionsInput,
  MigrationSource,
  MigrationTarget,
  MigState,
  parseVmConfig,
  SimulatedVm,
  type VendorPlugin,
} from "@mdevkit/core";
import { type GvtgDriver, gvtgPlugin } from "../src/index.js";
import { type Method, pinnedGfns } from "./helpers.js";

/** What a test sees of the target as it arrived, before its guest ran. */
export interface Arrival {
  readonly vreg: [number, number][];
  readonly sreg: [number, number][];
  readonly cfg: Uint8Array;
  readonly ggtt: Uint32Array;
  readonly hostGfns: (number | undefined)[];
  readonly hostDma: number[];
  readonly pinned: Set<number>;
  readonly expectedPins: Set<number>;
  /** MSIs the target raised from creation until RUNNING, before any tick (beforeRun runs then). */
  readonly irqs: number;
  /** First 16 bytes of every framebuffer page in the target's RAM. */
  readonly fbHeaders: Uint8Array[];
}

/** A finished run. */
export interface Run {
  readonly source: SimulatedVm;
  readonly target: SimulatedVm;
  readonly src: GvtgDriver;
  readonly dst: GvtgDriver;
  readonly arrival: Arrival;
  /** Whether the source had a latched, unmasked interrupt at STOP. */
  readonly pendingAtStop: boolean;
  /** Rule breaks seen while it ran (quiescence, precise ⊆ pinned). */
  readonly violations: string[];
  /** Vendor dirty reports checked against the pinned scope. */
  readonly reportsChecked: number;
  readonly sourcePinsAtStop: { pinned: Set<number>; expected: Set<number> };
}

/** How to run one migration. */
export interface RunOptions {
  readonly method: Method;
  readonly preCopy: boolean;
  readonly options?: Record<string, unknown>;
  readonly seed?: number;
  /** Source ticks before the migration starts (default 120). */
  readonly ticksBefore?: number;
  /** Extra source preparation after those ticks. */
  prepare?(src: GvtgDriver): void;
  /** Tick the source every ms while the migration runs (default true). */
  readonly pump?: boolean;
  readonly targetPlugin?: VendorPlugin;
  readonly migration?: MigrationOptionsInput;
}

const ACTIVE = new Set<MigState>([MigState.RUNNING, MigState.PRE_COPY]);

/** Runs the migration; the caller destroys `source` and `target`. */
export async function runMigration(o: RunOptions): Promise<Run> {
  const config = parseVmConfig({
    memoryMiB: 4,
    vcpus: 1,
    // An idle vCPU: a guest CPU writing over the framebuffer would hide what the GPU wrote.
    workloads: [{ pattern: "idle" }],
    devices: [
      {
        slot: "00:02.0",
        plugin: "gvt-g",
        deviceType: "GVTg_TEST",
        dirtyTracking: o.method,
        options: { ...(o.preCopy ? {} : { stopCopyOnly: true }), ...o.options },
      },
    ],
    // The VM's own activity timer stays out of the way: the test ticks the device itself.
    deviceTickMs: 1000,
    seed: o.seed ?? 21,
  });
  const source = await SimulatedVm.create(
    config,
    createHost({ name: "src", plugins: [gvtgPlugin] }),
    {
      role: "source",
    },
  );
  const dev = source.devices[0]!;
  const src = dev.driver as GvtgDriver;
  const violations: string[] = [];
  dev.dma.attach({
    onDmaWrite: (iova) => {
      if (!ACTIVE.has(src.getState()))
        violations.push(`source DMA at ${iova} in state ${src.getState()}`);
    },
  });
  dev.irq.onRaise(() => {
    if (!ACTIVE.has(src.getState())) violations.push(`source MSI in state ${src.getState()}`);
  });
  let reportsChecked = 0;
  if (o.method === "vendor-bitmap" && dev.pinner) {
    // type1's pinned scope: pages pinned now, or pinned at any time since the last report.
    const unpinnedSince = new Set<number>();
    const pinner = dev.pinner;
    const unpin = pinner.unpin.bind(pinner);
    pinner.unpin = (iova: number, count: number) => {
      for (let i = 0; i < count; i++) unpinnedSince.add(iova / 4096 + i);
      unpin(iova, count);
    };
    const report = src.reportDirtyPages.bind(src);
    src.reportDirtyPages = async (bitmap: BigUint64Array) => {
      await report(bitmap);
      const pinned = pinnedGfns(source.iommu, source.memory.pages);
      for (let w = 0; w < bitmap.length; w++) {
        if (bitmap[w] === 0n) continue;
        for (let b = 0; b < 64; b++) {
          const page = w * 64 + b;
          if ((bitmap[w]! >> BigInt(b)) & 1n && !pinned.has(page) && !unpinnedSince.has(page)) {
            violations.push(`precise reported page ${page} outside the pinned scope`);
          }
        }
      }
      unpinnedSince.clear();
      reportsChecked++;
    };
  }
  for (let i = 0; i < (o.ticksBefore ?? 120); i++) src.tick();
  o.prepare?.(src);
  // Without the pump the device stays exactly as prepared until STOP: the VM's activity
  // timer starts before start() waits for the vCPU workers, and on a loaded machine it can
  // fire during that wait, so it must find no tick to call.
  if (o.pump === false) src.tick = () => {};
  await source.start();
  if (o.pump === false) source.stopDeviceActivity();
  const channel = createMemoryChannelPair();
  let arrival: Arrival | undefined;
  let pendingAtStop = false;
  const target = new MigrationTarget(
    createHost({ name: "dst", plugins: [o.targetPlugin ?? gvtgPlugin] }),
    channel.target,
    {
      verifyRam: true,
      beforeRun: (vm) => {
        const d = vm.devices[0]!;
        const drv = d.driver as GvtgDriver;
        const v = drv.vgpu;
        const expected = v.ggtt.presentGfns();
        for (const g of v.ppgtt.shadowLeafGfns()) expected.add(g);
        pendingAtStop = src.vgpu.interruptPending;
        arrival = {
          vreg: v.vreg.entries(),
          sreg: v.sreg.entries(),
          cfg: drv.configRead(0, 4096),
          ggtt: v.ggtt.virtual.slice(),
          hostGfns: Array.from({ length: v.ggtt.entries }, (_, i) => v.ggtt.hostGfn(i)),
          hostDma: v.host.dmaAddresses(),
          pinned: pinnedGfns(vm.iommu, vm.memory.pages),
          expectedPins: expected,
          irqs: d.irq.raised(),
          fbHeaders: Array.from({ length: v.layout.fbPages }, (_, p) =>
            vm.memory.read((v.layout.fbGfn + p) * 4096, 16),
          ),
        };
      },
    },
  );
  const received = target.receive();
  received.catch(() => {});
  const pump = o.pump === false ? undefined : setInterval(() => src.tick(), 1);
  try {
    await new MigrationSource(source, channel.source, {
      verifyRam: true,
      ...o.migration,
    }).migrate();
  } catch (err) {
    if (pump) clearInterval(pump);
    await source.destroy();
    throw err;
  } finally {
    if (pump) clearInterval(pump);
  }
  const arrived = await received;
  const tdev = arrived.vm.devices[0]!;
  // The test ticks the target itself from here on.
  arrived.vm.stopDeviceActivity();
  const dst = tdev.driver as GvtgDriver;
  tdev.dma.attach({
    onDmaWrite: (iova) => {
      if (dst.getState() !== MigState.RUNNING)
        violations.push(`target DMA at ${iova} in state ${dst.getState()}`);
    },
  });
  const expectedSrc = src.vgpu.ggtt.presentGfns();
  for (const g of src.vgpu.ppgtt.shadowLeafGfns()) expectedSrc.add(g);
  return {
    source,
    target: arrived.vm,
    src,
    dst,
    arrival: arrival!,
    pendingAtStop,
    violations,
    reportsChecked,
    sourcePinsAtStop: {
      pinned: pinnedGfns(source.iommu, source.memory.pages),
      expected: expectedSrc,
    },
  };
}
