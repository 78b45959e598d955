import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PeerDeadline } from "../../src/engine/peer-deadline.js";
import type { TargetChannel } from "../../src/transport/channel.js";

/** A channel that records why it was destroyed. */
function channel(): { ch: TargetChannel; destroyed: unknown[] } {
  const destroyed: unknown[] = [];
  const ch = { peer: "tcp://peer", destroy: (err?: unknown) => destroyed.push(err) };
  return { ch: ch as unknown as TargetChannel, destroyed };
}

describe("PeerDeadline", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("re-armed alike, counts from the last arm, not the first", () => {
    const { ch, destroyed } = channel();
    const d = new PeerDeadline(ch);
    d.arm(100, "no more of the VM's state");
    vi.advanceTimersByTime(60);
    d.arm(100, "no more of the VM's state");
    vi.advanceTimersByTime(60);
    expect(destroyed).toEqual([]);
    d.arm(100, "no more of the VM's state");
    vi.advanceTimersByTime(99);
    expect(destroyed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(destroyed).toHaveLength(1);
    expect(String(d.expired)).toMatch(/no more of the VM's state from tcp:\/\/peer within 100 ms/);
  });

  it("re-armed with another wait, expires after that one and names it", () => {
    const { ch, destroyed } = channel();
    const d = new PeerDeadline(ch);
    d.arm(100, "no HANDSHAKE");
    d.arm(300, "no more of the VM's state");
    vi.advanceTimersByTime(299);
    expect(destroyed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(String(d.expired)).toMatch(/no more of the VM's state .* within 300 ms/);
  });

  it("met, stays quiet; armed again alike after that, counts afresh", () => {
    const { ch, destroyed } = channel();
    const d = new PeerDeadline(ch);
    d.arm(100, "no GO");
    d.met();
    vi.advanceTimersByTime(1000);
    expect(destroyed).toEqual([]);
    d.arm(100, "no GO");
    vi.advanceTimersByTime(100);
    expect(destroyed).toHaveLength(1);
  });
});
