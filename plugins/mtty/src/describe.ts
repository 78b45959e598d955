/**
 * Comparison and invariant helpers for tests and the conformance suite: "did the target
 * end up with the source's device?" and "is this device's state self-consistent?".
 */
import type { MttyDriver } from "./mtty-driver.js";
import { FIFO_SIZE, fifoCapacity, RING_MAX_BYTES, STATUS, STATUS_BITS, WRITABLE } from "./uart.js";

/** One port's migrated state, as plain data. */
export interface PortDescription {
  readonly ier: number;
  readonly lcr: number;
  readonly mcr: number;
  readonly scr: number;
  readonly fcr: number;
  readonly divisor: number;
  readonly overrun: boolean;
  readonly threPending: boolean;
  /** FIFO contents oldest first; where they sit in the circular buffer does not matter. */
  readonly rxFifo: readonly number[];
  /** The DMA ring registers; `fault` is set while an IOMMU fault halts it. */
  readonly ring: {
    readonly base: number;
    readonly size: number;
    readonly head: number;
    readonly fault: boolean;
  };
  readonly wireSeq: number;
}

/** A whole device, comparable with `expect(...).toEqual(...)`. */
export interface MttyDescription {
  readonly portCount: number;
  readonly ports: readonly PortDescription[];
}

/**
 * The device's migrated state as a plain object, minus what is volatile or host-side:
 * the migration state, the host's wire output buffer and the raw slots of the FIFO
 * outside its valid bytes. Two devices that describe equal behave identically.
 */
export function describeState(driver: MttyDriver): MttyDescription {
  return {
    portCount: driver.portCount,
    ports: driver.snapshotPorts().map((s) => ({
      ier: s.ier,
      lcr: s.lcr,
      mcr: s.mcr,
      scr: s.scr,
      fcr: s.fcr,
      divisor: s.divisor,
      overrun: (s.status & STATUS.OVERRUN) !== 0,
      threPending: (s.status & STATUS.THRE_PENDING) !== 0,
      rxFifo: Array.from({ length: s.rxCount }, (_, k) => s.fifo[(s.rxHead + k) % FIFO_SIZE]!),
      ring: {
        base: s.ringBase,
        size: s.ringSize,
        head: s.ringHead,
        fault: (s.status & STATUS.RING_FAULT) !== 0,
      },
      wireSeq: s.wireSeq,
    })),
  };
}

/**
 * Every invariant the device's state must hold at any time; returns the violated ones
 * (an empty list means healthy). The stream decoder enforces the same rules on input.
 */
export function mttyInvariants(driver: MttyDriver): string[] {
  const broken: string[] = [];
  driver.snapshotPorts().forEach((s, i) => {
    const check = (ok: boolean, what: string) => {
      if (!ok) broken.push(`port ${i}: ${what}`);
    };
    check((s.ier & ~WRITABLE.IER) === 0, `ier 0x${s.ier.toString(16)} has unimplemented bits`);
    check((s.mcr & ~WRITABLE.MCR) === 0, `mcr 0x${s.mcr.toString(16)} has unimplemented bits`);
    check((s.status & ~STATUS_BITS) === 0, `status 0x${s.status.toString(16)} has undefined bits`);
    check((s.fcr & ~WRITABLE.FCR) === 0, `fcr 0x${s.fcr.toString(16)} keeps self-clearing bits`);
    check(s.lcr >= 0 && s.lcr <= 0xff && s.scr >= 0 && s.scr <= 0xff, "lcr/scr are not bytes");
    check(s.divisor >= 0 && s.divisor <= 0xffff, `divisor ${s.divisor} is not 16-bit`);
    check(
      s.rxCount >= 0 && s.rxCount <= fifoCapacity(s.fcr),
      `rxCount ${s.rxCount} exceeds capacity ${fifoCapacity(s.fcr)}`,
    );
    check(s.rxHead >= 0 && s.rxHead < FIFO_SIZE, `rxHead ${s.rxHead} outside the FIFO`);
    check(s.fifo.byteLength === FIFO_SIZE, `FIFO buffer is ${s.fifo.byteLength} bytes`);
    check(
      s.ringSize >= 0 && s.ringSize <= RING_MAX_BYTES,
      `ringSize ${s.ringSize} above ${RING_MAX_BYTES}`,
    );
    check(
      s.ringSize === 0 ? s.ringHead === 0 : s.ringHead >= 0 && s.ringHead < s.ringSize,
      `ringHead ${s.ringHead} outside the ring`,
    );
    check(Number.isSafeInteger(s.ringBase + s.ringSize), "ring ends beyond 2^53");
    check(
      Number.isInteger(s.wireSeq) && s.wireSeq >= 0 && s.wireSeq <= 0xffffffff,
      `wireSeq ${s.wireSeq} not u32`,
    );
  });
  return broken;
}
