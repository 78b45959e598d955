import { EventEmitter } from "node:events";
import { EngineServices } from "../di/engine-services.js";
import { MdevError } from "../errors/mdev-error.js";
import type { MdevHost } from "../host.js";
import { FORMAT_VERSION, ITERATION_ACK_VERSION } from "../stream/format.js";
import type { HandshakeBody, ReturnMessage, StreamRecord } from "../stream/records.js";
import { StreamDecoder } from "../stream/stream-decoder.js";
import { sha256 } from "../stream/stream-digest.js";
import {
  type DuplexTargetChannel,
  hasReturnPath,
  type TargetChannel,
} from "../transport/channel.js";
import type { SimulatedVm } from "../vm/simulated-vm.js";
import type { TargetStateName } from "./migration-events.js";
import { OneWayRestore } from "./one-way-restore.js";
import { PeerDeadline } from "./peer-deadline.js";
import type { Admission } from "./target-capacity.js";
import { checkHandshake } from "./target-handshake.js";
import {
  type MigrationTargetOptions,
  RECEIVE_PROGRESS_BYTES,
  type ResolvedTargetOptions,
  resolveTargetOptions,
  type TargetResult,
} from "./target-options.js";
import { type LoadedVm, ReceivingState } from "./target-receiving.js";
import { runLoadedVm } from "./target-run.js";
import {
  AWAITING_HANDSHAKE,
  type AwaitingHandshake,
  DISCARDED,
  type Discarded,
  detachStack,
  readRecords,
  type TargetSessionEvents,
  unexpected,
} from "./target-session.js";
import { type BuildOutcome, buildVm, refusedVm } from "./target-vm.js";

export type { MigrationTargetOptions, TargetResult } from "./target-options.js";

/** Events a {@link MigrationTarget} emits. */
export interface MigrationTargetEvents {
  /** A record arrived (for progress displays). */
  record: [type: StreamRecord["type"], offset: number];
  /** The target accepted the handshake and is building the VM. */
  accepted: [config: SimulatedVm["config"]];
  /** Every device loaded and LOADED was sent; the VM waits for GO. */
  loaded: [];
}

/**
 * The target side of a migration: checks the handshake against its own plugins before
 * anything is allocated, builds the VM, applies validated records as they arrive, loads
 * the devices after END, and runs the VM only after GO (or, for a one-way restore from a
 * file, once END and every digest checked out: {@link OneWayRestore}). On any failure it
 * reports FAILED and discards the VM: a target never runs half a state.
 *
 * It walks awaiting-handshake → receiving → loaded → running (see `state`); its plugin
 * registry, clock and event sink come from the host's container.
 */
export class MigrationTarget extends EventEmitter<MigrationTargetEvents> {
  readonly #host: MdevHost;
  readonly #channel: TargetChannel;
  readonly #options: ResolvedTargetOptions;
  readonly #services: EngineServices;
  #state: TargetStateName = "awaiting-handshake";

  constructor(host: MdevHost, channel: TargetChannel, options: MigrationTargetOptions = {}) {
    super();
    this.#host = host;
    this.#channel = channel;
    this.#options = resolveTargetOptions(options);
    this.#services = host.container.resolve(EngineServices);
  }

  /** Where the target stands. */
  get state(): TargetStateName {
    return this.#state;
  }

  /** Receives one VM. Rejects (after telling the source, when it can) if anything is wrong. */
  async receive(): Promise<TargetResult> {
    const events: TargetSessionEvents = {
      record: (type, offset) => this.emit("record", type, offset),
      accepted: (config) => this.emit("accepted", config),
      loaded: () => this.emit("loaded"),
      state: (state) => {
        this.#state = state;
        this.#services.events.event({
          kind: "target-state",
          state,
          tMs: this.#services.nowMs(),
        });
      },
    };
    const channel = this.#channel;
    const session = hasReturnPath(channel)
      ? new DuplexTargetSession(this.#host, this.#services, channel, this.#options, events)
      : new OneWayRestore(this.#host, this.#services, channel, this.#options, events);
    return session.run();
  }
}

/** What a source that made no progress did not send, for the receive-idle ETIMEDOUT. */
const IDLE_WHAT = `less than ${RECEIVE_PROGRESS_BYTES / 2 ** 20} MiB more of the VM's state`;

/** Loaded: END checked, devices in STOP, LOADED sent; only GO (before the timer) runs the VM. */
interface LoadedState {
  readonly kind: "loaded";
  readonly loaded: LoadedVm;
  readonly goTimer: NodeJS.Timeout;
}

/** A migration over a channel with a return path: answers, switchover-ack, LOADED, GO. */
class DuplexTargetSession {
  #decoder = new StreamDecoder();
  #state: AwaitingHandshake | ReceivingState | LoadedState | Discarded = AWAITING_HANDSHAKE;
  /** The VM's claim on the target's capacity, from admission until it runs or is dropped. */
  #admission: Admission | undefined;
  #deadline: PeerDeadline | undefined;
  /** Bytes received since the receive-idle deadline was last armed. */
  #sinceProgress = 0;
  /** Gives back the HANDSHAKE's claim on the listener's handshake budget (once it was judged). */
  #releaseHandshake: (() => void) | undefined;
  /** The source was already told why (REJECT, or FAILED when GO was late): nothing after it. */
  #answeredFinally = false;
  /** Set when the GO timer fired: a GO arriving now must not start the VM. */
  #goLate: MdevError | undefined;

  constructor(
    private readonly host: MdevHost,
    private readonly services: EngineServices,
    private readonly channel: DuplexTargetChannel,
    private readonly options: ResolvedTargetOptions,
    private readonly events: TargetSessionEvents,
  ) {}

  async run(): Promise<TargetResult> {
    const deadline = new PeerDeadline(this.channel);
    deadline.arm(this.options.handshakeTimeoutMs, "no HANDSHAKE");
    this.#deadline = deadline;
    // The HANDSHAKE's declared length is claimed at its frame header, before its payload is
    // buffered: all the connections of a listener together hold at most the budget for
    // HANDSHAKEs not yet judged (the decoder refuses any other record before it).
    const budget = this.options.handshakeBudget;
    this.#decoder.setFrameAdmission((type, length) => {
      if (type === "HANDSHAKE") this.#releaseHandshake = budget.claim(length);
    });
    try {
      return await readRecords(
        this.channel,
        this.#decoder,
        this.events,
        (r) => this.#step(r),
        (bytes) => this.#arrived(bytes),
      );
    } catch (err) {
      // A late GO or HANDSHAKE ends the channel from here; the timeout, not the hang-up,
      // is the reason.
      const reason = this.#goLate ?? deadline.expired ?? err;
      detachStack(err);
      detachStack(reason);
      await this.#discard(reason);
      throw reason;
    } finally {
      deadline.met();
      this.#releaseHandshake?.();
    }
  }

  /**
   * While the VM's state flows in, each {@link RECEIVE_PROGRESS_BYTES} more of it restart the
   * receive-idle deadline — progress, not any byte: a peer that trickles a byte at a time
   * would otherwise hold the loading slot and the VM's RAM for as long as it liked.
   */
  #arrived(bytes: number): void {
    if (this.#state.kind !== "receiving") return;
    this.#sinceProgress += bytes;
    if (this.#sinceProgress >= RECEIVE_PROGRESS_BYTES) this.#armIdle();
  }

  /** (Re)starts the receive-idle deadline, from no progress. */
  #armIdle(): void {
    this.#sinceProgress = 0;
    const ms = this.options.receiveIdleTimeoutMs;
    this.#deadline?.arm(ms, IDLE_WHAT);
  }

  async #step(record: StreamRecord): Promise<TargetResult | undefined> {
    const state = this.#state;
    switch (state.kind) {
      case "awaiting-handshake":
        if (record.type !== "HANDSHAKE") throw unexpected(record, state.kind);
        this.#deadline?.met();
        this.#decoder.setFrameAdmission(undefined);
        this.#state = await this.#accept(record);
        // Accepted: it is the VM loading here now, whose records may take that much anyway.
        this.#releaseHandshake?.();
        return undefined;
      case "receiving":
        if (record.type === "END") {
          // Loading and the wait for GO have deadlines of their own.
          this.#deadline?.met();
          this.#state = await this.#load(state, record);
        } else await state.apply(record);
        return undefined;
      case "loaded":
        if (record.type !== "GO") throw unexpected(record, state.kind);
        if (this.#goLate) throw this.#goLate;
        clearTimeout(state.goTimer);
        return this.#run(state.loaded);
      case "discarded":
        throw new MdevError("EPROTO", `${record.type} after the target discarded the VM`);
    }
  }

  /** HANDSHAKE: check, build, prepare, then ACCEPT — or REJECT with the reason. */
  async #accept(record: HandshakeBody): Promise<ReceivingState> {
    // The answers go in the source's format version: an older source reads them all.
    const version = this.#decoder.header?.version ?? FORMAT_VERSION;
    await this.channel.returnPath.start(
      this.#decoder.header?.configDigest ?? sha256(record.config),
      version,
    );
    const verdict = checkHandshake(record, this.services.plugins);
    // The capacity (memory budget, preallocated size, one VM at a time) is asked before
    // anything is allocated; a refusal leaves the source running.
    const built: BuildOutcome = verdict.accepted
      ? await buildVm(
          verdict.config,
          this.host,
          this.options.capacity,
          () => this.channel.hungUp?.() === true,
        )
      : { refusal: verdict.reason, code: verdict.code };
    if ("refusal" in built) {
      this.#answeredFinally = true;
      await this.#answer({ type: "REJECT", reason: built.refusal }).catch(() => {});
      throw refusedVm(built);
    }
    this.#admission = built.admission;
    const { vm } = built.prepared;
    this.#decoder.setGuestPageCount(vm.memory.pages);
    // RAM pages go straight from the socket's bytes into guest memory (see setRamSink).
    this.#decoder.setRamSink(vm.memory);
    const receiving = new ReceivingState(
      built.prepared,
      {
        initialDataLoaded: () => this.#answer({ type: "SWITCHOVER_ACK" }),
        // Version 2 sources know no ITERATION_ACK.
        iterationApplied:
          version >= ITERATION_ACK_VERSION
            ? (iteration) => this.#answer({ type: "ITERATION_ACK", iteration })
            : undefined,
      },
      version,
    );
    // Once built, the VM is the session's to drop on any failure.
    this.#state = receiving;
    this.events.accepted(vm.config);
    await this.#answer({ type: "ACCEPT" });
    this.events.state("receiving");
    this.#armIdle();
    await receiving.start();
    return receiving;
  }

  /** END: verify and load, LOADED with the load times, then wait (bounded) for GO. */
  async #load(
    receiving: ReceivingState,
    end: StreamRecord & { type: "END" },
  ): Promise<LoadedState> {
    const loaded = await receiving.load(end, this.services.clock);
    await this.#answer({ type: "LOADED", devices: loaded.loadTimes });
    this.events.loaded();
    this.events.state("loaded");
    // Without GO the VM must never run: give up (and drop it) when GO is late, and say so
    // first, so a source that sent GO meanwhile knows the VM is still its own.
    const goTimer = setTimeout(() => {
      const late = new MdevError(
        "ETIMEDOUT",
        `no GO within ${this.options.goTimeoutMs} ms of LOADED`,
      );
      this.#answeredFinally = true;
      this.#goLate = late;
      void Promise.race([
        this.#answer({ type: "FAILED", reason: late.message }),
        new Promise((r) => setTimeout(r, 500)),
      ])
        .catch(() => {})
        .finally(() => this.channel.destroy(late));
    }, this.options.goTimeoutMs);
    return { kind: "loaded", loaded, goTimer };
  }

  /** GO: the VM is ours; RESUMED goes out once its devices run. */
  async #run(loaded: LoadedVm): Promise<TargetResult> {
    const result = await runLoadedVm(loaded, {
      options: this.options,
      clock: this.services.clock,
      resumed: async () => {
        await this.#answer({ type: "RESUMED" }).catch(() => {});
        this.events.state("running");
      },
      bytesReceived: () => this.#decoder.offset,
    });
    this.#admission?.running(result.vm.memory);
    this.#admission = undefined;
    await this.channel.close().catch(() => {});
    return result;
  }

  #answer(msg: ReturnMessage): Promise<void> {
    return this.channel.returnPath.send(msg);
  }

  /** Failure: tell the source (once), drop the VM; it never ran. */
  async #discard(err: unknown): Promise<void> {
    const state = this.#state;
    if (state.kind === "loaded") clearTimeout(state.goTimer);
    let told = false;
    if (!this.#answeredFinally) {
      // The target's own code stays in the reason: the source reports it under EIO.
      const reason = err instanceof Error ? err.message : String(err);
      told = await Promise.race([
        this.#answer({ type: "FAILED", reason: reason.slice(0, 1000) }).then(() => true),
        new Promise<boolean>((r) => setTimeout(r, 500, false)),
      ]).catch(() => false);
    }
    // A source told why is let go gracefully: cut under its writes, its end of the connection
    // is reset, and it may lose the FAILED it has not read yet and report ECONNRESET
    // instead. close() cuts a source that does not leave within its own bound.
    if (told) void this.channel.close().catch(() => {});
    else this.channel.destroy();
    // Forget the VM before destroying it: the session (which the error's stack may keep
    // alive) must hold no path to guest RAM once it failed.
    this.#state = DISCARDED;
    // The decoder may hold guest RAM too (a sink for pages): the session drops it as well.
    this.#decoder = new StreamDecoder();
    const vm =
      state.kind === "receiving" ? state.vm : state.kind === "loaded" ? state.loaded.vm : undefined;
    await vm?.destroy().catch(() => {});
    const admission = this.#admission;
    this.#admission = undefined;
    // Its RAM goes back before the session's failure is reported.
    await admission?.discard(vm?.memory);
  }
}
