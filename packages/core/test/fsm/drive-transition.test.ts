import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ALL_MIG_STATES,
  arcSessionEffect,
  driveTransition,
  FsmError,
  isStateSupported,
  LEGAL_FLAG_SETS,
  MigFlags,
  MigState,
  type MigState as MigStateT,
  migStateName,
  transitionPath,
} from "../../src/index.js";
import { ScriptedDriver } from "../helpers/scripted-driver.js";

const ALL = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;
const runs = Number(process.env.MDEVKIT_FC_RUNS ?? 300);

describe("driveTransition", () => {
  it("does nothing when target == current", async () => {
    const driver = new ScriptedDriver(ALL);
    const result = await driveTransition(driver, MigState.RUNNING);
    expect(result).toEqual({ state: MigState.RUNNING, path: [], stream: undefined });
    expect(driver.arcs).toEqual([]);
  });

  it("walks the kernel's path one arc at a time and returns the final arc's stream", async () => {
    const driver = new ScriptedDriver(ALL);
    const result = await driveTransition(driver, MigState.STOP_COPY);
    expect(driver.arcs).toEqual([
      [MigState.RUNNING, MigState.RUNNING_P2P],
      [MigState.RUNNING_P2P, MigState.STOP],
      [MigState.STOP, MigState.STOP_COPY],
    ]);
    expect(result.state).toBe(MigState.STOP_COPY);
    expect(result.stream).toBeDefined();
  });

  it("stops at the first failing arc, leaving the last committed state", async () => {
    const driver = new ScriptedDriver(ALL);
    driver.failArc = "RUNNING_P2P->STOP";
    await expect(driveTransition(driver, MigState.RESUMING)).rejects.toMatchObject({ code: "EIO" });
    expect(driver.getState()).toBe(MigState.RUNNING_P2P);
    expect(driver.arcs).toEqual([[MigState.RUNNING, MigState.RUNNING_P2P]]);
  });

  it("a failure on the very first arc leaves the starting state", async () => {
    const driver = new ScriptedDriver(MigFlags.STOP_COPY);
    driver.failArc = "RUNNING->STOP";
    await expect(driveTransition(driver, MigState.STOP_COPY)).rejects.toThrow(/scripted failure/);
    expect(driver.getState()).toBe(MigState.RUNNING);
  });

  it("a driver that breaks mid-path is left in ERROR, and only reset recovers it", async () => {
    const driver = new ScriptedDriver(ALL);
    driver.failArc = "STOP->RESUMING";
    driver.failIntoError = true;
    await expect(driveTransition(driver, MigState.RESUMING)).rejects.toThrow();
    expect(driver.getState()).toBe(MigState.ERROR);
    await expect(driveTransition(driver, MigState.RUNNING)).rejects.toMatchObject({
      code: "EINVAL",
    });
    await driver.reset();
    expect((await driveTransition(driver, MigState.STOP)).state).toBe(MigState.STOP);
  });

  it("rejects a data stream returned by an interior arc", async () => {
    const driver = new ScriptedDriver(ALL);
    driver.streamOnArc = "RUNNING->RUNNING_P2P";
    const err = await driveTransition(driver, MigState.STOP).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FsmError);
    expect(err).toMatchObject({ code: "EINVAL", from: MigState.RUNNING_P2P, to: MigState.STOP });
    // As in the kernel drivers' step loops, the arc itself was committed before the WARN.
    expect(driver.getState()).toBe(MigState.RUNNING_P2P);
  });

  it("refuses an unsupported target without touching the device", async () => {
    const driver = new ScriptedDriver(MigFlags.STOP_COPY);
    await expect(driveTransition(driver, MigState.PRE_COPY)).rejects.toMatchObject({
      code: "EINVAL",
    });
    expect(driver.arcs).toEqual([]);
  });
});

describe("driveTransition paths (property)", () => {
  const supportedPair = fc.constantFrom(...LEGAL_FLAG_SETS).chain((flags) => {
    const states = ALL_MIG_STATES.filter((s) => isStateSupported(flags, s));
    return fc.tuple(fc.constant(flags), fc.constantFrom(...states), fc.constantFrom(...states));
  });

  it("ends in target, or fails before any arc; no interior arc opens a data session", async () => {
    await fc.assert(
      fc.asyncProperty(supportedPair, async ([flags, start, target]) => {
        const driver = new ScriptedDriver(flags);
        driver.state = start as MigStateT;
        let result: Awaited<ReturnType<typeof driveTransition>>;
        try {
          result = await driveTransition(driver, target as MigStateT);
        } catch (err) {
          // The only refusal for supported states: STOP_COPY -> PRE_COPY(_P2P), before any arc.
          expect(start).toBe(MigState.STOP_COPY);
          expect([MigState.PRE_COPY, MigState.PRE_COPY_P2P]).toContain(target);
          expect(driver.arcs).toEqual([]);
          expect((err as FsmError).code).toBe("EINVAL");
          return;
        }
        expect(result.state).toBe(target);
        expect(driver.getState()).toBe(target);
        expect(result.path.length).toBeLessThanOrEqual(4);
        expect(result.path).toEqual(transitionPath(flags, start, target));
        driver.arcs.forEach(([from, to], i) => {
          const interior = i < driver.arcs.length - 1;
          const effect = arcSessionEffect(from, to);
          if (interior) expect(effect.startsWith("opens")).toBe(false);
        });
      }),
      { numRuns: runs },
    );
  });

  it("a failure injected on any arc leaves exactly the state before that arc", async () => {
    await fc.assert(
      fc.asyncProperty(supportedPair, fc.nat(), async ([flags, start, target], pick) => {
        let path: MigStateT[];
        try {
          path = transitionPath(flags, start, target);
        } catch {
          return;
        }
        fc.pre(path.length > 0);
        const failAt = pick % path.length;
        const before = (failAt === 0 ? start : path[failAt - 1]) as MigStateT;
        const driver = new ScriptedDriver(flags);
        driver.state = start as MigStateT;
        driver.failArc = `${migStateName(before)}->${migStateName(path[failAt] as number)}`;
        await expect(driveTransition(driver, target as MigStateT)).rejects.toThrow();
        expect(driver.getState()).toBe(before);
        expect(driver.arcs.length).toBe(failAt);
      }),
      { numRuns: runs },
    );
  });
});
