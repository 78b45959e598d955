import { afterEach, describe, expect, it } from "vitest";
import type { MdevkitChild } from "../src/child.js";
import type { ChildEvent } from "../src/events.js";
import { followChildProgress } from "../src/progress.js";

const wasTty = process.stderr.isTTY;
afterEach(() => {
  process.stderr.isTTY = wasTty;
});

/** A child whose events the test sends. */
function fakeChild(): { child: MdevkitChild; send: (e: ChildEvent) => void } {
  let listener: ((e: ChildEvent) => void) | undefined;
  const child = {
    on: (fn: (e: ChildEvent) => void) => {
      listener = fn;
    },
  } as unknown as MdevkitChild;
  return { child, send: (e) => listener?.(e) };
}

const progress = (tMs: number, ramPages: number): ChildEvent => ({
  event: "progress",
  phase: "precopy",
  iteration: 1,
  wireBytes: ramPages * 2048,
  ramPages,
  tMs,
});

describe("progress lines when stderr is not a terminal (CI logs, pipes)", () => {
  it("say how much of RAM went once, as the bar does: never over 100 %", () => {
    process.stderr.isTTY = false;
    const lines: string[] = [];
    const { child, send } = fakeChild();
    const stop = followChildProgress(child, 1000, (l) => lines.push(l));
    send(progress(1000, 500));
    send(progress(2000, 999));
    // A later pass sends pages again: the count goes past RAM's.
    send(progress(3000, 1200));
    stop();
    expect(lines.map((l) => /(\d+)% of RAM once/.exec(l)?.[1])).toEqual(["50", "99", "100"]);
  });
});
