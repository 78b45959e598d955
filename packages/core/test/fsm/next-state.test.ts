import { describe, expect, it } from "vitest";
import {
  ALL_MIG_STATES,
  FsmError,
  isDirectArc,
  isStateSupported,
  LEGAL_FLAG_SETS,
  MigFlags,
  MigState,
  migFlagsName,
  migStateName,
  nextState,
  transitionPath,
} from "../../src/index.js";
import { ARC_TABLE, KERNEL_DOCUMENTED_PATHS } from "./kernel-paths.js";

const ALL = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;
const name = (s: number) => migStateName(s);
const byName = (n: string) => MigState[n as keyof typeof MigState];

/** Shortest path over the arc table (BFS) where no interior arc opens a new data session. */
function shortestLegalPath(flags: number, from: number, to: number): number | undefined {
  const p2p = (flags & MigFlags.P2P) !== 0;
  const pc = (flags & MigFlags.PRE_COPY) !== 0;
  const arcs = ARC_TABLE.filter((a) => a.when(p2p, pc)).map(
    (a) => [byName(a.from), byName(a.to)] as const,
  );
  const opensSession = (a: number, b: number) =>
    (a === MigState.STOP && (b === MigState.STOP_COPY || b === MigState.RESUMING)) ||
    (a === MigState.RUNNING && b === MigState.PRE_COPY) ||
    (a === MigState.RUNNING_P2P && b === MigState.PRE_COPY_P2P);
  const dist = new Map<number, number>([[from, 0]]);
  const queue = [from];
  while (queue.length > 0) {
    const at = queue.shift() as number;
    for (const [a, b] of arcs) {
      if (a !== at || dist.has(b)) continue;
      if (b !== to && opensSession(a, b)) continue;
      dist.set(b, (dist.get(at) as number) + 1);
      queue.push(b);
    }
  }
  return dist.get(to);
}

describe("nextState over every (flags, current, target)", () => {
  const cases = LEGAL_FLAG_SETS.flatMap((flags) =>
    ALL_MIG_STATES.flatMap((cur) => ALL_MIG_STATES.map((target) => ({ flags, cur, target }))),
  );

  it.each(cases)("flags $flags: $cur -> $target", ({ flags, cur, target }) => {
    const supported = isStateSupported(flags, cur) && isStateSupported(flags, target);
    const blocked =
      cur === MigState.STOP_COPY &&
      (target === MigState.PRE_COPY || target === MigState.PRE_COPY_P2P);
    if (!supported || blocked) {
      expect(() => nextState(flags, cur, target)).toThrow(FsmError);
      try {
        nextState(flags, cur, target);
      } catch (err) {
        expect((err as FsmError).code).toBe("EINVAL");
      }
      return;
    }
    const path = transitionPath(flags, cur, target);
    // Each step is a direct arc of the uAPI table for these flags.
    let at = cur;
    for (const step of path) {
      expect(isDirectArc(flags, at, step), `${name(at)} -> ${name(step)}`).toBe(true);
      at = step;
    }
    expect(at).toBe(target);
    // The kernel's walk is a shortest path among those that open no session mid-way.
    expect(path.length).toBe(shortestLegalPath(flags, cur, target));
    expect(path.length).toBeLessThanOrEqual(5);
  });
});

describe("the kernel's documented paths (all features)", () => {
  it.each(KERNEL_DOCUMENTED_PATHS)("%s", (doc) => {
    const states = doc.split(" -> ").map(byName);
    const [from, ...rest] = states;
    expect(transitionPath(ALL, from as number, rest[rest.length - 1] as number)).toEqual(rest);
  });

  it("blocks STOP_COPY -> PRE_COPY and STOP_COPY -> PRE_COPY_P2P (fixed loop: no hang)", () => {
    for (const flags of [MigFlags.STOP_COPY | MigFlags.PRE_COPY, ALL]) {
      for (const target of [MigState.PRE_COPY, MigState.PRE_COPY_P2P]) {
        if (!isStateSupported(flags, target)) continue;
        expect(() => nextState(flags, MigState.STOP_COPY, target)).toThrow(
          /no transition from STOP_COPY/,
        );
      }
    }
  });

  it("the longest path is 5 arcs: PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP -> RESUMING", () => {
    let longest = 0;
    for (const flags of LEGAL_FLAG_SETS) {
      for (const cur of ALL_MIG_STATES) {
        for (const target of ALL_MIG_STATES) {
          try {
            longest = Math.max(longest, transitionPath(flags, cur, target).length);
          } catch {
            // unsupported or blocked: covered above
          }
        }
      }
    }
    expect(longest).toBe(4);
    // The reference counts states: five states, four arcs.
    expect(transitionPath(ALL, MigState.PRE_COPY, MigState.RESUMING).map(name)).toEqual([
      "RUNNING",
      "RUNNING_P2P",
      "STOP",
      "RESUMING",
    ]);
  });
});

describe("direct arcs match the uAPI arc table for each flag set", () => {
  it.each(LEGAL_FLAG_SETS.map((flags) => ({ flags, label: migFlagsName(flags) })))(
    "$label",
    ({ flags }) => {
      const p2p = (flags & MigFlags.P2P) !== 0;
      const pc = (flags & MigFlags.PRE_COPY) !== 0;
      const expected = new Set(
        ARC_TABLE.filter((a) => a.when(p2p, pc)).map((a) => `${a.from}->${a.to}`),
      );
      const actual = new Set<string>();
      for (const a of ALL_MIG_STATES)
        for (const b of ALL_MIG_STATES)
          if (isDirectArc(flags, a, b)) actual.add(`${name(a)}->${name(b)}`);
      expect([...actual].sort()).toEqual([...expected].sort());
    },
  );
});

describe("invalid inputs", () => {
  it.each([
    { what: "negative current", cur: -1, target: MigState.STOP },
    { what: "current out of range", cur: 8, target: MigState.STOP },
    { what: "target out of range", cur: MigState.RUNNING, target: 99 },
    { what: "fractional target", cur: MigState.RUNNING, target: 1.5 },
    { what: "NaN target", cur: MigState.RUNNING, target: Number.NaN },
    { what: "ERROR as target", cur: MigState.RUNNING, target: MigState.ERROR },
    { what: "ERROR as current", cur: MigState.ERROR, target: MigState.RUNNING },
  ])("$what is EINVAL", ({ cur, target }) => {
    for (const flags of LEGAL_FLAG_SETS) {
      expect(() => nextState(flags, cur, target)).toThrow(
        expect.objectContaining({ code: "EINVAL", errno: 22 }),
      );
    }
  });

  it("ERROR is never supported, whatever the flags", () => {
    for (const flags of [0, 1, 7, 0xffff, -1, 0xffffffff])
      expect(isStateSupported(flags, MigState.ERROR)).toBe(flags === -1 || flags === 0xffffffff);
    // Only a flags word with every bit set "supports" ERROR; no legal set does.
    for (const flags of LEGAL_FLAG_SETS)
      expect(isStateSupported(flags, MigState.ERROR)).toBe(false);
  });

  it("a device without P2P cannot be asked for RUNNING_P2P; without PRE_COPY not for PRE_COPY", () => {
    expect(() => nextState(MigFlags.STOP_COPY, MigState.RUNNING, MigState.RUNNING_P2P)).toThrow(
      /not supported/,
    );
    expect(() =>
      nextState(MigFlags.STOP_COPY | MigFlags.P2P, MigState.RUNNING, MigState.PRE_COPY),
    ).toThrow(/not supported/);
  });
});
