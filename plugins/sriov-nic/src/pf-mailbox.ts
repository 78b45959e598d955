/**
 * The PF side of the PF↔VF mailbox: what the PF does with each request type the VF
 * driver sends (igb/ixgbe `E1000_VF_*` messages), within the PF's policy for the VF.
 */
import { isMulticast } from "./frame.js";
import type { NicState } from "./nic-state.js";
import type { PfCapabilities, PfPolicy } from "./pf-policy.js";
import {
  MAX_MC_ENTRIES,
  MBX_API,
  Mbx,
  MbxMsg,
  MSG_ID_SHIFT,
  MSGTYPE_ACK,
  MSGTYPE_CTS,
  MSGTYPE_NACK,
} from "./regs.js";

/**
 * The PF's handler of the VF's pending mailbox request (the PF side of igb's VF
 * mailbox): applies it within the PF's policy, writes the reply (ACK or NACK, CTS for a
 * reset) into the mailbox memory, and raises PFSTS. Returns what it handled, for tracing.
 */
export function pfServeRequest(
  state: NicState,
  pf: PfPolicy,
  caps: PfCapabilities,
): { id: number; type: number; acked: boolean } {
  const m = state.mailbox;
  const w0 = m.mem[0]!;
  const type = w0 & 0xff;
  const info = (w0 >>> 8) & 0xff;
  const id = (w0 >>> MSG_ID_SHIFT) & 0xff;
  const f = state.filters;
  let ok = true;
  let extra = 0;
  switch (type) {
    case MbxMsg.RESET:
      m.mem[1] = Math.floor(f.mac / 2 ** 16) >>> 0;
      m.mem[2] = (f.mac % 2 ** 16) << 16;
      extra = MSGTYPE_CTS;
      break;
    case MbxMsg.SET_MAC_ADDR: {
      const mac = m.mem[1]! * 2 ** 16 + (m.mem[2]! >>> 16);
      ok = (pf.trust || mac === pf.adminMac) && !isMulticast(mac) && mac !== 0;
      if (ok) f.mac = mac;
      break;
    }
    case MbxMsg.SET_MULTICAST: {
      ok = info <= MAX_MC_ENTRIES;
      if (ok) {
        const hashes: number[] = [];
        for (let i = 0; i < info; i++)
          hashes.push((m.mem[1 + (i >> 1)]! >>> ((i & 1) * 16)) & 0xfff);
        f.mcHashes = hashes;
      }
      break;
    }
    case MbxMsg.SET_VLAN: {
      const vid = m.mem[1]! & 0xfff;
      ok = vid > 0 && vid < 4095 && (pf.portVlan === 0 || pf.trust);
      if (ok) {
        if (info & 1) f.vlans[vid >> 3]! |= 1 << (vid & 7);
        else f.vlans[vid >> 3]! &= ~(1 << (vid & 7));
      }
      break;
    }
    case MbxMsg.SET_LPE:
      break;
    case MbxMsg.API_NEGOTIATE:
      ok = m.mem[1]! <= Math.min(MBX_API, caps.mbxApi);
      break;
    case MbxMsg.GET_QUEUES:
      m.mem[1] = 2;
      m.mem[2] = 2;
      break;
    default:
      ok = false;
  }
  m.mem[0] = (w0 & 0x00ff_ffff) | (ok ? MSGTYPE_ACK : MSGTYPE_NACK) | extra;
  m.ctrl = (m.ctrl & ~Mbx.REQ) | Mbx.PFSTS | Mbx.PFACK;
  m.inFlight = "pf-to-vf";
  m.reqTick = 0;
  return { id, type, acked: ok };
}
