import { GuestMemory, type MdevError, MigrationTarget, type TargetResult } from "@mdevkit/core";
import { emitEvent } from "../events.js";
import { checkListenExposure } from "../exposure.js";
import { table } from "../summary.js";
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
}

/**
 * `mdevkit listen`: a target host. Accepts migrations on a loopback address by default,
 * receives each VM, runs it after GO, and (with `--once`) exits after the first.
 */
export async function listenCommand(options: ListenOptions): Promise<void> {
  checkListenExposure(options.on, options.insecureBind);
  const host = await makeHost("target", options.plugin);
  const listener = await channelsOf(host).listen(options.on, channelOptions(options, options.on));
  const preallocStart = performance.now();
  let preallocated = options.prealloc ? prefaulted(options.prealloc) : undefined;
  // The demo shows the prefault as a phase of its own: on a cold machine it is seconds.
  const preallocMs = preallocated ? performance.now() - preallocStart : undefined;
  if (options.events)
    emitEvent({
      event: "listening",
      url: listener.url,
      ...(preallocMs === undefined ? {} : { preallocMs }),
    });
  else process.stderr.write(`listening on ${listener.url}\n`);
  try {
    for (;;) {
      const channel = await listener.accept();
      // Like a QEMU target started with -incoming -mem-prealloc: RAM is backed before the
      // source connects, so no incoming page pays a first-touch fault. Fresh for each VM.
      const target = new MigrationTarget(host, channel, {
        verifyRam: options.verifyRam,
        ...(preallocated ? { preallocated } : {}),
        ...(options.goTimeout === undefined ? {} : { goTimeoutMs: options.goTimeout }),
      });
      preallocated = undefined;
      if (options.crashAt) armCrash(target, options.crashAt);
      try {
        const result = await target.receive();
        await report(result, options);
        if (options.once) {
          await result.vm.destroy();
          return;
        }
      } catch (err) {
        if (options.events)
          emitEvent({
            event: "error",
            code: (err as MdevError).code ?? "EIO",
            message: (err as Error).message,
          });
        else process.stderr.write(`migration not received: ${(err as Error).message}\n`);
        if (options.once) throw err;
      }
      if (options.prealloc) preallocated = prefaulted(options.prealloc);
    }
  } finally {
    await listener.close();
  }
}

function prefaulted(mib: number): GuestMemory {
  const memory = GuestMemory.create({ size: mib * 2 ** 20 });
  memory.prefault();
  return memory;
}

function armCrash(target: MigrationTarget, point: NonNullable<ListenOptions["crashAt"]>): void {
  // SIGKILL, not exit: the source must cope with a peer that vanishes mid-write.
  const die = (): void => {
    process.kill(process.pid, "SIGKILL");
  };
  if (point === "accepted") target.once("accepted", die);
  else if (point === "loaded") target.once("loaded", die);
  else {
    const type = { iteration: "ITERATION", stopcopy: "PRECOPY_END", end: "END" }[point];
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
        ["bytes received", String(summary.bytesReceived)],
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
