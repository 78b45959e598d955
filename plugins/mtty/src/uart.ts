/**
 * One serial port: a 16550-style UART plus mdevkit's DMA receive ring.
 *
 * This file is pure device behaviour. It knows nothing about migration states: the
 * driver decides *whether* the device may act (it refuses guest accesses and drops
 * wire data while stopped) and this class decides *what* the device does. The state
 * lives in a plain {@link PortState} record so the migration code can serialize and
 * replace it wholesale — that is what makes loading all-or-nothing.
 */

/** Size of the receive FIFO, as in a 16550 (and mtty.c's MAX_FIFO_SIZE). */
export const FIFO_SIZE = 16;

/** Bytes of BAR0 each port occupies: 8 UART registers, then mdevkit's ring registers. */
export const PORT_WINDOW = 0x20;

/** Largest DMA ring a guest may program; keeps a bad guest from claiming huge IOVA spans. */
export const RING_MAX_BYTES = 1 << 20;

/**
 * Register offsets inside one port's window. Offsets 0–7 are the 16550's 8-bit
 * registers (several share an offset and are told apart by direction or LCR.DLAB);
 * 0x10–0x1c are mdevkit's 32-bit DMA ring registers (a real 16550 has none).
 */
export const Reg = {
  /** Read: receive buffer (RBR). Write: transmit holding (THR). DLAB=1: divisor low (DLL). */
  RBR_THR: 0,
  /** Interrupt enable (IER). DLAB=1: divisor high (DLM). */
  IER: 1,
  /** Read: interrupt identification (IIR). Write: FIFO control (FCR). */
  IIR_FCR: 2,
  /** Line control (LCR); bit 7 is DLAB. */
  LCR: 3,
  /** Modem control (MCR); bit 4 is loopback. */
  MCR: 4,
  /** Line status (LSR); read-only. */
  LSR: 5,
  /** Modem status (MSR); read-only. */
  MSR: 6,
  /** Scratch (SCR): plain storage, which is how drivers probe for a UART. */
  SCR: 7,
  /** DMA ring base IOVA, low 32 bits. */
  RING_BASE_LO: 0x10,
  /** DMA ring base IOVA, high bits (21 used: IOVAs stay below 2^53). */
  RING_BASE_HI: 0x14,
  /**
   * DMA ring size in bytes; 0 disables the ring. Writing it re-arms the ring (head = 0,
   * fault cleared). Reads have bit 31 ({@link RING_FAULT_BIT}) set while a DMA fault halts the ring.
   */
  RING_SIZE: 0x18,
  /** Read-only: offset in the ring where the device writes the next byte. */
  RING_HEAD: 0x1c,
} as const;

/** IER bits (the low four are the only ones a 16550 implements). */
export const IER = { RDI: 0x01, THRI: 0x02, RLSI: 0x04, MSI: 0x08 } as const;
/** LSR bits the model produces. */
export const LSR = { DR: 0x01, OE: 0x02, THRE: 0x20, TEMT: 0x40 } as const;
/** MCR bits; LOOP routes THR back into the receiver, as on real hardware. */
export const MCR = { DTR: 0x01, RTS: 0x02, OUT1: 0x04, OUT2: 0x08, LOOP: 0x10 } as const;
/** FCR bits kept in state: FIFO enable and the two trigger-level bits. */
export const FCR = { ENABLE: 0x01, CLEAR_RX: 0x02, CLEAR_TX: 0x04, TRIGGER: 0xc0 } as const;
/** IIR values, highest priority first; bit 0 set means "nothing pending". */
export const IIR = { NONE: 0x01, RLS: 0x06, RDA: 0x04, THRE: 0x02, FIFO_ON: 0xc0 } as const;
/** LCR bit that switches offsets 0/1 to the divisor latch. */
export const LCR_DLAB = 0x80;

/** Mask of writable bits per register, also the valid range a stream may carry. */
export const WRITABLE = { IER: 0x0f, MCR: 0x1f, FCR: FCR.ENABLE | FCR.TRIGGER } as const;
/** Bits of {@link PortState.status}. */
export const STATUS = { OVERRUN: 0x01, THRE_PENDING: 0x02, RING_FAULT: 0x04 } as const;
/** Every defined {@link STATUS} bit. */
export const STATUS_BITS = STATUS.OVERRUN | STATUS.THRE_PENDING | STATUS.RING_FAULT;
/** RING_SIZE read bit reporting a halted ring (sizes never reach bit 31). */
export const RING_FAULT_BIT = 0x8000_0000;

/**
 * Everything one port remembers. Every field is guest-visible or derived from guest
 * actions, so this is exactly what migrates (plus {@link PortState.wireSeq}).
 */
export interface PortState {
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  /** FCR as last written, minus the self-clearing bits. */
  fcr: number;
  /** {@link STATUS} bits: overrun (LSR.OE), an unacknowledged THR-empty interrupt, a halted ring. */
  status: number;
  /** Baud divisor latch (DLM:DLL). */
  divisor: number;
  /** Receive FIFO storage; valid bytes are `rxCount` from index `rxHead`, wrapping. */
  fifo: Uint8Array;
  rxHead: number;
  rxCount: number;
  /** DMA ring base IOVA (0 when never programmed). */
  ringBase: number;
  /** DMA ring size in bytes; 0 means the ring is off and bytes go to the FIFO. */
  ringSize: number;
  /** Next write offset in the ring. */
  ringHead: number;
  /**
   * How many bytes the simulated far end of the cable has sent so far. Not UART
   * state: it is the workload's cursor, migrated so the target continues the same
   * deterministic byte sequence (see workload.ts).
   */
  wireSeq: number;
}

/** A port as it is at power-on / reset. */
export function powerOnPortState(): PortState {
  return {
    ier: 0,
    lcr: 0,
    mcr: 0,
    scr: 0,
    fcr: 0,
    // THR starts empty, so enabling IER.THRI raises an interrupt straight away (16550 behaviour).
    status: STATUS.THRE_PENDING,
    divisor: 0,
    fifo: new Uint8Array(FIFO_SIZE),
    rxHead: 0,
    rxCount: 0,
    ringBase: 0,
    ringSize: 0,
    ringHead: 0,
    wireSeq: 0,
  };
}

/** FIFO capacity implied by FCR: 16 with FIFOs enabled, otherwise 16450-style single byte. */
export function fifoCapacity(fcr: number): number {
  return (fcr & FCR.ENABLE) !== 0 ? FIFO_SIZE : 1;
}

/** Receive-data interrupt trigger level implied by FCR (1, 4, 8 or 14 bytes). */
export function triggerLevel(fcr: number): number {
  if ((fcr & FCR.ENABLE) === 0) return 1;
  return [1, 4, 8, 14][(fcr & FCR.TRIGGER) >>> 6]!;
}

/** What a port needs from its device: the only ways it can affect the outside world. */
export interface PortWiring {
  /** Raise the device's interrupt. */
  raiseIrq(): void;
  /** DMA `bytes` into guest memory at `iova`; false when the IOMMU faulted the write. */
  dmaWrite(iova: number, bytes: Uint8Array): boolean;
  /** A byte left through the transmitter (not looped back). */
  transmit(byte: number): void;
}

/** Behaviour of one port over a {@link PortState}; the state object may be swapped by a load. */
export class UartPort {
  /** The port's state; replaced wholesale when migration state is applied. */
  state: PortState = powerOnPortState();

  constructor(private readonly wiring: PortWiring) {}

  /** A guest read of the register at `offset`; reads of RBR, IIR and LSR have side effects, as on a 16550. */
  read(offset: number): number {
    const s = this.state;
    const dlab = (s.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case Reg.RBR_THR:
        return dlab ? s.divisor & 0xff : this.#popFifo();
      case Reg.IER:
        return dlab ? s.divisor >>> 8 : s.ier;
      case Reg.IIR_FCR: {
        const iir = this.#pendingInterrupt();
        // Reading IIR is how a 16550 acknowledges a THR-empty interrupt.
        if (iir === IIR.THRE) s.status &= ~STATUS.THRE_PENDING;
        return iir | ((s.fcr & FCR.ENABLE) !== 0 ? IIR.FIFO_ON : 0);
      }
      case Reg.LCR:
        return s.lcr;
      case Reg.MCR:
        return s.mcr;
      case Reg.LSR: {
        let lsr = LSR.THRE | LSR.TEMT; // transmission is instantaneous: THR is always empty
        if (s.rxCount > 0) lsr |= LSR.DR;
        if ((s.status & STATUS.OVERRUN) !== 0) lsr |= LSR.OE;
        s.status &= ~STATUS.OVERRUN; // reading LSR clears OE and with it the line-status interrupt
        return lsr;
      }
      case Reg.MSR:
        return this.#modemStatus();
      case Reg.SCR:
        return s.scr;
      case Reg.RING_BASE_LO:
        return s.ringBase % 2 ** 32;
      case Reg.RING_BASE_HI:
        return Math.floor(s.ringBase / 2 ** 32);
      case Reg.RING_SIZE:
        return (
          ((s.status & STATUS.RING_FAULT) !== 0 ? s.ringSize | RING_FAULT_BIT : s.ringSize) >>> 0
        );
      case Reg.RING_HEAD:
        return s.ringHead;
      default:
        return 0xff; // unimplemented I/O reads float high, as on a real bus
    }
  }

  /** A guest write of `value` to the register at `offset`. Unimplemented offsets ignore writes. */
  write(offset: number, value: number): void {
    const s = this.state;
    const dlab = (s.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case Reg.RBR_THR:
        if (dlab) s.divisor = (s.divisor & 0xff00) | (value & 0xff);
        else this.#transmit(value & 0xff);
        return;
      case Reg.IER:
        if (dlab) {
          s.divisor = (s.divisor & 0x00ff) | ((value & 0xff) << 8);
          return;
        }
        s.ier = value & WRITABLE.IER;
        // Enabling THRI while THR is empty interrupts at once: drivers rely on it to start sending.
        if ((s.ier & IER.THRI) !== 0 && (s.status & STATUS.THRE_PENDING) !== 0)
          this.wiring.raiseIrq();
        return;
      case Reg.IIR_FCR:
        this.#writeFcr(value & 0xff);
        return;
      case Reg.LCR:
        s.lcr = value & 0xff;
        return;
      case Reg.MCR:
        s.mcr = value & WRITABLE.MCR;
        return;
      case Reg.SCR:
        s.scr = value & 0xff;
        return;
      case Reg.RING_BASE_LO:
        s.ringBase = Math.floor(s.ringBase / 2 ** 32) * 2 ** 32 + (value >>> 0);
        return;
      case Reg.RING_BASE_HI:
        s.ringBase = (value & 0x1fffff) * 2 ** 32 + (s.ringBase % 2 ** 32);
        return;
      case Reg.RING_SIZE:
        // Oversized requests are clamped, not refused: a register write cannot fail.
        s.ringSize = Math.min(value >>> 0, RING_MAX_BYTES);
        s.ringHead = 0;
        s.status &= ~STATUS.RING_FAULT;
        return;
      default:
        return; // LSR, MSR, RING_HEAD and holes are read-only
    }
  }

  /**
   * Bytes arriving on the wire. With a DMA ring armed they go to guest memory and one
   * interrupt follows (if IER.RDI); otherwise they enter the FIFO, and a full FIFO
   * drops the byte and flags overrun — exactly what a guest that reads too slowly sees.
   */
  receive(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    const s = this.state;
    if (s.ringSize > 0) {
      // A halted ring drops input until the guest re-arms it, like a DMA engine in error state.
      if ((s.status & STATUS.RING_FAULT) !== 0) return;
      if (this.#dmaToRing(bytes)) {
        if ((s.ier & IER.RDI) !== 0) this.wiring.raiseIrq();
      } else {
        s.status |= STATUS.RING_FAULT;
        if ((s.ier & IER.RLSI) !== 0) this.wiring.raiseIrq();
      }
      return;
    }
    for (const byte of bytes) this.#pushFifo(byte);
  }

  /** Writes `bytes` at the ring head; false if a write faulted (the rest is not attempted). */
  #dmaToRing(bytes: Uint8Array): boolean {
    const s = this.state;
    let done = 0;
    // Split at the ring's end; head only advances after each write succeeded, so a
    // DMA fault leaves the port consistent with what actually reached guest memory.
    while (done < bytes.byteLength) {
      const n = Math.min(bytes.byteLength - done, s.ringSize - s.ringHead);
      if (!this.wiring.dmaWrite(s.ringBase + s.ringHead, bytes.subarray(done, done + n)))
        return false;
      s.ringHead = (s.ringHead + n) % s.ringSize;
      done += n;
    }
    return true;
  }

  #pushFifo(byte: number): void {
    const s = this.state;
    if (s.rxCount >= fifoCapacity(s.fcr)) {
      // Interrupt on the edge only: a flood of lost bytes is one line-status event.
      const wasOverrun = (s.status & STATUS.OVERRUN) !== 0;
      s.status |= STATUS.OVERRUN;
      if (!wasOverrun && (s.ier & IER.RLSI) !== 0) this.wiring.raiseIrq();
      return;
    }
    s.fifo[(s.rxHead + s.rxCount) % FIFO_SIZE] = byte;
    s.rxCount++;
    if (s.rxCount === triggerLevel(s.fcr) && (s.ier & IER.RDI) !== 0) this.wiring.raiseIrq();
  }

  #popFifo(): number {
    const s = this.state;
    if (s.rxCount === 0) return 0; // an empty RBR reads as the last value on real parts; 0 keeps it deterministic
    const byte = s.fifo[s.rxHead]!;
    s.rxHead = (s.rxHead + 1) % FIFO_SIZE;
    s.rxCount--;
    return byte;
  }

  #transmit(byte: number): void {
    const s = this.state;
    if ((s.mcr & MCR.LOOP) !== 0) this.receive(Uint8Array.of(byte));
    else this.wiring.transmit(byte);
    // The byte left THR at once, so THR is empty again: a fresh THRE interrupt.
    s.status |= STATUS.THRE_PENDING;
    if ((s.ier & IER.THRI) !== 0) this.wiring.raiseIrq();
  }

  #writeFcr(value: number): void {
    const s = this.state;
    const toggled = ((value ^ s.fcr) & FCR.ENABLE) !== 0;
    // Changing the FIFO enable bit empties the FIFOs on a 16550, as does CLEAR_RX.
    if (toggled || (value & FCR.CLEAR_RX) !== 0) {
      s.rxHead = 0;
      s.rxCount = 0;
    }
    s.fcr = value & WRITABLE.FCR;
  }

  /** The highest-priority pending interrupt source, as IIR encodes it. */
  #pendingInterrupt(): number {
    const s = this.state;
    if ((s.ier & IER.RLSI) !== 0 && (s.status & STATUS.OVERRUN) !== 0) return IIR.RLS;
    if ((s.ier & IER.RDI) !== 0 && s.rxCount >= triggerLevel(s.fcr)) return IIR.RDA;
    if ((s.ier & IER.THRI) !== 0 && (s.status & STATUS.THRE_PENDING) !== 0) return IIR.THRE;
    return IIR.NONE;
  }

  /** MSR: in loopback the modem inputs mirror MCR's outputs; otherwise a cable with the peer ready. */
  #modemStatus(): number {
    const mcr = this.state.mcr;
    if ((mcr & MCR.LOOP) === 0) return 0xb0; // CTS | DSR | DCD
    return (
      ((mcr & MCR.RTS) !== 0 ? 0x10 : 0) |
      ((mcr & MCR.DTR) !== 0 ? 0x20 : 0) |
      ((mcr & MCR.OUT1) !== 0 ? 0x40 : 0) |
      ((mcr & MCR.OUT2) !== 0 ? 0x80 : 0)
    );
  }
}
