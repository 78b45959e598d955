import type { MigrationProgress } from "@mdevkit/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventLinesSink } from "../src/event-lines-sink.js";
import { childEventSchema } from "../src/events.js";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The JSON lines `run` writes to stdout. */
function linesOf(run: () => void): unknown[] {
  const lines: unknown[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(JSON.parse(String(chunk)));
    return true;
  });
  run();
  vi.restoreAllMocks();
  return lines;
}

const progress = (tMs: number, wireBytes: number): MigrationProgress => ({
  tMs,
  wireBytes,
  ramPages: wireBytes / 4096,
  iteration: 2,
  phase: "handover",
});

describe("the --events lines of migrate", () => {
  it("throttles progress, but a phase change first sends the latest progress held back", () => {
    const sink = new EventLinesSink();
    const lines = linesOf(() => {
      sink.event({ kind: "progress", progress: progress(1000, 100) });
      sink.event({ kind: "progress", progress: progress(1010, 200) });
      sink.event({ kind: "progress", progress: progress(1020, 300) });
      sink.event({ kind: "phase", phase: "completed", tMs: 1020 });
    });
    // The demo's bar ends on the last progress line: it must carry the final bytes.
    expect(lines).toEqual([
      { event: "progress", ...progress(1000, 100) },
      { event: "progress", ...progress(1020, 300) },
      { event: "phase", phase: "completed" },
    ]);
  });

  it("sends nothing extra at a phase change when no progress was held back", () => {
    const sink = new EventLinesSink();
    const lines = linesOf(() => {
      sink.event({ kind: "progress", progress: progress(1000, 100) });
      sink.event({ kind: "phase", phase: "switchover", tMs: 1000 });
      sink.event({ kind: "progress", progress: progress(1060, 400) });
      sink.event({ kind: "phase", phase: "handover", tMs: 1060 });
    });
    expect(lines).toEqual([
      { event: "progress", ...progress(1000, 100) },
      { event: "phase", phase: "switchover" },
      { event: "progress", ...progress(1060, 400) },
      { event: "phase", phase: "handover" },
    ]);
  });

  it("starts afresh with the next migration (--retry-to): its progress from 0 ms shows", () => {
    const sink = new EventLinesSink();
    const lines = linesOf(() => {
      sink.event({ kind: "phase", phase: "handshake", tMs: 0 });
      sink.event({ kind: "progress", progress: progress(800, 100) });
      sink.event({ kind: "progress", progress: progress(820, 200) });
      // The first migration fails here; the retry starts.
      sink.event({ kind: "phase", phase: "handshake", tMs: 0 });
      sink.event({ kind: "progress", progress: progress(5, 10) });
      sink.event({ kind: "progress", progress: progress(60, 20) });
    });
    expect(lines).toEqual([
      { event: "phase", phase: "handshake" },
      { event: "progress", ...progress(800, 100) },
      { event: "phase", phase: "handshake" },
      { event: "progress", ...progress(5, 10) },
      { event: "progress", ...progress(60, 20) },
    ]);
  });

  it("reports a device's late recovery after a rollback as a line the parent accepts", () => {
    const sink = new EventLinesSink();
    const problem = "device 00:05.0 could not return to RUNNING from STOP (EIO); it was reset";
    const lines = linesOf(() => {
      sink.event({ kind: "device-recovered", slot: "00:05.0", state: "RUNNING" });
      sink.event({ kind: "device-recovered", slot: "00:06.0", state: "RUNNING", problem });
    });
    expect(lines).toEqual([
      { event: "device-recovered", slot: "00:05.0", state: "RUNNING" },
      { event: "device-recovered", slot: "00:06.0", state: "RUNNING", problem },
    ]);
    for (const line of lines) expect(childEventSchema.safeParse(line).success).toBe(true);
  });
});
