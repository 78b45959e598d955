import type { MigrationEvent, MigrationEventSink, MigrationProgress } from "@mdevkit/core";
import { emitEvent } from "./events.js";

/** Fewest ms between two progress lines: a line per batch would flood the pipe. */
const PROGRESS_EVERY_MS = 50;

/**
 * The `--events` output of `migrate`: registered as the host's event sink, it turns the
 * engine's phases, iterations, (throttled) progress and late device recoveries after a
 * rollback into JSON lines on stdout.
 */
export class EventLinesSink implements MigrationEventSink {
  #lastProgress = Number.NEGATIVE_INFINITY;
  /** The latest progress the throttle held back, if any. */
  #heldBack: MigrationProgress | undefined;

  event(e: MigrationEvent): void {
    switch (e.kind) {
      case "phase":
        if (e.phase === "handshake") {
          // A new migration (`--retry-to` runs a second one through this sink): its clock
          // starts at 0 again, and what the last one held back is not its progress.
          this.#lastProgress = Number.NEGATIVE_INFINITY;
          this.#heldBack = undefined;
        }
        // A display shows the bytes of the last progress line it got: at a phase change
        // (above all "completed") those must be the current ones, not up to 50 ms old.
        this.#flush();
        emitEvent({ event: "phase", phase: e.phase });
        return;
      case "iteration":
        emitEvent({ event: "iteration", stats: { ...e.stats } });
        return;
      case "progress":
        if (e.progress.tMs - this.#lastProgress < PROGRESS_EVERY_MS) {
          this.#heldBack = e.progress;
          return;
        }
        this.#heldBack = undefined;
        this.#lastProgress = e.progress.tMs;
        emitEvent({ event: "progress", ...e.progress });
        return;
      case "device-recovered": {
        const { kind: _, ...recovery } = e;
        emitEvent({ event: "device-recovered", ...recovery });
        return;
      }
      default:
        // Failures are reported once, by the command, with their rollback outcome.
        return;
    }
  }

  #flush(): void {
    const p = this.#heldBack;
    if (p === undefined) return;
    this.#heldBack = undefined;
    this.#lastProgress = p.tMs;
    emitEvent({ event: "progress", ...p });
  }
}
