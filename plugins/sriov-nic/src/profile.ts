/**
 * Workload and ring-size profiles. The realistic sizes make unit tests slow, so a small
 * `test` profile keeps them fast while exercising the same paths (ring wrap, partial
 * packets, mailbox traffic).
 */

/** One profile: ring sizes and the per-tick rates of the wire and the guest driver. */
export interface NicProfile {
  /** Profile name, as given in the device options. */
  readonly name: ProfileName;
  /** Descriptors per RX ring (16 bytes each). */
  readonly rxRingDescs: number;
  /** Descriptors per TX ring. */
  readonly txRingDescs: number;
  /** Packets the wire sends toward the VF per tick (1 tick = 1 ms of simulated time). */
  readonly rxRate: number;
  /** Packets the guest driver enqueues per tick (split over the two TX queues). */
  readonly txRate: number;
  /** Ticks between the guest's SET_MULTICAST requests (SET_VLAN every twice as long). */
  readonly mailboxPeriod: number;
}

/** Profile names accepted in the `profile` device option. */
export const PROFILE_NAMES = ["test", "default", "heavy"] as const;
/** A profile name. */
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The profiles: `default` is the model's, `heavy` approaches 10 GbE line rate (≈ 813 packets per 1 ms). */
export const PROFILES: Readonly<Record<ProfileName, NicProfile>> = {
  test: {
    name: "test",
    rxRingDescs: 64,
    txRingDescs: 64,
    rxRate: 8,
    txRate: 8,
    mailboxPeriod: 20,
  },
  default: {
    name: "default",
    rxRingDescs: 256,
    txRingDescs: 256,
    rxRate: 8,
    txRate: 8,
    mailboxPeriod: 500,
  },
  heavy: {
    name: "heavy",
    rxRingDescs: 512,
    txRingDescs: 1024,
    rxRate: 813,
    txRate: 8,
    mailboxPeriod: 500,
  },
};
