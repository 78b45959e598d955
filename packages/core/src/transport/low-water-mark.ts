import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { nativePageRoutines } from "../memory/native-page-routines.js";

/**
 * Most bytes the kernel is asked to gather before it wakes the reader: half the target's
 * read buffer (1 MiB), so each wake-up still finds a large chunk. On our 2-core EPYC VMs a wake-up
 * per segment was a large part of a loopback transfer's CPU, most of it the sender's (on
 * loopback the sender's system call delivers the data and wakes the reader): 1.6 GB between
 * two processes (Python, 1 MiB reads) took 282-452 ms with a 512 KiB mark against
 * 476-502 ms without. Interleaved on 2026-12-03: RAM-static 2 GiB, 16 pairs, faster in 12
 * (median ratio 0.86); the dirtying VM, 14 pairs, median 872 -> 788 ms, faster in 9.
 */
export const LOW_WATER_CAP = 512 * 1024;

/**
 * Longest the mark may hold bytes back, at the rate they last arrived, ms. A slow link (a
 * capped migration) then still wakes the reader about as often as it did without a mark, and
 * the target's receive-idle deadline keeps its meaning: it measures the source's silence, not
 * the time the kernel takes to gather half a megabyte at a few kilobytes a second.
 */
export const LOW_WATER_HOLD_MS = 20;

/**
 * A plain TCP socket's receive low-water mark (`SO_RCVLOWAT`): the kernel wakes the reader
 * only once the mark's bytes are queued, or at the stream's end, or when its receive window
 * runs low. The mark follows what the consumer needs ({@link expect}) and never asks for more
 * than {@link LOW_WATER_CAP}, nor for more than {@link LOW_WATER_HOLD_MS} of arrivals at the
 * last read's rate; it starts at one byte (no hold) until a rate is known.
 */
export class LowWaterMark {
  readonly #set: (bytes: number) => boolean;
  #current = 1;
  #lastReadAt: number | undefined;
  /** Bytes per millisecond at the last read; 0 until two reads were seen. */
  #rate = 0;

  /** `set` applies a mark to the socket and says whether it took. */
  constructor(set: (bytes: number) => boolean) {
    this.#set = set;
  }

  /**
   * The mark for `socket`, or undefined where none applies: TLS (the kernel would count
   * ciphertext), UNIX sockets (their poll ignores the mark), an addon without the call. The
   * descriptor is read from the live handle each time: a closed socket's number may already
   * belong to another connection.
   */
  static for(socket: Socket): LowWaterMark | undefined {
    const set = nativePageRoutines?.setReceiveLowWater;
    if (set === undefined || socket instanceof TLSSocket || typeof socket.remotePort !== "number")
      return undefined;
    return new LowWaterMark((bytes) => {
      if (socket.destroyed) return false;
      const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
      return typeof fd === "number" && fd >= 0 && set(fd, bytes);
    });
  }

  /** The mark now asked of the kernel, bytes. */
  get current(): number {
    return this.#current;
  }

  /** A read of `bytes` arrived at `now` (ms, any monotonic clock). */
  arrived(bytes: number, now: number = performance.now()): void {
    if (this.#lastReadAt !== undefined) this.#rate = bytes / Math.max(now - this.#lastReadAt, 0.01);
    this.#lastReadAt = now;
  }

  /** The consumer cannot go on before `bytes` more arrive. */
  expect(bytes: number): void {
    const want = Math.max(
      1,
      Math.floor(Math.min(LOW_WATER_CAP, bytes, this.#rate * LOW_WATER_HOLD_MS)),
    );
    if (want !== this.#current && this.#set(want)) this.#current = want;
  }
}
