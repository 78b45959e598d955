import { EventEmitter } from "node:events";
import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { isMdevError, MdevError } from "../errors/mdev-error.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigFlags } from "../fsm/mig-flags.js";
import { MigState } from "../fsm/mig-state.js";
import { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { PAGE_SIZE } from "../memory/page.js";
import { DevicePhase } from "../stream/records.js";
import { StreamEncoder } from "../stream/stream-encoder.js";
import type { SourceChannel } from "../transport/channel.js";
import { hasReturnPath } from "../transport/channel.js";
import { rateLimited, TokenBucket } from "../transport/rate-limiter.js";
import type { SimulatedVm, VmDevice } from "../vm/simulated-vm.js";
import { ConvergencePolicy } from "./convergence-policy.js";
import {
  allSupportP2P,
  returnDevicesToRunning,
  stopDevicesForSwitchover,
} from "./device-handover.js";
import { DirtySync } from "./dirty-sync.js";
import { MigrationError, type MigrationPhase } from "./migration-error.js";
import {
  type MigrationOptions,
  type MigrationOptionsInput,
  parseMigrationOptions,
} from "./migration-options.js";
import type { IterationStats, MigrationResult, ThroughputSample } from "./migration-stats.js";
import { PageDigestTable } from "./page-digest-table.js";
import { RamSender } from "./ram-sender.js";
import { ramSha256 } from "./ram-sha256.js";
import { TargetAnswers } from "./target-answers.js";
import { DEVICE_READ_BYTES, drainStopCopy, vmHandshake } from "./vm-handshake.js";

/** Events a {@link MigrationSource} emits while it works. */
export interface MigrationSourceEvents {
  /** Entered a phase. */
  phase: [phase: MigrationPhase];
  /** Finished a precopy iteration. */
  iteration: [stats: IterationStats];
  /** Bytes went out (at most every batch). */
  progress: [
    progress: { wireBytes: number; tMs: number; iteration: number; phase: MigrationPhase },
  ];
  /** The migration failed and the VM was rolled back (or could not be). */
  rollback: [error: MigrationError];
}

/** Most precopy bytes drained from one device per iteration, so RAM is not starved. */
const DEVICE_PRECOPY_BYTES_PER_ITERATION = 64 << 20;

const now = (): number => performance.now();

/**
 * The source side of a live migration ("The path of one migration" in design.md):
 * handshake, setup, precopy iterations until the pending state fits the downtime limit,
 * switchover, and the two-phase handover (END → LOADED → GO → RESUMED).
 *
 * Any failure before GO — a refused handshake, a failed or vanished target, a timeout, a
 * plugin error, {@link cancel} — rolls the VM back: devices return to RUNNING through the
 * FSM, dirty tracking stops, vCPUs resume. After GO the source never runs the VM again.
 */
export class MigrationSource extends EventEmitter<MigrationSourceEvents> {
  readonly #vm: SimulatedVm;
  readonly #channel: SourceChannel;
  readonly #options: MigrationOptions;
  readonly #abort = new AbortController();
  readonly #encoder = new StreamEncoder();
  #phase: MigrationPhase = "handshake";
  #started = 0;
  #throughput: ThroughputSample[] = [];
  #iteration = 0;
  #used = false;

  constructor(vm: SimulatedVm, channel: SourceChannel, options: MigrationOptionsInput = {}) {
    super();
    this.#vm = vm;
    this.#options = parseMigrationOptions(options);
    // A bandwidth cap is a property of the link the engine sees: it measures and converges against it.
    this.#channel =
      this.#options.maxBandwidth > 0
        ? rateLimited(channel, new TokenBucket(this.#options.maxBandwidth))
        : channel;
  }

  /** Current phase. */
  get phase(): MigrationPhase {
    return this.#phase;
  }

  /** Cancels the migration; before GO the VM is rolled back, after GO this has no effect. */
  cancel(reason = "cancelled by the operator"): void {
    this.#abort.abort(new MdevError("ECANCELED", reason));
  }

  #enter(phase: MigrationPhase): void {
    this.#phase = phase;
    this.emit("phase", phase);
  }

  #checkAbort(answers: TargetAnswers | undefined): void {
    if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
    answers?.check();
    if (now() - this.#started > this.#options.timeoutMs) {
      throw new MdevError(
        "ETIMEDOUT",
        `migration exceeded its ${this.#options.timeoutMs} ms limit`,
      );
    }
  }

  #sample(): void {
    const s = { tMs: now() - this.#started, bytes: this.#encoder.stats.bytes };
    const last = this.#throughput[this.#throughput.length - 1];
    if (last === undefined || s.tMs - last.tMs >= 20) this.#throughput.push(s);
    this.emit("progress", {
      wireBytes: s.bytes,
      tMs: s.tMs,
      iteration: this.#iteration,
      phase: this.#phase,
    });
  }

  async #send(frames: Uint8Array[]): Promise<void> {
    await this.#channel.send(frames);
    this.#sample();
  }

  /**
   * Runs the migration to the end. Resolves with statistics once the target reported
   * RESUMED. Rejects with a {@link MigrationError}; `rolledBack` tells whether the VM runs
   * on here (always, for failures before GO).
   */
  async migrate(): Promise<MigrationResult> {
    if (this.#used) throw new MdevError("EINVAL", "a MigrationSource runs once");
    this.#used = true;
    if (!hasReturnPath(this.#channel)) {
      throw new MdevError(
        "EINVAL",
        `${this.#channel.peer} has no return path: live migration needs one (use save for files)`,
      );
    }
    this.#started = now();
    const vm = this.#vm;
    const answers = new TargetAnswers(this.#channel.returnPath);
    const dirtySync = new DirtySync(vm);
    const precopyStreams = new Map<number, MigrationDataStream>();
    let paused = false;
    let pausedAt = 0;
    try {
      // 1. Handshake: nothing changes on the source until the target accepted.
      this.#enter("handshake");
      await this.#send(this.#encoder.start(vmHandshake(vm)));
      await answers.waitFor("ACCEPT", this.#options.peerTimeoutMs, this.#abort.signal);

      // 2. Setup: every dirty log on, PRE_COPY-capable devices into PRE_COPY.
      this.#enter("setup");
      await dirtySync.start();
      for (const d of vm.devices) {
        if ((d.driver.migrationFlags & MigFlags.PRE_COPY) === 0) continue;
        const { stream } = await driveTransition(d.driver, MigState.PRE_COPY);
        if (stream === undefined)
          throw new MdevError(
            "EIO",
            `device ${d.config.slot} entered PRE_COPY without a data stream`,
          );
        precopyStreams.set(d.index, stream);
      }

      // 3. Iterate until the rest fits the downtime limit.
      this.#enter("precopy");
      const table = new PageDigestTable(vm.memory.pages);
      const ram = new RamSender(
        vm.memory,
        this.#encoder,
        this.#channel,
        table,
        this.#options.batchPages * PAGE_SIZE,
      );
      const policy = new ConvergencePolicy(this.#options);
      const iterations: IterationStats[] = [];
      const dirty = new DirtyBitmap(vm.memory.pages);
      const initialSent = new Set<number>();
      let maxThrottle = 0;
      let dirtyCount = await dirtySync.sync(dirty);
      for (;;) {
        this.#iteration++;
        const t0 = now();
        const bytes0 = this.#encoder.stats.bytes;
        const found = dirtyCount;
        const sent = await ram.send(dirty, "snapshot", () => this.#checkAbort(answers));
        dirty.clear();
        const deviceBytes = await this.#drainPrecopy(precopyStreams, initialSent);
        await this.#send(
          this.#encoder.iteration({
            iteration: this.#iteration,
            dataPages: sent.dataPages,
            zeroPages: sent.zeroPages,
            deviceBytes,
            dirtyPages: 0,
            durationUs: Math.round((now() - t0) * 1000),
          }),
        );
        const durationMs = Math.max(0.001, now() - t0);
        const wireBytes = this.#encoder.stats.bytes - bytes0;
        const bandwidth = (wireBytes / durationMs) * 1000;
        dirtyCount = await dirtySync.sync(dirty);
        const pending = await this.#pendingDeviceBytes(precopyStreams);
        const decision = policy.decide({
          iteration: this.#iteration,
          dirtyRamBytes: dirtyCount * PAGE_SIZE,
          devicePrecopyBytes: pending.precopy,
          deviceStopCopyBytes: pending.stopCopy,
          bandwidth,
          dirtyRate: (dirtyCount * PAGE_SIZE * 1000) / durationMs,
          switchoverAcked: !this.#options.switchoverAck || answers.switchoverAcked,
          initialPrecopyDone: pending.initialDone,
        });
        const stats: IterationStats = {
          iteration: this.#iteration,
          dirtyPagesFound: found,
          dataPages: sent.dataPages,
          zeroPages: sent.zeroPages,
          deviceBytes,
          wireBytes,
          durationMs,
          bandwidth,
          expectedDowntimeMs: decision.expectedDowntimeMs,
          throttle: policy.throttle,
        };
        iterations.push(stats);
        this.emit("iteration", stats);
        if (decision.action === "switchover") break;
        if (decision.action === "abort") throw new MdevError("EAGAIN", decision.reason);
        if (decision.throttle !== undefined) {
          vm.setThrottle(decision.throttle);
          maxThrottle = Math.max(maxThrottle, decision.throttle);
        }
        this.#checkAbort(answers);
      }

      // 4. Switchover: pause, stop devices, final sync, the rest of the state, END.
      this.#enter("switchover");
      pausedAt = now();
      await vm.pause();
      paused = true;
      const saving = await stopDevicesForSwitchover(
        vm.devices,
        precopyStreams,
        this.#options.p2p && allSupportP2P(vm.devices),
      );
      const tStopped = now();
      await this.#send(this.#encoder.precopyEnd());
      await dirtySync.sync(dirty);
      await dirtySync.stop();
      const finalPages = dirty.count();
      await ram.send(dirty, "zero-copy", () => this.#checkAbort(answers));
      const tRam = now();
      for (const d of vm.devices) {
        await this.#send(
          this.#encoder.deviceConfig(d.index, d.driver.configRead(0, d.driver.configSpaceSize)),
        );
        const stream = saving.get(d.index) as MigrationDataStream;
        await this.#drainStopCopy(d, stream);
      }
      const ramDigest = table.digest();
      await this.#send(this.#encoder.end(ramDigest));
      const tEnd = now();

      // 5–6. The target verifies and loads; GO hands the VM over for good.
      this.#enter("handover");
      await answers.waitFor("LOADED", this.#options.peerTimeoutMs, this.#abort.signal);
      const tLoaded = now();
      this.#checkAbort(answers);
      await this.#send(this.#encoder.go());
      // From here the VM belongs to the target: no rollback, whatever happens next.
      const tGo = now();
      this.#phase = "completed";
      await answers.waitFor("RESUMED", this.#options.peerTimeoutMs).catch((err: unknown) => {
        throw new MigrationError(
          isMdevError(err) ? err.code : "EIO",
          "handover",
          `GO was sent but RESUMED did not arrive (${String(err)}); the VM stays paused here and never runs twice`,
          { cause: err, rolledBack: false },
        );
      });
      const tResumed = now();
      const sha = this.#options.verifyRam ? ramSha256(vm.memory) : undefined;
      this.emit("phase", "completed");
      await this.#channel.close();
      const encoderStats = this.#encoder.stats;
      return {
        outcome: "completed",
        totalTimeMs: tResumed - this.#started,
        downtimeMs: tResumed - pausedAt,
        downtime: {
          stopDevicesMs: tStopped - pausedAt,
          finalRamMs: tRam - tStopped,
          deviceStopCopyMs: tEnd - tRam,
          targetLoadMs: {},
          endToLoadedMs: tLoaded - tEnd,
          resumeMs: tResumed - tGo,
        },
        iterations,
        finalPages,
        wireBytes: encoderStats.bytes,
        dataPages: encoderStats.dataPages,
        zeroPages: encoderStats.zeroPages,
        deviceBytes: Object.fromEntries(this.#deviceBytes),
        ramBytes: vm.memory.size,
        ramDigest: Buffer.from(ramDigest).toString("hex"),
        ...(sha === undefined ? {} : { ramSha256: sha }),
        maxThrottle,
        throughput: this.#throughput,
      };
    } catch (err) {
      if (err instanceof MigrationError) throw err;
      throw await this.#rollback(err, dirtySync, paused);
    }
  }

  readonly #deviceBytes = new Map<string, number>();

  #countDeviceBytes(d: VmDevice, n: number): void {
    this.#deviceBytes.set(d.config.slot, (this.#deviceBytes.get(d.config.slot) ?? 0) + n);
  }

  /** Reads what each PRE_COPY device has now (up to a per-iteration cap) and sends it. */
  async #drainPrecopy(
    streams: ReadonlyMap<number, MigrationDataStream>,
    initialSent: Set<number>,
  ): Promise<number> {
    let total = 0;
    for (const d of this.#vm.devices) {
      const stream = streams.get(d.index);
      if (stream === undefined) continue;
      let taken = 0;
      while (taken < DEVICE_PRECOPY_BYTES_PER_ITERATION) {
        let chunk: Uint8Array;
        try {
          chunk = await stream.read(DEVICE_READ_BYTES);
        } catch (err) {
          if (isMdevError(err, "ENOMSG")) break;
          throw err;
        }
        if (chunk.byteLength === 0) break;
        await this.#send(this.#encoder.deviceData(d.index, DevicePhase.PRE_COPY, chunk));
        taken += chunk.byteLength;
      }
      total += taken;
      this.#countDeviceBytes(d, taken);
      if (!initialSent.has(d.index)) {
        const info = await d.driver.precopyInfo();
        if (info.initialBytes === 0) {
          initialSent.add(d.index);
          await this.#send(this.#encoder.deviceInitDone(d.index));
        }
      }
    }
    return total;
  }

  /** Pending device bytes for the convergence check. */
  async #pendingDeviceBytes(
    streams: ReadonlyMap<number, MigrationDataStream>,
  ): Promise<{ precopy: number; stopCopy: number; initialDone: boolean }> {
    let precopy = 0;
    let stopCopy = 0;
    let initialDone = true;
    for (const d of this.#vm.devices) {
      if (streams.has(d.index)) {
        const info = await d.driver.precopyInfo();
        precopy += info.initialBytes + info.dirtyBytes;
        if (info.initialBytes > 0) initialDone = false;
      }
      stopCopy += await d.driver.getDataSize();
    }
    return { precopy, stopCopy, initialDone };
  }

  /** Reads a stopped device's stream to its permanent end and sends it. */
  async #drainStopCopy(d: VmDevice, stream: MigrationDataStream): Promise<void> {
    await drainStopCopy(stream, async (chunk) => {
      await this.#send(this.#encoder.deviceData(d.index, DevicePhase.STOP_COPY, chunk));
      this.#countDeviceBytes(d, chunk.byteLength);
    });
  }

  /** Puts the VM back the way it was and describes the failure. */
  async #rollback(err: unknown, dirtySync: DirtySync, paused: boolean): Promise<MigrationError> {
    const phase = this.#phase;
    const reason = err instanceof Error ? err.message : String(err);
    // Tell the target to discard what it has (best effort: it may be gone).
    try {
      await Promise.race([
        this.#channel.send(this.#encoder.abort(reason.slice(0, 1000))),
        new Promise((r) => setTimeout(r, 500)),
      ]);
    } catch {
      // The target is unreachable; it never got GO, so it never runs the VM.
    }
    this.#channel.destroy();
    await dirtySync.stop();
    const problems = await returnDevicesToRunning(this.#vm.devices);
    this.#vm.setThrottle(0);
    if (paused) {
      try {
        await this.#vm.resume();
      } catch (resumeErr) {
        problems.push(`vCPUs did not resume: ${String(resumeErr)}`);
      }
    }
    const code = isMdevError(err) ? err.code : "EIO";
    const error = new MigrationError(code, phase, reason, {
      cause: err,
      rolledBack: true,
      problems,
    });
    this.emit("rollback", error);
    return error;
  }
}
