import type { WireFaultKind } from "./fault-proxy.js";

/** A process fault: a signal to one of the two migrating processes. */
export interface ProcessFault {
  readonly kind: "process";
  readonly who: "source" | "target";
  /** SIGKILL: the process is gone. SIGSTOP: it freezes, then is continued (see cell.ts). */
  readonly signal: "SIGKILL" | "SIGSTOP";
}

/** A fault on the wire, injected by the proxy. */
export interface WireFaultSpec {
  readonly kind: "wire";
  readonly wire: Exclude<WireFaultKind, "observe">;
}

/** One row of the matrix. */
export interface Fault {
  readonly name: string;
  readonly what: string;
  readonly spec: ProcessFault | WireFaultSpec;
}

/** Every fault the harness injects: the rows of the matrix. */
export const FAULTS: readonly Fault[] = [
  { name: "drop", what: "the connection is reset", spec: { kind: "wire", wire: "drop" } },
  {
    name: "stall",
    what: "no byte moves either way until the source decided (or a cap)",
    spec: { kind: "wire", wire: "stall" },
  },
  {
    name: "corrupt",
    what: "one bit of the record flipped",
    spec: { kind: "wire", wire: "corrupt" },
  },
  {
    name: "duplicate",
    what: "the record delivered twice",
    spec: { kind: "wire", wire: "duplicate" },
  },
  {
    name: "reorder",
    what: "the next record overtakes it",
    spec: { kind: "wire", wire: "reorder" },
  },
  {
    name: "throttle",
    what: "both ways trickle at 64 KiB/s for 3 s",
    spec: { kind: "wire", wire: "throttle" },
  },
  {
    name: "kill-target",
    what: "SIGKILL of the listen process",
    spec: { kind: "process", who: "target", signal: "SIGKILL" },
  },
  {
    name: "kill-source",
    what: "SIGKILL of the migrate process",
    spec: { kind: "process", who: "source", signal: "SIGKILL" },
  },
  {
    name: "stop-target",
    what: "SIGSTOP of the listen process until the source decided (or a cap), then SIGCONT",
    spec: { kind: "process", who: "target", signal: "SIGSTOP" },
  },
  {
    name: "stop-source",
    what: "SIGSTOP of the migrate process past every timeout, then SIGCONT",
    spec: { kind: "process", who: "source", signal: "SIGSTOP" },
  },
];
