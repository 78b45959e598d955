import {
  defaultMaxMemoryMiB,
  formatBytes,
  GuestMemory,
  HandshakeBudget,
  MdevError,
  MigrationTarget,
  prefaultInSlices,
  TargetCapacity,
  type TargetResult,
  VcpuThreads,
} from "@mdevkit/core";
import { emitEvent } from "../events.js";
import { checkListenExposure } from "../exposure.js";
import { reclaimMemory } from "../reclaim-memory.js";
import { table } from "../summary.js";
import { serveTargets } from "../target-server.js";
import { channelOptions, type TlsFlags } from "../tls-options.js";
import { channelsOf, makeHost } from "../vm-setup.js";

/** Points where `--crash-at` kills the target process (fault injection for tests). */
export const CRASH_POINTS = ["accepted", "iteration", "stopcopy", "end", "loaded"] as const;

/** Options of `mdevkit listen`. */
export interface ListenOptions extends TlsFlags {
  readonly on: string;
  readonly once: boolean;
  readonly events: boolean;
  readonly json: boolean;
  readonly verifyRam: boolean;
  readonly runFor: number;
  readonly crashAt?: (typeof CRASH_POINTS)[number];
  readonly plugin: string[];
  /** Preallocate and prefault this much guest RAM (MiB) before accepting, like QEMU's `-mem-prealloc`. */
  readonly prealloc?: number;
  /** Allow plain TCP on a non-loopback address. */
  readonly insecureBind: boolean;
  /** How long a loaded VM waits for GO before it is discarded, ms (engine default when absent). */
  readonly goTimeout?: number;
  /** Memory budget, MiB: most guest RAM hosted at once (default: `prealloc`, else half of RAM). */
  readonly maxMemory?: number;
  /** Most vCPUs of an incoming VM (default: four per CPU here, at least 8). */
  readonly maxVcpus?: number;
  /** Most device state an incoming VM's devices may send, MiB (default 256). */
  readonly maxDeviceState?: number;
  /** vCPU threads to start before accepting, for the next VM to take (0: none). */
  readonly vcpuThreads: number;
  /** How long a connection has to deliver its HANDSHAKE before it is dropped, ms. */
  readonly handshakeTimeout: number;
  /** How long a source may send nothing while its VM's state arrives, ms. */
  readonly idleTimeout: number;
}

/**
 * `mdevkit listen`: a target host. Accepts migrations on a loopback address by default,
 * serves every connection at once (a peer has `--handshake-timeout` to send its
 * HANDSHAKE), receives one VM at a time within the memory budget, runs each after GO,
 * and (with `--once`) exits after the first migration it accepted.
 */
export async function listenCommand(options: ListenOptions): Promise<void> {
  checkListenExposure(options.on, options.insecureBind);
  const maxMemoryMiB = memoryBudget(options);
  for (const [flag, ms] of [
    ["--handshake-timeout", options.handshakeTimeout],
    ["--idle-timeout", options.idleTimeout],
  ] as const) {
    if (ms < 1) throw new MdevError("EINVAL", `${flag} must be at least 1 ms`);
  }
  const vcpuThreads = options.vcpuThreads > 0 ? new VcpuThreads() : undefined;
  const capacity = new TargetCapacity({
    maxMemoryMiB,
    ...(options.maxVcpus === undefined ? {} : { maxVcpus: options.maxVcpus }),
    ...(options.maxDeviceState === undefined ? {} : { maxDeviceStateMiB: options.maxDeviceState }),
    ...(vcpuThreads ? { vcpuThreads } : {}),
    reclaim: reclaimMemory,
  });
  if (options.vcpuThreads > capacity.maxVcpus) {
    throw new MdevError(
      "EINVAL",
      `--vcpu-threads ${options.vcpuThreads} is more than the ${capacity.maxVcpus} vCPUs a VM may have here (--max-vcpus)`,
    );
  }
  // Every connection's HANDSHAKE, until judged, is held to one shared budget.
  const handshakeBudget = new HandshakeBudget();
  const host = await makeHost("target", options.plugin);
  const listener = await channelsOf(host).listen(options.on, channelOptions(options, options.on));
  try {
    // The threads start up on the other core while this one prefaults RAM.
    const threadsStarted = vcpuThreads?.warm(options.vcpuThreads);
    const preallocStart = performance.now();
    // Like a QEMU target started with -incoming -mem-prealloc: RAM is backed before the
    // source connects, so no incoming page pays a first-touch fault.
    if (options.prealloc) {
      const memory = guestRam(options.prealloc);
      await prefaultInSlices(memory);
      capacity.preallocate(memory);
    }
    // The demo shows the prefault as a phase of its own: on a cold machine it is seconds.
    const preallocMs = options.prealloc ? performance.now() - preallocStart : undefined;
    await threadsStarted;
    // After a VM took threads (even one refused or failed after it was built), the next
    // VM's start now; warm() only tops up. A thread that fails to start is left to the next
    // VM to start itself.
    const rewarm = (): void => {
      if (!options.once) vcpuThreads?.warm(options.vcpuThreads).catch(() => {});
    };
    if (options.events)
      emitEvent({
        event: "listening",
        url: listener.url,
        ...(preallocMs === undefined ? {} : { preallocMs }),
        vcpuThreads: vcpuThreads?.waiting ?? 0,
      });
    else process.stderr.write(`listening on ${listener.url}\n`);
    await serveTargets(listener, {
      once: options.once,
      target: (channel) => {
        const target = new MigrationTarget(host, channel, {
          verifyRam: options.verifyRam,
          capacity,
          handshakeBudget,
          handshakeTimeoutMs: options.handshakeTimeout,
          receiveIdleTimeoutMs: options.idleTimeout,
          ...(options.goTimeout === undefined ? {} : { goTimeoutMs: options.goTimeout }),
        });
        if (options.crashAt) armCrash(target, options.crashAt);
        return target;
      },
      received: async (result) => {
        rewarm();
        await report(result, options);
        if (options.once) await capacity.release(result.vm);
        else if (options.prealloc) refill(capacity, options.prealloc);
      },
      failed: (err) => {
        rewarm();
        if (options.events)
          emitEvent({ event: "error", code: codeOf(err), message: messageOf(err) });
        else process.stderr.write(`migration not received: ${messageOf(err)}\n`);
      },
      dropped: (peer, err) => {
        rewarm();
        if (options.events)
          emitEvent({ event: "dropped", peer, code: codeOf(err), message: messageOf(err) });
        else process.stderr.write(`dropped ${peer}: ${messageOf(err)}\n`);
      },
    });
  } finally {
    await vcpuThreads?.close();
    await listener.close();
  }
}

/**
 * The memory budget: `--max-memory`, else the `--prealloc` size (the target is prepared
 * for that VM and no other), else half of this machine's RAM. `--prealloc` beyond the
 * budget is a usage error, found before anything is allocated.
 */
function memoryBudget(options: ListenOptions): number {
  const max = options.maxMemory ?? options.prealloc ?? defaultMaxMemoryMiB();
  if (options.prealloc !== undefined && options.prealloc > max) {
    throw new MdevError(
      "EINVAL",
      `--prealloc ${options.prealloc} MiB is more than --max-memory ${max} MiB`,
    );
  }
  return max;
}

/**
 * After a VM took the prefaulted RAM, prefaults the next VM's if the budget has room: in
 * slices, so the listener serves its connections meanwhile; a VM arriving before it is
 * done waits for it.
 */
function refill(capacity: TargetCapacity, mib: number): void {
  if (capacity.preallocated !== undefined) return;
  if (capacity.hostedMiB + mib > capacity.maxMemoryMiB) return;
  const memory = guestRam(mib);
  capacity.preallocate(memory, prefaultInSlices(memory));
}

function guestRam(mib: number): GuestMemory {
  return GuestMemory.create({ size: mib * 2 ** 20 });
}

function codeOf(err: unknown): string {
  return (err as MdevError).code ?? "EIO";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function armCrash(target: MigrationTarget, point: NonNullable<ListenOptions["crashAt"]>): void {
  // SIGKILL, not exit: the source must cope with a peer that vanishes mid-write.
  const die = (): void => {
    process.kill(process.pid, "SIGKILL");
  };
  if (point === "accepted") target.once("accepted", die);
  else if (point === "loaded") target.once("loaded", die);
  else {
    // "iteration" dies at the first page run, in the middle of the first pass: the source
    // still has most of guest RAM to write and no switchover-ack, so it is bound to be in
    // precopy. Dying at ITERATION raced the source's decision right after it: with the ack
    // already in, it had switched over by the time the hang-up surfaced.
    const type = { iteration: "RAM_PAGES", stopcopy: "PRECOPY_END", end: "END" }[point];
    target.on("record", (t) => {
      if (t === type) die();
    });
  }
}

async function report(result: TargetResult, options: ListenOptions): Promise<void> {
  const writesAtResume = result.vm.vcpuWrites;
  if (options.runFor > 0) await new Promise((r) => setTimeout(r, options.runFor));
  const summary = {
    ramDigest: result.ramDigest,
    ramSha256: result.ramSha256,
    deviceLoadMs: result.deviceLoadMs,
    bytesReceived: result.bytesReceived,
    endToResumedMs: result.endToResumedMs,
    devices: result.devices,
    vcpuWritesAfterRun: result.vm.vcpuWrites - writesAtResume,
    vm: result.vm.config.name,
  };
  if (options.events) emitEvent({ event: "result", role: "target", result: summary });
  else if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    process.stdout.write(
      `VM ${summary.vm} received and running\n${table([
        ["bytes received", formatBytes(summary.bytesReceived)],
        ["END to running", `${summary.endToResumedMs.toFixed(1)} ms`],
        ...Object.entries(summary.deviceLoadMs).map(([slot, t]): [string, string] => [
          `load ${slot}`,
          `${t.toFixed(2)} ms`,
        ]),
        ["RAM digest", summary.ramDigest],
      ])}\n`,
    );
  }
}
