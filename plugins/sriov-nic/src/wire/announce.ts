/**
 * The self-announce of a migrated-in VF: QEMU's `qemu_announce_self` schedule (a RARP
 * now, then after `initial`, then each `step` longer, `rounds` in all, never more than
 * `max` apart). QEMU does this only for its own NIC models, not for a VFIO VF; here the
 * target's PF does it for the VF so the switch learns where the VF's MAC went.
 */
import { BROADCAST_MAC, ETH_P_RARP } from "../frame.js";

/** Announce timing, in ticks (ms), QEMU's defaults. */
export interface AnnounceParams {
  readonly initial: number;
  readonly max: number;
  readonly rounds: number;
  readonly step: number;
}

/** QEMU's `DEFAULT_MIGRATE_ANNOUNCE_*`. */
export const DEFAULT_ANNOUNCE: AnnounceParams = { initial: 50, max: 550, rounds: 5, step: 100 };

/** The 60-byte RARP QEMU sends: broadcast, source and target hardware address = the MAC. */
export function rarpFrame(mac: number): Uint8Array {
  const out = new Uint8Array(60);
  const v = new DataView(out.buffer);
  v.setUint16(0, Math.floor(BROADCAST_MAC / 2 ** 32));
  v.setUint32(2, BROADCAST_MAC % 2 ** 32);
  v.setUint16(6, Math.floor(mac / 2 ** 32));
  v.setUint32(8, mac % 2 ** 32);
  v.setUint16(12, ETH_P_RARP);
  v.setUint16(14, 1); // hardware type: Ethernet
  v.setUint16(16, 0x0800); // protocol: IPv4
  v.setUint8(18, 6);
  v.setUint8(19, 4);
  v.setUint16(20, 3); // RARP request reverse
  v.setUint16(22, Math.floor(mac / 2 ** 32));
  v.setUint32(24, mac % 2 ** 32);
  v.setUint16(32, Math.floor(mac / 2 ** 32));
  v.setUint32(34, mac % 2 ** 32);
  return out;
}

/** Counts ticks and says when the next RARP is due. */
export class Announcer {
  readonly #p: AnnounceParams;
  #round = 0;
  #wait = 0;

  constructor(params: AnnounceParams) {
    this.#p = params;
  }

  /** Rounds sent so far. */
  get sent(): number {
    return this.#round;
  }

  /** Whether all rounds are out. */
  get done(): boolean {
    return this.#round >= this.#p.rounds;
  }

  /** Advances one tick; true when a RARP must go out now. */
  tick(): boolean {
    if (this.done) return false;
    if (this.#wait > 0) {
      this.#wait--;
      return false;
    }
    this.#round++;
    this.#wait = Math.min(this.#p.initial + (this.#round - 1) * this.#p.step, this.#p.max) - 1;
    return true;
  }
}
