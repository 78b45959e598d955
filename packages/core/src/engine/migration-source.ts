import { EventEmitter } from "node:events";
import { EngineServices } from "../di/engine-services.js";
import { detailOf, isMdevError, MdevError } from "../errors/mdev-error.js";
import { createHost, type MdevHost } from "../host.js";
import { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { PAGE_SIZE } from "../memory/page.js";
import { ITERATION_ACK_VERSION, SPARSE_RUN_VERSION } from "../stream/format.js";
import { DevicePhase, type ReturnRecord } from "../stream/records.js";
import { sha256 } from "../stream/stream-digest.js";
import { StreamEncoder } from "../stream/stream-encoder.js";
import type { DuplexSourceChannel, SourceChannel } from "../transport/channel.js";
import { hasReturnPath } from "../transport/channel.js";
import type { ChannelOptions } from "../transport/connect.js";
import { rateLimited, TokenBucket } from "../transport/rate-limiter.js";
import { TransportError } from "../transport/transport-error.js";
import type { SimulatedVm, VmDevice } from "../vm/simulated-vm.js";
import {
  type ConvergenceDecision,
  type ConvergenceInput,
  ConvergencePolicy,
} from "./convergence-policy.js";
import { countingChannel } from "./counting-channel.js";
import { DeviceCallGuard } from "./device-call-guard.js";
import {
  allSupportP2P,
  ROLLBACK_DEVICE_TIMEOUT_MS,
  returnDevicesToRunning,
  stopDevicesForSwitchover,
} from "./device-handover.js";
import { DevicePrecopy } from "./device-precopy.js";
import { DirtySync } from "./dirty-sync.js";
import type { DeviceRecovery } from "./late-recovery.js";
import { MigrationError, type MigrationPhase } from "./migration-error.js";
import type { MigrationEvent, MigrationProgress } from "./migration-events.js";
import {
  type MigrationOptions,
  type MigrationOptionsInput,
  parseMigrationOptions,
} from "./migration-options.js";
import type { IterationStats, MigrationResult, ThroughputSample } from "./migration-stats.js";
import { MigrationTimeline } from "./migration-timeline.js";
import { PageDigestTable } from "./page-digest-table.js";
import { PeerDeadline } from "./peer-deadline.js";
import { PinnedPageCache } from "./pinned-page-cache.js";
import { RamSender } from "./ram-sender.js";
import { ramSha256 } from "./ram-sha256.js";
import { progressWatched } from "./send-progress.js";
import { batchDeviceState, SwitchoverBatch } from "./switchover-batch.js";
import { SwitchoverCosts } from "./switchover-costs.js";
import { TargetAnswers } from "./target-answers.js";
import { busyDevicesReason } from "./unfinished-device-calls.js";
import { vmHandshake } from "./vm-handshake.js";

/** Events a {@link MigrationSource} emits while it works (the host's event sink sees them too). */
export interface MigrationSourceEvents {
  /** Entered a phase. */
  phase: [phase: MigrationPhase];
  /** Finished a precopy iteration. */
  iteration: [stats: IterationStats];
  /** Bytes went out (between RAM batches, after each record, and every 100 ms). */
  progress: [progress: MigrationProgress];
  /** The migration failed and the VM was rolled back (or could not be). */
  rollback: [error: MigrationError];
  /**
   * After `rollback`: a device whose driver call the migration abandoned (its `problems`
   * line says it will be returned to RUNNING once that call finishes) finished the call and
   * was returned to RUNNING, or reset (`problem` says so). Until then a new migration or
   * save of the VM is refused with EBUSY; `deviceCallsSettled(vm.devices)` waits for it.
   */
  "device-recovered": [recovery: DeviceRecovery];
}

/**
 * How long one wait for the switchover-ack lasts before the source sends what was dirtied
 * meanwhile and waits again; the waits add up to at most `peerTimeoutMs`.
 */
const ACK_WAIT_SLICE_MS = 25;

/**
 * How often progress is also sampled on a timer, so waits with no bytes moving (the
 * switchover-ack, the target's verify and load) still show in the throughput chart.
 */
const SAMPLE_TIMER_MS = 100;

/** Fewest ms between two throughput samples the result keeps. */
const SAMPLE_MIN_GAP_MS = 20;

/** Lets I/O callbacks run: a pass over a small VM is all microtasks, and answers wait on I/O. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Lets the socket deliver what the target sent so far: a poll phase, which reads it, runs
 * between two turns of setImmediate wherever the first one was queued from. A switchover
 * whose writes the kernel takes at once runs from PRECOPY_END to END without yielding.
 */
async function readArrivedAnswers(): Promise<void> {
  await yieldToEventLoop();
  await yieldToEventLoop();
}

/**
 * The refusal of a migration of `vm` while one of its devices still runs a driver call an
 * aborted migration gave up on (or the late recovery after it): a rolled-back failure, since
 * nothing was touched.
 */
function busyRefusal(vm: SimulatedVm): MigrationError | undefined {
  const reason = busyDevicesReason(vm.devices);
  return reason === undefined
    ? undefined
    : new MigrationError("EBUSY", "handshake", reason, { rolledBack: true });
}

/** Everything one run of {@link MigrationSource.migrate} works with, built up front. */
interface SourceRun {
  readonly channel: DuplexSourceChannel;
  readonly answers: TargetAnswers;
  readonly dirtySync: DirtySync;
  readonly dirty: DirtyBitmap;
  readonly precopy: DevicePrecopy;
  readonly table: PageDigestTable;
  readonly ram: RamSender;
  /** Bounds the waits on drivers by the migration's abort (its deadlines and cancel()). */
  readonly guard: DeviceCallGuard;
  /** Whether vCPUs were paused (rollback resumes them). */
  paused: boolean;
}

/** What precopy produced for the result. */
interface PrecopyOutcome {
  readonly iterations: readonly IterationStats[];
  readonly maxThrottle: number;
}

/** What one precopy pass did and measured. */
/**
 * The bytes a pass took care of, for its rate: what went on the wire, plus the pages it
 * left out because the target held them. The policy weighs dirty pages at a page each, and
 * a pass that found its reported pages unchanged sends almost nothing: over its wire bytes
 * alone, a pass of 150 such pages measured a few kB/s, and the source never switched over.
 */
function coveredBytes(pass: PrecopyPass): number {
  return pass.wireBytes + pass.unchangedPages * PAGE_SIZE;
}

/** What the switchover sent before END. */
interface SwitchedOver {
  /** Dirty pages of the final pass. */
  readonly finalPages: number;
  /** Of them, those left out because the target held them already. */
  readonly finalUnchangedPages: number;
  readonly ramDigest: Uint8Array;
}

interface PrecopyPass {
  /** Timeline reading when the pass began. */
  readonly startedAt: bigint;
  readonly dataPages: number;
  readonly zeroPages: number;
  readonly unchangedPages: number;
  readonly deviceBytes: number;
  readonly wireBytes: number;
  readonly durationMs: number;
  /** Dirty pages the sync that ended the pass found: what the next pass sends. */
  readonly dirtyAfter: number;
}

/**
 * The source side of a live migration ("How data flows in one migration" in
 * docs/architecture.md):
 * {@link MigrationSource.migrate} reads top to bottom as handshake, setup, precopy,
 * switchover and handover (END → LOADED → GO → RESUMED).
 *
 * Any failure before GO — a refused handshake, a failed or vanished target, a timeout, a
 * plugin error, {@link cancel} — rolls the VM back: devices return to RUNNING through the
 * FSM, dirty tracking stops, vCPUs resume. After GO the source never runs the VM again.
 *
 * Its clock, event sink and channel factory come from the host's container
 * ({@link EngineServices}); without a host, a fresh default host's.
 */
export class MigrationSource extends EventEmitter<MigrationSourceEvents> {
  readonly #vm: SimulatedVm;
  readonly #channel: SourceChannel;
  readonly #options: MigrationOptions;
  readonly #services: EngineServices;
  readonly #timeline: MigrationTimeline;
  readonly #abort = new AbortController();
  readonly #encoder: StreamEncoder;
  readonly #throughput: ThroughputSample[] = [];
  readonly #deviceBytes = new Map<string, number>();
  /** The switchover's fixed costs, measured as precopy goes (see SwitchoverCosts). */
  readonly #costs = new SwitchoverCosts();
  /** Bytes the channel took so far (what progress and the throughput samples count). */
  #written = 0;
  #phase: MigrationPhase = "handshake";
  #iteration = 0;
  #used = false;
  /** GO was handed to the channel: from here the VM may run there, so it never runs here. */
  #handedOver = false;
  /** Bounds the paused window (`switchoverTimeoutMs`), armed when the VM pauses. */
  #switchoverDeadline: NodeJS.Timeout | undefined;
  /** Runs while a send is pending: the target must take bytes within `peerTimeoutMs`. */
  readonly #stall: PeerDeadline;

  constructor(
    vm: SimulatedVm,
    channel: SourceChannel,
    options: MigrationOptionsInput = {},
    host: MdevHost = createHost({ name: "source" }),
  ) {
    super();
    this.#vm = vm;
    this.#options = parseMigrationOptions(options);
    this.#encoder = new StreamEncoder({ version: this.#options.formatVersion });
    this.#services = host.container.resolve(EngineServices);
    this.#timeline = new MigrationTimeline(this.#services.clock);
    for (const d of vm.devices) this.#deviceBytes.set(d.config.slot, 0);
    // A target that stops reading must not hold the source, its guest throttled and its
    // dirty logs running: a transport that takes nothing for peerTimeoutMs aborts the
    // migration. It watches the transport beneath the rate limit, whose waits are ours.
    this.#stall = new PeerDeadline(
      { peer: channel.peer, destroy: (reason) => this.#abort.abort(reason) },
      (what, peer, ms) =>
        `the target ${peer} ${what} for ${ms} ms (peerTimeoutMs): it stopped reading; dropped the connection`,
    );
    const transport = progressWatched(channel, this.#stall, this.#options.peerTimeoutMs);
    // A bandwidth cap is a property of the link the engine sees: it measures and converges against it.
    const link =
      this.#options.maxBandwidth > 0
        ? rateLimited(transport, new TokenBucket(this.#options.maxBandwidth))
        : transport;
    this.#channel = countingChannel(link, (n) => {
      this.#written += n;
    });
    // Cancelling means cancelling (QEMU's migrate_cancel shuts the socket down too): a send
    // blocked on a peer that stopped reading settles only when the channel goes, whichever
    // send it is, so every abort — cancel(), a deadline, a FAILED answer — cuts it at once.
    this.#abort.signal.addEventListener("abort", () => this.#channel.destroy(), { once: true });
  }

  /**
   * Connects to `url` through the host's channel factory and returns the source for
   * it. A target that cannot be reached is a failed handshake: nothing was touched, so the
   * MigrationError says `rolledBack`. So is a VM with a device still finishing a driver call
   * of an aborted migration (EBUSY, refused before connecting).
   */
  static async connect(
    host: MdevHost,
    vm: SimulatedVm,
    url: string,
    options: MigrationOptionsInput = {},
    channelOptions: ChannelOptions = {},
  ): Promise<MigrationSource> {
    const busy = busyRefusal(vm);
    if (busy !== undefined) throw busy;
    const channels = host.container.resolve(EngineServices).channels;
    let channel: SourceChannel;
    try {
      channel = await channels.connect(url, channelOptions);
    } catch (err) {
      throw new MigrationError(
        isMdevError(err) ? err.code : "EIO",
        "handshake",
        // A transport's error names the peer it could not reach already.
        err instanceof TransportError ? detailOf(err) : `cannot reach ${url}: ${detailOf(err)}`,
        { cause: err, rolledBack: true },
      );
    }
    return new MigrationSource(vm, channel, options, host);
  }

  /** Current phase. */
  get phase(): MigrationPhase {
    return this.#phase;
  }

  /**
   * Cancels the migration at once, wherever it waits: the connection is cut, and before GO
   * the VM is rolled back (ECANCELED). After GO the VM is the target's: cancelling only stops
   * waiting for RESUMED, and the VM stays paused here (`rolledBack: false`).
   */
  cancel(reason = "cancelled by the operator"): void {
    this.#abort.abort(new MdevError("ECANCELED", reason));
  }

  /**
   * Runs the migration to the end. Resolves with statistics once the target reported
   * RESUMED. Rejects with a {@link MigrationError}; `rolledBack` tells whether the VM runs
   * on here (always, for failures before GO). A VM with a device still finishing a driver
   * call of an earlier, aborted migration is refused before anything is touched (EBUSY).
   */
  async migrate(): Promise<MigrationResult> {
    if (this.#used) throw new MdevError("EINVAL", "a MigrationSource runs once");
    this.#used = true;
    const busy = busyRefusal(this.#vm);
    if (busy !== undefined) {
      // Nothing was sent: the target sees the connection close before a handshake.
      this.#channel.destroy();
      throw busy;
    }
    const channel = this.#channel;
    if (!hasReturnPath(channel)) {
      throw new MdevError(
        "EINVAL",
        `${channel.peer} has no return path: live migration needs one (use save for files)`,
      );
    }
    this.#timeline.mark("started");
    const run = this.#newRun(channel);
    const deadline = setTimeout(
      () =>
        this.#abort.abort(
          new MdevError("ETIMEDOUT", `migration exceeded its ${this.#options.timeoutMs} ms limit`),
        ),
      this.#options.timeoutMs,
    );
    // Samples between RAM batches (RamSender's `between`) cover the bulk pass; the timer
    // covers the waits. Neither blocks: #sample only reads counters.
    const sampler = setInterval(() => this.#sample(), SAMPLE_TIMER_MS);
    sampler.unref?.();
    try {
      await this.#handshake(run);
      await this.#setup(run);
      const precopy = await this.#precopy(run);
      const switched = await this.#switchover(run);
      const targetLoadMs = await this.#handover(run);
      // The migration ended at RESUMED (#handover's last sample): the source's own checks
      // and closing the channel after it are neither in its time nor in its throughput.
      clearInterval(sampler);
      return await this.#complete(run, precopy, switched, targetLoadMs);
    } catch (err) {
      if (err instanceof MigrationError) {
        // Thrown only after GO (an unresolved handover): nothing more can come that would
        // change the outcome, and a target that never answers must not keep the connection
        // (and the reader behind it) open for as long as it likes.
        run.channel.destroy();
        throw err;
      }
      // After an abort, what failed (a send cut by the destroyed channel) is its consequence.
      throw await this.#rollback(this.#abort.signal.aborted ? this.#abort.signal.reason : err, run);
    } finally {
      clearTimeout(deadline);
      clearTimeout(this.#switchoverDeadline);
      this.#stall.met();
      clearInterval(sampler);
    }
  }

  #newRun(channel: DuplexSourceChannel): SourceRun {
    const memory = this.#vm.memory;
    const table = new PageDigestTable(memory.pages, this.#options.formatVersion);
    const guard = new DeviceCallGuard(this.#abort.signal);
    const dirtySync = new DirtySync(this.#vm);
    // Pinned pages are reported dirty whether written or not; a stream that can leave pages
    // out (version 5) skips those the target already holds.
    const pinned =
      this.#options.formatVersion >= SPARSE_RUN_VERSION &&
      this.#vm.devices.some((d) => d.driver.dirtyTracking === "iommu-pinned")
        ? { cache: new PinnedPageCache(memory.pages), reported: () => dirtySync.iommuReported }
        : undefined;
    return {
      channel,
      // A failure read while the source is blocked (e.g. writing to a target that said FAILED
      // and stopped reading) cancels there and then; after GO, waiting for RESUMED handles it.
      answers: new TargetAnswers(channel.returnPath, (err) => {
        if (!this.#handedOver) this.#abort.abort(err);
      }),
      dirtySync,
      dirty: new DirtyBitmap(memory.pages),
      precopy: new DevicePrecopy(this.#vm.devices, guard),
      table,
      ram: new RamSender(
        memory,
        this.#encoder,
        channel,
        table,
        this.#options.batchPages * PAGE_SIZE,
        pinned,
      ),
      guard,
      paused: false,
    };
  }

  /** 1. Nothing changes on the source until the target accepted the VM. */
  async #handshake(run: SourceRun): Promise<void> {
    this.#enter("handshake");
    const handshake = vmHandshake(this.#vm);
    // Answers count only if they are about this VM, in this stream's format version.
    run.channel.returnPath.forwardStarted({
      configDigest: sha256(handshake.config),
      version: this.#encoder.version,
    });
    await this.#send(this.#encoder.start(handshake));
    await run.answers.waitFor("ACCEPT", this.#options.peerTimeoutMs, this.#abort.signal);
  }

  /** 2. Every dirty log on, PRE_COPY-capable devices into PRE_COPY. */
  async #setup(run: SourceRun): Promise<void> {
    this.#enter("setup");
    await run.dirtySync.start();
    await run.precopy.start();
  }

  /**
   * 3. Iterates until the rest fits the downtime limit and the target acknowledged the
   * devices' initial data. Waiting for that ack is not an iteration: the source waits in
   * bounded slices, sending what was dirtied meanwhile between them.
   */
  async #precopy(run: SourceRun): Promise<PrecopyOutcome> {
    this.#enter("precopy");
    const policy = new ConvergencePolicy(this.#options);
    const iterations: IterationStats[] = [];
    let maxThrottle = 0;
    let ackWaitedMs = 0;
    let found = await run.dirtySync.sync(run.dirty, run.guard);
    let foundByDevices = run.dirtySync.deviceDirtyPages;
    for (;;) {
      const pass = await this.#precopyPass(run);
      const pending = await run.precopy.pending();
      this.#digestPass(run);
      const { decision, dirtyAfter, bandwidth, catchUpMs } = await this.#decide(
        run,
        policy,
        {
          dirtyRamBytes: pass.dirtyAfter * PAGE_SIZE,
          // Of them, what the devices reported in the sync that ended the pass.
          deviceDirtyRamBytes: run.dirtySync.deviceDirtyPages * PAGE_SIZE,
          devicePrecopyBytes: pending.precopy,
          deviceStopCopyBytes: pending.stopCopy,
          bandwidth: (coveredBytes(pass) / pass.durationMs) * 1000,
          dirtyRate: (pass.dirtyAfter * PAGE_SIZE * 1000) / pass.durationMs,
          switchoverAcked: !this.#options.switchoverAck || run.answers.switchoverAcked,
          initialPrecopyDone: pending.initialDone,
          fixedCostMs: this.#costs.fixedMs,
        },
        pass,
      );
      const stats = this.#iterationStats(
        pass,
        found,
        foundByDevices,
        bandwidth,
        decision,
        policy.throttle,
        catchUpMs,
      );
      iterations.push(stats);
      this.#emit({ kind: "iteration", stats });
      found = dirtyAfter;
      foundByDevices = run.dirtySync.deviceDirtyPages;
      switch (decision.action) {
        case "switchover":
          return { iterations, maxThrottle };
        case "abort":
          throw new MdevError("EAGAIN", decision.reason);
        case "await-ack":
          ackWaitedMs = await this.#awaitSwitchoverAck(run, ackWaitedMs);
          break;
        case "iterate":
          if (decision.throttle !== undefined) {
            this.#vm.setThrottle(decision.throttle);
            maxThrottle = Math.max(maxThrottle, decision.throttle);
          }
      }
      await yieldToEventLoop();
      this.#checkAbort(run.answers);
    }
  }

  /** One pass: the dirty pages, device precopy bytes, the sync that ends it, ITERATION. */
  async #precopyPass(run: SourceRun): Promise<PrecopyPass> {
    this.#iteration++;
    const t0 = this.#timeline.now();
    const bytes0 = this.#encoder.stats.bytes;
    const sent = await run.ram.send(run.dirty, "snapshot", () => this.#betweenBatches(run));
    run.dirty.clear();
    const deviceBytes = await run.precopy.drain({
      data: (d, chunk) => this.#sendDeviceData(d, DevicePhase.PRE_COPY, chunk),
      initDone: (d) => this.#send(this.#encoder.deviceInitDone(d.index)),
    });
    const s0 = this.#timeline.now();
    const dirtyAfter = await run.dirtySync.sync(run.dirty, run.guard);
    this.#costs.sync(this.#timeline.msSince(s0));
    // Announced before it goes out, so a fast target's ack is never early; an ack of a
    // pass still being sent fails the reader (the target cannot have applied it).
    run.channel.returnPath.forwardIteration(this.#iteration);
    await this.#send(
      this.#encoder.iteration({
        iteration: this.#iteration,
        dataPages: sent.dataPages,
        zeroPages: sent.zeroPages,
        deviceBytes,
        dirtyPages: dirtyAfter,
        durationUs: Math.round(this.#timeline.msSince(t0) * 1000),
      }),
    );
    return {
      startedAt: t0,
      ...sent,
      deviceBytes,
      wireBytes: this.#encoder.stats.bytes - bytes0,
      durationMs: Math.max(0.001, this.#timeline.msSince(t0)),
      dirtyAfter,
    };
  }

  #iterationStats(
    pass: PrecopyPass,
    found: number,
    foundByDevices: number,
    bandwidth: number,
    decision: ConvergenceDecision,
    throttle: number,
    catchUpMs: number | undefined,
  ): IterationStats {
    return {
      iteration: this.#iteration,
      dirtyPagesFound: found,
      dirtyPagesByDevices: foundByDevices,
      dataPages: pass.dataPages,
      zeroPages: pass.zeroPages,
      unchangedPages: pass.unchangedPages,
      deviceBytes: pass.deviceBytes,
      wireBytes: pass.wireBytes,
      durationMs: pass.durationMs,
      bandwidth,
      expectedDowntimeMs: decision.expectedDowntimeMs,
      fixedCostMs: this.#costs.fixedMs,
      throttle,
      ...(catchUpMs === undefined ? {} : { catchUpMs }),
    };
  }

  /**
   * The policy's decision after `pass`. A switchover first waits for the target to apply
   * the pass ({@link #awaitTargetCaughtUp}); after a wait it is decided again, with what the
   * guest dirtied meanwhile added to the rest and the pass's rate counted up to the target's
   * ack — what reached the target's RAM, not the socket.
   */
  async #decide(
    run: SourceRun,
    policy: ConvergencePolicy,
    input: ConvergenceInput,
    pass: PrecopyPass,
  ): Promise<{
    decision: ConvergenceDecision;
    dirtyAfter: number;
    bandwidth: number;
    catchUpMs: number | undefined;
  }> {
    const decision = policy.decide(input);
    const catchUpMs =
      decision.action === "switchover" ? await this.#awaitTargetCaughtUp(run) : undefined;
    if (catchUpMs === undefined)
      return { decision, dirtyAfter: pass.dirtyAfter, bandwidth: input.bandwidth, catchUpMs };
    const dirtyAfter = await run.dirtySync.sync(run.dirty, run.guard);
    const bandwidth = (coveredBytes(pass) / this.#timeline.msSince(pass.startedAt)) * 1000;
    return {
      decision: policy.decide({
        ...input,
        dirtyRamBytes: dirtyAfter * PAGE_SIZE,
        deviceDirtyRamBytes: run.dirtySync.deviceDirtyPages * PAGE_SIZE,
        bandwidth,
      }),
      dirtyAfter,
      bandwidth,
      catchUpMs,
    };
  }

  /**
   * Before a switchover, the target must have applied the pass just sent (ITERATION_ACK):
   * otherwise the paused window starts with the target still working through that pass —
   * bytes waiting in socket buffers, or a target that got less CPU than the source on a
   * busy host — which a prediction of pending bytes over the source's send rate cannot
   * see. Waits for it (at most the peer timeout) and returns how long, ms; `undefined` when
   * the ack was already there or the stream has none (format version 2). The version is
   * the one this source writes: the return path answers in it (its reader refuses another).
   */
  async #awaitTargetCaughtUp(run: SourceRun): Promise<number | undefined> {
    if (this.#encoder.version < ITERATION_ACK_VERSION) return undefined;
    this.#checkIterationAck(run);
    if (run.answers.iterationAcked >= this.#iteration) return undefined;
    const t0 = this.#timeline.now();
    const acked = await run.answers.waitForIterationAck(
      this.#iteration,
      this.#options.peerTimeoutMs,
      this.#abort.signal,
    );
    if (!acked) {
      throw new MdevError(
        "ETIMEDOUT",
        `the target did not apply iteration ${this.#iteration} within ${this.#options.peerTimeoutMs} ms`,
      );
    }
    this.#checkIterationAck(run);
    return this.#timeline.msSince(t0);
  }

  /** An ITERATION_ACK for a pass not sent yet is a target that does not follow the protocol. */
  #checkIterationAck(run: SourceRun): void {
    if (run.answers.iterationAcked > this.#iteration) {
      throw new MdevError(
        "EPROTO",
        `the target acknowledged iteration ${run.answers.iterationAcked}; only ${this.#iteration} were sent`,
      );
    }
  }

  /**
   * Digests the page table after a pass, timed for the switchover's prediction (END's hash
   * here and its check there). Blockwise (format 4), this hashes the blocks the pass
   * changed, which leaves END only the final pass's blocks, and the final pass touches the
   * pages the last passes did. A whole-table digest (formats 2–3) is timed once.
   */
  #digestPass(run: SourceRun): void {
    if (!run.table.blockwise && this.#costs.digestMeasured) return;
    const t0 = this.#timeline.now();
    run.table.digest();
    this.#costs.digest(this.#timeline.msSince(t0));
  }

  /**
   * Waits one slice for the switchover-ack (the timer lets the return path be read).
   * Returns the total waited so far; ETIMEDOUT once that reaches `peerTimeoutMs`.
   */
  async #awaitSwitchoverAck(run: SourceRun, waitedMs: number): Promise<number> {
    const acked = await run.answers.waitForSwitchoverAck(ACK_WAIT_SLICE_MS, this.#abort.signal);
    if (acked) return waitedMs;
    const waited = waitedMs + ACK_WAIT_SLICE_MS;
    if (waited >= this.#options.peerTimeoutMs) {
      throw new MdevError(
        "ETIMEDOUT",
        `switchover-ack never arrived from the target within ${this.#options.peerTimeoutMs} ms`,
      );
    }
    return waited;
  }

  /** 4. Pause, stop devices, final sync, the rest of the state, END. */
  async #switchover(run: SourceRun): Promise<SwitchedOver> {
    this.#enter("switchover");
    const vm = this.#vm;
    this.#armSwitchoverDeadline();
    this.#timeline.mark("paused");
    await vm.pause();
    run.paused = true;
    const saving = await stopDevicesForSwitchover(
      vm.devices,
      run.precopy.streams,
      this.#options.p2p && allSupportP2P(vm.devices),
      run.guard,
    );
    this.#timeline.mark("devicesStopped");
    await this.#send(this.#encoder.precopyEnd());
    await run.dirtySync.sync(run.dirty, run.guard);
    await run.dirtySync.stop(run.guard);
    const finalPages = run.dirty.count();
    // The guest is paused, so views of its memory would do; copying costs ~0.3 µs a page,
    // yet the final pass runs faster through the same path as every precopy pass (the
    // dirtying bench VM: 50–60 ms of downtime instead of 80–87 ms, final RAM 18–38 ms
    // instead of 70–76 ms for ~3,000 scattered pages).
    const final = await run.ram.send(run.dirty, "snapshot", () => this.#betweenBatches(run), true);
    this.#timeline.mark("ramSent");
    // The devices' records and END go out in as few writes as their size allows: a write and
    // its wait for each record were about a quarter of the source's part of an 8-device
    // switchover.
    const batch = new SwitchoverBatch((frames) => this.#send(frames));
    for (const d of vm.devices) {
      const stream = saving.get(d.index);
      if (stream === undefined)
        throw new MdevError("EIO", `device ${d.config.slot} has no saving stream`);
      const bytes = await batchDeviceState(batch, this.#encoder, d, stream, (read) =>
        run.guard.run(d, read),
      );
      this.#countDeviceBytes(d, bytes);
    }
    const ramDigest = run.table.digest();
    const end = this.#encoder.end(ramDigest);
    // A LOADED that came before END went out answers a stream the target had not seen the
    // end of: it checked nothing, and must never get GO. What already arrived is read
    // first (a target that said it early fails the reader, and so the migration, here).
    await readArrivedAnswers();
    this.#checkAbort(run.answers);
    run.channel.returnPath.forwardEnded();
    await batch.add(end);
    await batch.flush();
    this.#timeline.mark("endSent");
    return { finalPages, finalUnchangedPages: final.unchangedPages, ramDigest };
  }

  /**
   * 5–6. The target verifies and loads (LOADED, with its load times); GO hands the VM over
   * for good. Returns the target's load time per device slot, ms.
   */
  async #handover(run: SourceRun): Promise<Record<string, number>> {
    this.#enter("handover");
    const loaded = await run.answers.waitFor(
      "LOADED",
      this.#options.peerTimeoutMs,
      this.#abort.signal,
    );
    this.#timeline.mark("loaded");
    const targetLoadMs = this.#targetLoadMs(loaded);
    this.#checkAbort(run.answers);
    await this.#sendGo(run);
    // From here the VM belongs to the target unless it answers FAILED: a timeout or a lost
    // connection proves nothing about whether it runs there, so nothing runs here.
    this.#timeline.mark("goSent");
    await run.answers
      .waitFor("RESUMED", this.#options.peerTimeoutMs, this.#abort.signal)
      .catch((err: unknown) => {
        if (run.answers.failedExplicitly) {
          // FAILED instead of RESUMED: the target discarded the VM before its guest ran (it
          // answers FAILED only then), so the VM is still this side's to run — libvirt's
          // Confirm(cancelled). The rollback resumes it.
          throw err;
        }
        throw new MigrationError(
          isMdevError(err) ? err.code : "EIO",
          "handover",
          `GO was sent but RESUMED did not arrive (${detailOf(err)}); the VM stays paused here and never runs twice`,
          { cause: err, rolledBack: false },
        );
      });
    this.#timeline.mark("resumed");
    // Not before: until RESUMED the handover may still fail, and a progress sample or the
    // `phase` getter must not call it completed.
    this.#phase = "completed";
    this.#finalSample();
    return targetLoadMs;
  }

  /**
   * Starts the one budget of the paused window: on expiry the migration aborts (the abort
   * cuts the connection, so even a send blocked on a stalled target settles) and, unless GO
   * already went out, rolls back — the VM resumes here.
   */
  #armSwitchoverDeadline(): void {
    const ms = this.#options.switchoverTimeoutMs;
    this.#switchoverDeadline = setTimeout(
      () =>
        this.#abort.abort(
          new MdevError(
            "ETIMEDOUT",
            `the VM was paused for switchover longer than its ${ms} ms limit (switchoverTimeoutMs) before the target was ready for GO`,
          ),
        ),
      ms,
    );
  }

  /**
   * Hands GO to the channel: the point of no return. If the write is cut by an abort, GO may
   * already be in the kernel's buffer and reach the target, so the VM must not run here
   * either — unless the target said FAILED, which proves it will not run it.
   */
  async #sendGo(run: SourceRun): Promise<void> {
    this.#handedOver = true;
    try {
      await this.#send(this.#encoder.go());
    } catch (err) {
      if (!this.#abort.signal.aborted || run.answers.failedExplicitly) throw err;
      const reason = this.#abort.signal.reason as unknown;
      throw new MigrationError(
        isMdevError(reason) ? reason.code : "EIO",
        "handover",
        `GO was being sent when the migration was aborted (${detailOf(reason)}); the VM stays paused here and never runs twice`,
        { cause: reason, rolledBack: false },
      );
    } finally {
      clearTimeout(this.#switchoverDeadline);
    }
  }

  /** LOADED's per-device load times by slot name; EPROTO unless it lists every device once. */
  #targetLoadMs(loaded: ReturnRecord): Record<string, number> {
    const devices = this.#vm.devices;
    const entries = loaded.type === "LOADED" ? loaded.devices : [];
    if (entries.length !== devices.length || entries.some((e, i) => e.slot !== i)) {
      throw new MdevError(
        "EPROTO",
        `LOADED lists slots [${entries.map((e) => e.slot).join(", ")}], the VM has ${devices.length} devices`,
      );
    }
    // Entry i is device i (checked above).
    return Object.fromEntries(
      devices.map((d, i) => [d.config.slot, (entries[i]?.loadUs ?? 0) / 1000]),
    );
  }

  /** The result, built from the timeline and the counters. */
  async #complete(
    run: SourceRun,
    precopy: PrecopyOutcome,
    { finalPages, finalUnchangedPages, ramDigest }: SwitchedOver,
    targetLoadMs: Record<string, number>,
  ): Promise<MigrationResult> {
    const vm = this.#vm;
    const t = this.#timeline;
    const sha = this.#options.verifyRam ? ramSha256(vm.memory) : undefined;
    this.#emit({ kind: "phase", phase: "completed", tMs: t.between("started", "resumed") });
    await run.channel.close();
    const encoderStats = this.#encoder.stats;
    return {
      outcome: "completed",
      totalTimeMs: t.between("started", "resumed"),
      downtimeMs: t.between("paused", "resumed"),
      downtime: {
        stopDevicesMs: t.between("paused", "devicesStopped"),
        finalRamMs: t.between("devicesStopped", "ramSent"),
        deviceStopCopyMs: t.between("ramSent", "endSent"),
        targetLoadMs,
        endToLoadedMs: t.between("endSent", "loaded"),
        resumeMs: t.between("goSent", "resumed"),
      },
      iterations: precopy.iterations,
      finalPages,
      finalUnchangedPages,
      wireBytes: encoderStats.bytes,
      dataPages: encoderStats.dataPages,
      zeroPages: encoderStats.zeroPages,
      deviceBytes: Object.fromEntries(this.#deviceBytes),
      ramBytes: vm.memory.size,
      ramDigest: Buffer.from(ramDigest).toString("hex"),
      ...(sha === undefined ? {} : { ramSha256: sha }),
      maxThrottle: precopy.maxThrottle,
      throughput: this.#throughput,
    };
  }

  /** Puts the VM back the way it was and describes the failure. */
  async #rollback(err: unknown, run: SourceRun): Promise<MigrationError> {
    const phase = this.#phase;
    const reason = detailOf(err);
    // Tell the target to discard what it has (best effort: it may be gone, or the abort
    // already cut the connection; a target that stopped reading gets 500 ms).
    let giveUp: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        run.channel.send(this.#encoder.abort(reason.slice(0, 1000))),
        new Promise((r) => {
          giveUp = setTimeout(r, 500);
        }),
      ]);
    } catch {
      // The target is unreachable; it never got GO, so it never runs the VM.
    } finally {
      clearTimeout(giveUp);
    }
    run.channel.destroy();
    // The guard gave up with the migration: the cleanup gets its own deadline and leaves
    // alone the devices whose calls were abandoned.
    await run.dirtySync.stop(run.guard.after(ROLLBACK_DEVICE_TIMEOUT_MS));
    // Devices whose calls were abandoned are returned to RUNNING once those calls settle,
    // after this rollback is over: their own event tells the caller.
    const problems = await returnDevicesToRunning(
      this.#vm.devices,
      run.guard,
      ROLLBACK_DEVICE_TIMEOUT_MS,
      (recovery) => this.#emit({ kind: "device-recovered", ...recovery }),
    );
    this.#vm.setThrottle(0);
    if (run.paused) {
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
    this.#emit({ kind: "rollback", error });
    return error;
  }

  #enter(phase: MigrationPhase): void {
    this.#phase = phase;
    this.#emit({ kind: "phase", phase, tMs: this.#timeline.elapsedMs() });
  }

  /** Hands an event to the host's sink and to this emitter's listeners. */
  #emit(event: MigrationEvent): void {
    this.#services.events.event(event);
    switch (event.kind) {
      case "phase":
        this.emit("phase", event.phase);
        break;
      case "iteration":
        this.emit("iteration", event.stats);
        break;
      case "progress":
        this.emit("progress", event.progress);
        break;
      case "rollback":
        this.emit("rollback", event.error);
        break;
      case "device-recovered": {
        const { kind: _, ...recovery } = event;
        this.emit("device-recovered", recovery);
        break;
      }
    }
  }

  #checkAbort(answers: TargetAnswers): void {
    if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
    answers.check();
  }

  /** RamSender calls this between batches: abort checks, and progress through the bulk pass. */
  #betweenBatches(run: SourceRun): void {
    this.#checkAbort(run.answers);
    this.#sample();
  }

  /**
   * Records a throughput sample (at most one per {@link SAMPLE_MIN_GAP_MS}) and emits
   * progress, as of `tMs` (ms since the start; now unless given).
   */
  #sample(tMs = this.#timeline.elapsedMs()): void {
    const s = { tMs, bytes: this.#written };
    const last = this.#throughput[this.#throughput.length - 1];
    if (last === undefined || s.tMs - last.tMs >= SAMPLE_MIN_GAP_MS) this.#throughput.push(s);
    const { dataPages, zeroPages } = this.#encoder.stats;
    this.#emit({
      kind: "progress",
      progress: {
        wireBytes: s.bytes,
        ramPages: dataPages + zeroPages,
        tMs: s.tMs,
        iteration: this.#iteration,
        phase: this.#phase,
      },
    });
  }

  /**
   * The sample at RESUMED, kept even when it comes within {@link SAMPLE_MIN_GAP_MS} of the
   * last one (it takes that one's place), so the throughput ends where the migration does.
   */
  #finalSample(): void {
    const tMs = this.#timeline.between("started", "resumed");
    const last = this.#throughput.at(-1);
    if (last !== undefined && tMs - last.tMs < SAMPLE_MIN_GAP_MS) this.#throughput.pop();
    this.#sample(tMs);
  }

  async #send(frames: Uint8Array[]): Promise<void> {
    await this.#channel.send(frames, this.#abort.signal);
    this.#sample();
  }

  async #sendDeviceData(d: VmDevice, phase: DevicePhase, chunk: Uint8Array): Promise<void> {
    await this.#send(this.#encoder.deviceData(d.index, phase, chunk));
    this.#countDeviceBytes(d, chunk.byteLength);
  }

  #countDeviceBytes(d: VmDevice, bytes: number): void {
    this.#deviceBytes.set(d.config.slot, (this.#deviceBytes.get(d.config.slot) ?? 0) + bytes);
  }
}
