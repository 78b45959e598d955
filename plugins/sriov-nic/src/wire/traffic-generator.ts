/**
 * The far end of the VF's traffic: a deterministic generator of 16 flows. Packet `seq`
 * is a pure function of (seed, seq) — its flow, its length — so two runs send the same
 * packets, and nothing about the generator needs to travel with a migration.
 */
import { ETH_P_IP, type WireFrame } from "../frame.js";
import { draw } from "../mix.js";
import type { FiveTuple } from "../toeplitz.js";

/** Flows the generator spreads packets over. */
export const FLOW_COUNT = 16;
/** Flows tagged with a VLAN: flow → VLAN id. */
export const VLAN_FLOWS: Readonly<Record<number, number>> = { 12: 100, 13: 101 };
/** Flows sent to multicast groups: flow → group MAC. */
export const MULTICAST_FLOWS: Readonly<Record<number, number>> = {
  14: 0x01005e01010e,
  15: 0x01005e01012f,
};

/** One flow's addressing. */
export interface Flow {
  readonly index: number;
  readonly tuple: FiveTuple;
  readonly vlan: number;
  /** The VF's MAC, or the flow's multicast group. */
  readonly dstMac: number;
  readonly srcMac: number;
}

/** Options of a {@link TrafficGenerator}. */
export interface TrafficGeneratorOptions {
  readonly seed: number;
  /** The VF's MAC: unicast flows are addressed to it. */
  readonly vfMac: number;
}

/** Deterministic 16-flow traffic toward one VF. */
export class TrafficGenerator {
  readonly seed: number;
  readonly flows: readonly Flow[];

  constructor(options: TrafficGeneratorOptions) {
    this.seed = options.seed >>> 0;
    this.flows = Array.from({ length: FLOW_COUNT }, (_, f) => {
      const a = draw(this.seed, 0x100 + f, 0);
      const b = draw(this.seed, 0x100 + f, 1);
      return {
        index: f,
        tuple: {
          srcIp: (0x0a000000 | (a & 0xffff)) >>> 0,
          dstIp: 0x0a010002,
          srcPort: 1024 + (b % 60000),
          dstPort: 5000 + f,
          proto: f % 2 === 0 ? 6 : 17,
        },
        vlan: VLAN_FLOWS[f] ?? 0,
        dstMac: MULTICAST_FLOWS[f] ?? options.vfMac,
        srcMac: 0x02aa00000000 + (a >>> 8),
      };
    });
  }

  /** Flow of packet `seq`. */
  flowOf(seq: number): number {
    return draw(this.seed, 1, seq) % FLOW_COUNT;
  }

  /** Packet `seq`: 64 to 1500 bytes on flow {@link flowOf}. */
  packet(seq: number): WireFrame {
    const flow = this.flows[this.flowOf(seq)]!;
    return {
      seq,
      flow: flow.index,
      dstMac: flow.dstMac,
      srcMac: flow.srcMac,
      vlan: flow.vlan,
      ethertype: ETH_P_IP,
      length: 64 + (draw(this.seed, 2, seq) % 1437),
      tuple: flow.tuple,
    };
  }
}
