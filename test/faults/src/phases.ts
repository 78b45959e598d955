import type { Trigger } from "./fault-proxy.js";

/** A moment of a migration at which a fault is injected, as the proxy sees it go by. */
export interface Phase {
  /** Column name in the matrix. */
  readonly name: string;
  /** What is happening then (for docs/reliability.md and failure messages). */
  readonly when: string;
  /** The unit whose passage is the moment. */
  readonly trigger: Trigger;
}

/**
 * The phases of one migration, in order (docs/architecture.md "How data flows"). Each is a
 * record crossing the proxy, so a fault lands at the same point of the protocol whatever
 * the machine's speed; `--events` lines would arrive later than the bytes they describe.
 */
export const PHASES: readonly Phase[] = [
  {
    name: "handshake",
    when: "the source's HANDSHAKE (VM config and device manifest) reaches the target",
    trigger: { lane: "forward", type: "HANDSHAKE", occurrence: 0 },
  },
  {
    name: "setup",
    when: "the target's ACCEPT goes back (VM built; the source starts dirty logging, PRE_COPY)",
    trigger: { lane: "return", type: "ACCEPT", occurrence: 0 },
  },
  {
    name: "iter-1",
    when: "mid first precopy pass (the 4th RAM_PAGES record)",
    trigger: { lane: "forward", type: "RAM_PAGES", occurrence: 3 },
  },
  {
    name: "iter-2",
    when: "the first pass ended (its ITERATION went by); the first RAM record of the next pass",
    trigger: { lane: "forward", type: "RAM_PAGES", occurrence: 0, after: "ITERATION" },
  },
  {
    name: "stop-copy",
    when: "PRECOPY_END: the VM is paused, the rest of RAM and device state follow",
    trigger: { lane: "forward", type: "PRECOPY_END", occurrence: 0 },
  },
  {
    name: "after-END",
    when: "END (totals and digests) went by; the target checks and loads devices",
    trigger: { lane: "forward", type: "END", occurrence: 0 },
  },
  {
    name: "after-LOADED",
    when: "the target's LOADED goes back; it waits for GO",
    trigger: { lane: "return", type: "LOADED", occurrence: 0 },
  },
  {
    name: "after-GO",
    when: "the source's GO went by; the target may run the VM, the source never will",
    trigger: { lane: "forward", type: "GO", occurrence: 0 },
  },
];
