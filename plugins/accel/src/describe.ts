/**
 * The device's migrated state as plain data, for comparisons (conformance, tools, tests)
 * and a self-consistency check.
 */
import type { AccelDriver } from "./accel-driver.js";
import type { AccelDeviceState } from "./device-state.js";
import type { RingState } from "./ring.js";

/** A device, comparable with `toEqual`. */
export interface AccelDescription extends AccelDeviceState {
  readonly personality: string;
  readonly profile: string;
  /** Jobs in engine slots (0 whenever the device is stopped). */
  readonly inFlight: number;
}

/** Describes `driver`'s device. */
export function describeAccel(driver: AccelDriver): AccelDescription {
  return {
    personality: driver.personality.name,
    profile: driver.profile.name,
    inFlight: driver.device.inFlight,
    ...driver.device.snapshot(),
  };
}

/** Violated invariants of a description (empty when healthy). */
export function accelInvariants(d: AccelDescription): string[] {
  const broken: string[] = [];
  const rings: [string, RingState][] = [
    ["EQ", d.eq],
    ["AEQ", d.aeq],
    ...d.qps.flatMap((q): [string, RingState][] => [
      [`qp${q.qpn}.sq`, q.sq],
      [`qp${q.qpn}.cq`, q.cq],
    ]),
  ];
  for (const [name, r] of rings) {
    if (r.head >= r.depth || r.tail >= r.depth) broken.push(`${name} pointers outside depth`);
    if (r.full && r.head !== r.tail) broken.push(`${name} full with head != tail`);
    if (r.phase !== 0 && r.phase !== 1) broken.push(`${name} phase ${r.phase}`);
  }
  return broken;
}
