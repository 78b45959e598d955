import {
  createHost,
  createMemoryChannelPair,
  type MigrationOptionsInput,
  MigrationSource,
  MigrationTarget,
  type MigState,
  parseVmConfig,
  SimulatedVm,
  type TargetResult,
  type VendorPlugin,
} from "@mdevkit/core";
import {
  describeState,
  type NicState,
  readMarker,
  SimulatedSwitch,
  type SriovNicDriver,
  type SwitchPort,
  sriovNicPlugin,
  TxCmd,
} from "../src/index.js";

/** Everything the guests and devices did, on source and target together (host-side). */
export class Recorder {
  readonly rx: { seq: number; flow: number; queue: number; role: string }[] = [];
  readonly txPosted: { seq: number; queue: number }[] = [];
  readonly mbxSent: number[] = [];
  readonly mbxReplies: number[] = [];
  readonly mbxHandled: { id: number; role: string }[] = [];
  readonly partials: {
    queue: number;
    seq: number | undefined;
    outcome: string;
    role: string;
    firstDesc: number;
  }[] = [];
  readonly msis: { vector: number; role: string; n: number }[] = [];
  readonly rxWritebacks: { queue: number; index: number; role: string }[] = [];
  /** State transitions of each driver, with the switch tick they completed at. */
  readonly transitions: { role: string; state: MigState; tick: number }[] = [];

  attach(driver: SriovNicDriver, role: string, sw?: SimulatedSwitch): void {
    driver.guestTrace = {
      rxDelivered: (seq, flow, queue) => this.rx.push({ seq, flow, queue, role }),
      txPosted: (seq, queue) => this.txPosted.push({ seq, queue }),
      mailboxSent: (id) => this.mbxSent.push(id),
      mailboxReply: (id) => this.mbxReplies.push(id),
    };
    driver.deviceTrace = {
      mailboxHandled: (id) => this.mbxHandled.push({ id, role }),
      txPartial: (queue, seq, outcome, firstDesc) =>
        this.partials.push({ queue, seq, outcome, role, firstDesc }),
      msi: (vector) => this.msis.push({ vector, role, n: this.msis.length }),
      rxWriteback: (queue, index) => this.rxWritebacks.push({ queue, index, role }),
    };
    const setState = driver.setState.bind(driver);
    driver.setState = async (next) => {
      const out = await setState(next);
      this.transitions.push({ role, state: next, tick: sw?.now ?? 0 });
      return out;
    };
  }
}

/** A VM with one sriov-nic device on a fresh host. */
export interface SourceRig {
  readonly vm: SimulatedVm;
  readonly driver: SriovNicDriver;
}

/** Options of {@link sourceVm}. */
export interface SourceOptions {
  readonly deviceOptions?: Record<string, unknown>;
  readonly memoryMiB?: number;
  readonly deviceTickMs?: number;
  readonly plugin?: VendorPlugin;
  readonly seed?: number;
}

const vms: SimulatedVm[] = [];

/** Destroys every VM the helpers made (call in afterEach). */
export async function destroyVms(): Promise<void> {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
}

/** A source VM (not started). vCPUs idle: the guest's activity is the NIC driver model. */
export async function sourceVm(options: SourceOptions = {}): Promise<SourceRig> {
  const config = parseVmConfig({
    memoryMiB: options.memoryMiB ?? 8,
    vcpus: 1,
    workloads: [{ pattern: "hot-set", pagesPerSecond: 2000, hotSetPages: 64, hotFraction: 1 }],
    devices: [
      {
        slot: "00:06.0",
        plugin: "sriov-nic",
        deviceType: "igbvf-2q",
        options: { profile: "test", ...options.deviceOptions },
      },
    ],
    initialFill: 0.1,
    deviceTickMs: options.deviceTickMs ?? 1,
    seed: options.seed ?? 21,
  });
  const vm = await SimulatedVm.create(
    config,
    createHost({ name: "src", plugins: [options.plugin ?? sriovNicPlugin] }),
    { role: "source" },
  );
  vms.push(vm);
  return { vm, driver: vm.devices[0]!.driver as SriovNicDriver };
}

/** The outcome of {@link migrate}. */
export interface Migrated {
  readonly result: Awaited<ReturnType<MigrationSource["migrate"]>>;
  readonly target: TargetResult;
  readonly driver: SriovNicDriver;
  /** The target device's description before its guest ran. */
  readonly arrived: Record<string, unknown>;
}

/** Migrates `source` over a memory channel to a fresh host; `beforeRun` sees the target driver first. */
export async function migrate(
  source: SimulatedVm,
  options: {
    readonly plugin?: VendorPlugin;
    readonly engine?: MigrationOptionsInput;
    readonly beforeRun?: (driver: SriovNicDriver, vm: SimulatedVm) => void;
  } = {},
): Promise<Migrated> {
  const channel = createMemoryChannelPair();
  let arrived: Record<string, unknown> = {};
  const target = new MigrationTarget(
    createHost({ name: "dst", plugins: [options.plugin ?? sriovNicPlugin] }),
    channel.target,
    {
      verifyRam: true,
      beforeRun: (vm) => {
        const driver = vm.devices[0]!.driver as SriovNicDriver;
        arrived = describeState(driver);
        options.beforeRun?.(driver, vm);
      },
    },
  );
  const received = target.receive();
  received.catch(() => {});
  const result = await new MigrationSource(source, channel.source, {
    verifyRam: true,
    ...options.engine,
  }).migrate();
  const t = await received;
  vms.push(t.vm);
  return { result, target: t, driver: t.vm.devices[0]!.driver as SriovNicDriver, arrived };
}

/** Resolves when `cond` holds, polling every few ms; rejects after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Seqs of the TX packets still queued in `driver`'s rings (read from guest memory, whole packets). */
export function pendingTxSeqs(driver: SriovNicDriver, vm: SimulatedVm): number[] {
  const s = driver.snapshot();
  const out: number[] = [];
  for (const q of s.tx) {
    // A packet being gathered started before the head.
    const from =
      q.partial !== null && q.partial.policy === "gathering" ? q.partial.firstDesc : q.head;
    out.push(...txRingSeqs(q, vm, from));
  }
  return out;
}

/**
 * The seq of the TX packet whose first descriptor is `firstDesc` in `driver`'s ring
 * `queue`, read from guest memory: what a dropped partial packet was, when the device saw
 * too little of it to name it.
 */
export function txSeqAt(
  driver: SriovNicDriver,
  vm: SimulatedVm,
  queue: number,
  firstDesc: number,
): number | undefined {
  const q = driver.snapshot().tx[queue];
  return q === undefined ? undefined : txRingSeqs(q, vm, firstDesc, 1)[0];
}

/** Seqs of the whole packets in a TX ring from descriptor `from` to its tail (at most `limit`). */
function txRingSeqs(
  q: NicState["tx"][number],
  vm: SimulatedVm,
  from: number,
  limit = Number.POSITIVE_INFINITY,
): number[] {
  const out: number[] = [];
  const n = q.lenBytes / 16;
  let i = from;
  let parts: Uint8Array[] = [];
  while (i !== q.tail && out.length < limit) {
    const desc = vm.memory.read(q.baseGpa + i * 16, 16);
    const dv = new DataView(desc.buffer, desc.byteOffset, 16);
    const cmd = dv.getUint32(8, true);
    const context =
      (cmd & TxCmd.DEXT) !== 0 && ((cmd >>> TxCmd.DTYP_SHIFT) & 0xf) === TxCmd.DTYP_CONTEXT;
    if (!context) {
      parts.push(vm.memory.read(Number(dv.getBigUint64(0, true)), cmd & 0xffff));
      if ((cmd & TxCmd.EOP) !== 0) {
        const marker = readMarker(Uint8Array.from(parts.flatMap((p) => Array.from(p))));
        if (marker !== undefined) out.push(marker.seq);
        parts = [];
      }
    }
    i = (i + 1) % n;
  }
  return out;
}

/** A switch with two ports, the source VF on "src". */
export function wire(
  driver: SriovNicDriver,
  rxRate: number,
  seed = 4,
): { sw: SimulatedSwitch; src: SwitchPort; dst: SwitchPort } {
  const sw = new SimulatedSwitch({ seed, vfMac: driver.pf.adminMac, rxRate });
  const src = sw.addPort("src");
  const dst = sw.addPort("dst");
  driver.connect(src);
  return { sw, src, dst };
}
