import type { DeviceRecovery } from "./late-recovery.js";
import type { MigrationError, MigrationPhase } from "./migration-error.js";
import type { IterationStats } from "./migration-stats.js";

/** Bytes the channel took: sampled between RAM batches, after each record and on a 100 ms timer. */
export interface MigrationProgress {
  /** Bytes on the wire so far. */
  readonly wireBytes: number;
  /**
   * Guest pages sent so far, data and zero, every pass counted: the first pass covers all
   * of RAM, so a bar of these against RAM's pages fills as it does (zero pages, nearly free
   * on the wire, keep a bar of bytes short of full).
   */
  readonly ramPages: number;
  /** Ms since the migration started (host clock). */
  readonly tMs: number;
  /** Precopy iteration under way (0 before the first). */
  readonly iteration: number;
  /** Phase the bytes belong to. */
  readonly phase: MigrationPhase;
}

/** Where a target stands; see {@link MigrationTarget}. */
export type TargetStateName = "awaiting-handshake" | "receiving" | "loaded" | "running";

/** Something the engine did, as the host's {@link MigrationEventSink} sees it. */
export type MigrationEvent =
  | { readonly kind: "phase"; readonly phase: MigrationPhase; readonly tMs: number }
  | { readonly kind: "iteration"; readonly stats: IterationStats }
  | { readonly kind: "progress"; readonly progress: MigrationProgress }
  | { readonly kind: "rollback"; readonly error: MigrationError }
  /**
   * After a rollback, a device whose driver call the migration had to abandon finished
   * that call and was returned to RUNNING (or reset, or not even that: see `problem`).
   */
  | ({ readonly kind: "device-recovered" } & DeviceRecovery)
  | { readonly kind: "target-state"; readonly state: TargetStateName; readonly tMs: number };

/**
 * Where engine events and progress go. A host has one (`TOKENS.EventSink`, a
 * {@link NullEventSink} by default); a display, a log or a test registers its own in the
 * host's container. Called synchronously on the engine's path: keep it cheap, never throw.
 */
export interface MigrationEventSink {
  /** Takes one event. */
  event(event: MigrationEvent): void;
}

/** The default sink: drops every event. */
export class NullEventSink implements MigrationEventSink {
  /** Drops `_event`. */
  event(_event: MigrationEvent): void {}
}
