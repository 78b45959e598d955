import {
  type DirtyTrackingMethod,
  FsmError,
  isDirectArc,
  MdevError,
  type MigrationDataStream,
  type MigState,
  migStateName,
  type PrecopyInfo,
  MigState as S,
  SavingStream,
  type VendorDriver,
} from "../../src/index.js";

/** A raw VendorDriver (no AbstractVendorDriver) that records arcs and fails on demand. */
export class ScriptedDriver implements VendorDriver {
  readonly dirtyTracking: DirtyTrackingMethod = "vendor-bitmap";
  readonly configSpaceSize = 256;
  readonly arcs: [MigState, MigState][] = [];
  state: MigState = S.RUNNING;
  /** Arc that fails, as "FROM->TO" names. */
  failArc: string | undefined;
  /** Whether the failing arc breaks the device (ERROR). */
  failIntoError = false;
  /** Arc that (wrongly) returns a stream, as "FROM->TO". */
  streamOnArc: string | undefined;

  constructor(readonly migrationFlags: number) {}

  getState(): MigState {
    return this.state;
  }

  async setState(next: MigState): Promise<MigrationDataStream | undefined> {
    const from = this.state;
    if (!isDirectArc(this.migrationFlags, from, next))
      throw new FsmError("EINVAL", from, next, "not a direct arc");
    const label = `${migStateName(from)}->${migStateName(next)}`;
    if (label === this.failArc) {
      if (this.failIntoError) this.state = S.ERROR;
      throw new MdevError("EIO", `scripted failure on ${label}`);
    }
    this.arcs.push([from, next]);
    this.state = next;
    const opens =
      (from === S.STOP && (next === S.STOP_COPY || next === S.RESUMING)) ||
      (from === S.RUNNING && next === S.PRE_COPY) ||
      (from === S.RUNNING_P2P && next === S.PRE_COPY_P2P);
    if (opens || label === this.streamOnArc) return new SavingStream("stopcopy");
    return undefined;
  }

  async getDataSize(): Promise<number> {
    return 0;
  }
  async precopyInfo(): Promise<PrecopyInfo> {
    return { initialBytes: 0, dirtyBytes: 0 };
  }
  async logStart(): Promise<number> {
    return 4096;
  }
  async logStop(): Promise<void> {}
  async logReadAndClear(): Promise<void> {}
  async vendorDirtyStart(): Promise<void> {}
  async vendorDirtyStop(): Promise<void> {}
  async reportDirtyPages(): Promise<void> {}
  tick(): void {}
  async reset(): Promise<void> {
    this.state = S.RUNNING;
  }
  configRead(_offset: number, length: number): Uint8Array {
    return new Uint8Array(length);
  }
  configWrite(): void {}
  compatibilityData(): Uint8Array {
    return new Uint8Array();
  }
}
