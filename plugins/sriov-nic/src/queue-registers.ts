/**
 * The per-queue register blocks (RX at 0x2800, TX at 0x3800, queue 1 at +0x100): which
 * offsets they hold, and what reads and writes of them do. Ring bases are 128-byte
 * aligned, lengths multiples of 128, head and tail indexes within the ring.
 */
import { type NicState, ringDescs } from "./nic-state.js";
import { QUEUE_ENABLE, QUEUE_STRIDE, Reg } from "./regs.js";

/** Decodes a per-queue register offset into (queue, queue-0 offset, tx?). */
export function queueOf(offset: number): { queue: 0 | 1; reg: number; tx: boolean } | undefined {
  for (const [base, tx] of [
    [Reg.RDBAL0, false],
    [Reg.TDBAL0, true],
  ] as const) {
    const rel = offset - base;
    if (rel < 0 || rel >= 2 * QUEUE_STRIDE) continue;
    const queue = (rel >= QUEUE_STRIDE ? 1 : 0) as 0 | 1;
    const reg = offset - queue * QUEUE_STRIDE;
    const known = tx
      ? [
          Reg.TDBAL0,
          Reg.TDBAH0,
          Reg.TDLEN0,
          Reg.TDH0,
          Reg.TDT0,
          Reg.TXDCTL0,
          Reg.TDWBAL0,
          Reg.TDWBAH0,
        ]
      : [Reg.RDBAL0, Reg.RDBAH0, Reg.RDLEN0, Reg.SRRCTL0, Reg.RDH0, Reg.RDT0, Reg.RXDCTL0];
    if ((known as readonly number[]).includes(reg)) return { queue, reg, tx };
  }
  return undefined;
}

/** A guest read of a per-queue register (`reg` is the queue-0 offset). */
export function readQueueReg(state: NicState, queue: 0 | 1, reg: number, tx: boolean): number {
  if (tx) {
    const t = state.tx[queue];
    switch (reg) {
      case Reg.TDBAL0:
        return t.baseGpa % 2 ** 32;
      case Reg.TDBAH0:
        return Math.floor(t.baseGpa / 2 ** 32);
      case Reg.TDLEN0:
        return t.lenBytes;
      case Reg.TDH0:
        return t.head;
      case Reg.TDT0:
        return t.tail;
      case Reg.TXDCTL0:
        return t.enabled ? QUEUE_ENABLE : 0;
      case Reg.TDWBAL0:
        return t.headWb % 2 ** 32;
      default:
        return Math.floor(t.headWb / 2 ** 32);
    }
  }
  const r = state.rx[queue];
  switch (reg) {
    case Reg.RDBAL0:
      return r.baseGpa % 2 ** 32;
    case Reg.RDBAH0:
      return Math.floor(r.baseGpa / 2 ** 32);
    case Reg.RDLEN0:
      return r.lenBytes;
    case Reg.SRRCTL0:
      return r.srrctl;
    case Reg.RDH0:
      return r.head;
    case Reg.RDT0:
      return r.tail;
    default:
      return r.enabled ? QUEUE_ENABLE : 0;
  }
}

/** A guest write of a per-queue register (`reg` is the queue-0 offset). */
export function writeQueueReg(
  state: NicState,
  queue: 0 | 1,
  reg: number,
  tx: boolean,
  value: number,
): void {
  if (tx) {
    const t = state.tx[queue];
    const n = ringDescs(t.lenBytes);
    switch (reg) {
      case Reg.TDBAL0:
        t.baseGpa = Math.floor(t.baseGpa / 2 ** 32) * 2 ** 32 + ((value & ~0x7f) >>> 0);
        return;
      case Reg.TDBAH0:
        t.baseGpa = (value & 0xfffff) * 2 ** 32 + (t.baseGpa % 2 ** 32);
        return;
      case Reg.TDLEN0:
        t.lenBytes = Math.min(value & ~0x7f, 4096 * 16);
        return;
      case Reg.TDH0:
        t.head = n === 0 ? 0 : value % n;
        return;
      case Reg.TDT0:
        t.tail = n === 0 ? 0 : value % n;
        return;
      case Reg.TXDCTL0:
        t.enabled = (value & QUEUE_ENABLE) !== 0;
        return;
      case Reg.TDWBAL0:
        t.headWb = Math.floor(t.headWb / 2 ** 32) * 2 ** 32 + ((value & ~0x2) >>> 0);
        return;
      default:
        t.headWb = (value & 0xfffff) * 2 ** 32 + (t.headWb % 2 ** 32);
        return;
    }
  }
  const r = state.rx[queue];
  const n = ringDescs(r.lenBytes);
  switch (reg) {
    case Reg.RDBAL0:
      r.baseGpa = Math.floor(r.baseGpa / 2 ** 32) * 2 ** 32 + ((value & ~0x7f) >>> 0);
      return;
    case Reg.RDBAH0:
      r.baseGpa = (value & 0xfffff) * 2 ** 32 + (r.baseGpa % 2 ** 32);
      return;
    case Reg.RDLEN0:
      r.lenBytes = Math.min(value & ~0x7f, 4096 * 16);
      return;
    case Reg.SRRCTL0:
      r.srrctl = value;
      return;
    case Reg.RDH0:
      r.head = n === 0 ? 0 : value % n;
      return;
    case Reg.RDT0:
      r.tail = n === 0 ? 0 : value % n;
      return;
    default:
      r.enabled = (value & QUEUE_ENABLE) !== 0;
      return;
  }
}
