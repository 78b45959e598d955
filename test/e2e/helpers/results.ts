// Typed views of the `result` events the CLI prints, and the checks every successful
// migration in these tests must pass.
import type { MdevkitChild } from "@mdevkit/cli";
import { expect } from "vitest";

/** The source's `result` (MigrationResult plus the plugins' device descriptions). */
export interface SourceSummary {
  readonly outcome: string;
  readonly totalTimeMs: number;
  readonly downtimeMs: number;
  readonly ramBytes: number;
  readonly wireBytes: number;
  readonly ramDigest: string;
  readonly ramSha256?: string;
  readonly maxThrottle: number;
  readonly iterations: readonly {
    readonly iteration: number;
    readonly throttle: number;
    readonly expectedDowntimeMs: number;
  }[];
  readonly devices: Readonly<Record<string, unknown>>;
}

/** The target's `result` (see commands/listen.ts). */
export interface TargetSummary {
  readonly vm: string;
  readonly ramDigest: string;
  readonly ramSha256?: string;
  readonly bytesReceived: number;
  readonly endToResumedMs: number;
  readonly vcpuWritesAfterRun: number;
  readonly devices: Readonly<Record<string, unknown>>;
}

function resultOf(child: MdevkitChild, role: "source" | "target"): Record<string, unknown> {
  const results = child.events.filter((e) => e.event === "result" && e.role === role);
  if (results.length !== 1) {
    const seen = child.events.filter((e) => e.event !== "progress").map((e) => JSON.stringify(e));
    throw new Error(
      `expected one ${role} result, got ${results.length}; the child printed:\n${seen.join("\n")}`,
    );
  }
  const [only] = results;
  if (only?.event !== "result") throw new Error("unreachable");
  return only.result;
}

/** The source process's one `result`. */
export function sourceResult(child: MdevkitChild): SourceSummary {
  return resultOf(child, "source") as unknown as SourceSummary;
}

/** The target process's one `result`. */
export function targetResult(child: MdevkitChild): TargetSummary {
  return resultOf(child, "target") as unknown as TargetSummary;
}

/**
 * The VM arrived whole: all of guest RAM hashes the same on both sides (SHA-256 taken at
 * the source's pause and before the target resumed), the END digest matches, and every
 * device's state as its plugin describes it is equal.
 */
export function expectSameVm(source: SourceSummary, target: TargetSummary): void {
  expect(source.outcome).toBe("completed");
  expect(source.ramSha256).toMatch(/^[0-9a-f]{64}$/);
  expect(target.ramSha256).toBe(source.ramSha256);
  expect(target.ramDigest).toBe(source.ramDigest);
  expect(Object.keys(source.devices).length).toBeGreaterThan(0);
  for (const state of Object.values(source.devices)) expect(state).not.toBeNull();
  expect(target.devices).toEqual(source.devices);
}
