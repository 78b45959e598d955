import type { EngineServices } from "../di/engine-services.js";
import { MdevError } from "../errors/mdev-error.js";
import { PluginNotLoadedError } from "../errors/plugin-not-loaded-error.js";
import type { MdevHost } from "../host.js";
import type { HandshakeBody, StreamRecord } from "../stream/records.js";
import { StreamDecoder } from "../stream/stream-decoder.js";
import type { TargetChannel } from "../transport/channel.js";
import type { Admission } from "./target-capacity.js";
import { checkHandshake, type HandshakeRefusal } from "./target-handshake.js";
import type { ResolvedTargetOptions, TargetResult } from "./target-options.js";
import { type LoadedVm, ReceivingState } from "./target-receiving.js";
import { runLoadedVm } from "./target-run.js";
import {
  AWAITING_HANDSHAKE,
  type AwaitingHandshake,
  DISCARDED,
  type Discarded,
  detachStack,
  type TargetSessionEvents,
  unexpected,
} from "./target-session.js";
import { buildVm, refusedVm } from "./target-vm.js";

/**
 * Restores a VM from a one-way channel (a save file): nobody to answer, so no ACCEPT,
 * switchover-ack, LOADED or GO. The VM runs once END arrived and every total and digest
 * checked out; anything wrong before that drops it unrun.
 */
export class OneWayRestore {
  #decoder = new StreamDecoder();
  #state: AwaitingHandshake | ReceivingState | Discarded = AWAITING_HANDSHAKE;
  /** The VM's claim on the target's capacity, from admission until it runs or is dropped. */
  #admission: Admission | undefined;

  constructor(
    private readonly host: MdevHost,
    private readonly services: EngineServices,
    private readonly channel: TargetChannel,
    private readonly options: ResolvedTargetOptions,
    private readonly events: TargetSessionEvents,
  ) {}

  /** Reads the whole save and runs the VM it holds. */
  async run(): Promise<TargetResult> {
    try {
      const loaded = await this.#readAll();
      const result = await runLoadedVm(loaded, {
        options: this.options,
        clock: this.services.clock,
        resumed: async () => this.events.state("running"),
        bytesReceived: () => this.#decoder.offset,
      });
      this.#admission?.running(result.vm.memory);
      this.#admission = undefined;
      await this.channel.close().catch(() => {});
      return result;
    } catch (err) {
      detachStack(err);
      this.channel.destroy();
      const state = this.#state;
      // No path from this session (nor from the error's stack) to guest RAM after a failure.
      this.#state = DISCARDED;
      // The decoder may hold guest RAM too (a sink for pages): the session drops it as well.
      this.#decoder = new StreamDecoder();
      const vm = state.kind === "receiving" ? state.vm : undefined;
      await vm?.destroy().catch(() => {});
      const admission = this.#admission;
      this.#admission = undefined;
      await admission?.discard(vm?.memory);
      throw err;
    }
  }

  /**
   * Applies every record up to END, then reads on to the end of the save: a file is whole
   * or refused, so bytes after END (a record, or a fragment of one) fail the restore
   * before the VM ever runs.
   */
  async #readAll(): Promise<LoadedVm> {
    let loaded: LoadedVm | undefined;
    for await (const chunk of this.channel.receive()) {
      for (const record of this.#decoder.push(chunk)) {
        this.events.record(record.type, record.offset);
        if (loaded !== undefined) {
          throw new MdevError("EBADMSG", `${record.type} at offset ${record.offset} follows END`);
        }
        loaded = await this.#step(record);
      }
    }
    this.#decoder.finish();
    if (loaded === undefined) throw new MdevError("EBADMSG", "the save has no END");
    return loaded;
  }

  async #step(record: StreamRecord): Promise<LoadedVm | undefined> {
    const state = this.#state;
    if (record.type === "ABORT") {
      throw new MdevError("ECONNABORTED", `the save was aborted: ${record.reason}`);
    }
    if (state.kind === "discarded") {
      throw new MdevError("EPROTO", `${record.type} after the restore discarded the VM`);
    }
    if (state.kind === "awaiting-handshake") {
      if (record.type !== "HANDSHAKE") throw unexpected(record, state.kind);
      this.#state = await this.#receive(record);
      return undefined;
    }
    if (record.type !== "END") {
      await state.apply(record);
      return undefined;
    }
    return state.load(record, this.services.clock);
  }

  async #receive(record: HandshakeBody): Promise<ReceivingState> {
    const verdict = checkHandshake(record, this.services.plugins);
    if (!verdict.accepted) throw saveRefused(verdict);
    // The capacity's memory budget is checked here, before the save's RAM is allocated.
    const built = await buildVm(verdict.config, this.host, this.options.capacity);
    if ("refusal" in built) throw refusedVm(built);
    this.#admission = built.admission;
    this.#decoder.setGuestPageCount(built.prepared.vm.memory.pages);
    // RAM pages go straight from the file's bytes into guest memory (see setRamSink).
    this.#decoder.setRamSink(built.prepared.vm.memory);
    this.events.accepted(verdict.config);
    this.events.state("receiving");
    // No source listens for a switchover-ack: there is nothing to report.
    return new ReceivingState(
      built.prepared,
      { initialDataLoaded: async () => {} },
      this.#decoder.header?.version,
    );
  }
}

/**
 * The error of a save whose HANDSHAKE this host refuses. Nobody is connected to refuse,
 * so the code says what is wrong with the save here (see {@link HandshakeRefusal.code}),
 * and a device whose plugin is not loaded says which plugin the save needs.
 */
function saveRefused(refusal: HandshakeRefusal): MdevError {
  const missing = refusal.missingPlugin;
  if (missing !== undefined) return new PluginNotLoadedError(missing.slot, missing.plugin);
  return refusedVm({ refusal: refusal.reason, code: refusal.code });
}
