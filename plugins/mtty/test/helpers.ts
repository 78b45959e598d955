import "reflect-metadata";
import {
  type DeviceContext,
  type DmaAccess,
  driveTransition,
  type InterruptLines,
  isMdevError,
  MdevError,
  type MigrationDataStream,
  MigState,
} from "@mdevkit/core";
import { MttyDriver } from "../src/index.js";

/** Guest memory a test can inspect: a flat byte array at IOVA 0, every write recorded. */
export class FakeDma implements DmaAccess {
  readonly memory: Uint8Array;
  readonly writes: { iova: number; length: number }[] = [];
  readonly reads: { iova: number; length: number }[] = [];

  constructor(size = 1 << 22) {
    this.memory = new Uint8Array(size);
  }

  read(iova: number, length: number): Uint8Array {
    this.#check(iova, length);
    this.reads.push({ iova, length });
    return this.memory.slice(iova, iova + length);
  }

  write(iova: number, data: Uint8Array): void {
    this.#check(iova, data.byteLength);
    this.writes.push({ iova, length: data.byteLength });
    this.memory.set(data, iova);
  }

  #check(iova: number, length: number): void {
    if (iova < 0 || iova + length > this.memory.byteLength) {
      throw new MdevError("EFAULT", `IOVA 0x${iova.toString(16)}+${length} is not mapped`);
    }
  }
}

/** Interrupt lines that count raises per vector. */
export class CountingIrq implements InterruptLines {
  readonly raised: number[];

  constructor(readonly count = 1) {
    this.raised = new Array<number>(count).fill(0);
  }

  raise(vector: number): void {
    this.raised[vector] = (this.raised[vector] ?? 0) + 1;
  }

  get total(): number {
    return this.raised.reduce((a, b) => a + b, 0);
  }
}

export interface TestDevice {
  readonly driver: MttyDriver;
  readonly dma: FakeDma;
  readonly irq: CountingIrq;
}

/** A device of `deviceType` wired to fresh fakes. */
export function makeDevice(
  deviceType = "mtty-2",
  seed = 42,
  options: Record<string, unknown> = {},
  irqCount = 1,
): TestDevice {
  const dma = new FakeDma();
  const irq = new CountingIrq(irqCount);
  const ctx: DeviceContext = {
    slot: "00:03.0",
    deviceType,
    options,
    dma,
    irq,
    clock: { nowNs: () => 0n },
    seed,
  };
  return { driver: new MttyDriver(ctx), dma, irq };
}

/** Reads a saving stream until ENOMSG (precopy) or the permanent end (stop-copy). */
export async function drain(stream: MigrationDataStream, chunk = 1 << 20): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    let bytes: Uint8Array;
    try {
      bytes = await stream.read(chunk);
    } catch (err) {
      if (isMdevError(err, "ENOMSG")) break;
      throw err;
    }
    if (bytes.byteLength === 0) break;
    parts.push(bytes.slice());
  }
  return concat(parts);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * The source side the way the engine does it: RUNNING → PRE_COPY (read the initial
 * bytes while running), then → STOP_COPY (read the rest) and → STOP.
 */
export async function saveWithPrecopy(
  driver: MttyDriver,
): Promise<{ precopy: Uint8Array; stopCopy: Uint8Array }> {
  const { stream } = await driveTransition(driver, MigState.PRE_COPY);
  if (stream === undefined) throw new Error("PRE_COPY opened no stream");
  const precopy = await drain(stream);
  await driveTransition(driver, MigState.STOP_COPY);
  const stopCopy = await drain(stream);
  await driveTransition(driver, MigState.STOP);
  return { precopy, stopCopy };
}

/** Target side: → RESUMING, write `bytes` in `chunks` (sizes cycled), → STOP. */
export async function loadStream(
  driver: MttyDriver,
  bytes: Uint8Array,
  chunkSizes: readonly number[] = [bytes.byteLength || 1],
): Promise<void> {
  const stream = await openResuming(driver);
  await writeChunked(stream, bytes, chunkSizes);
  await driveTransition(driver, MigState.STOP);
}

export async function openResuming(driver: MttyDriver): Promise<MigrationDataStream> {
  const { stream } = await driveTransition(driver, MigState.RESUMING);
  if (stream === undefined) throw new Error("RESUMING opened no stream");
  return stream;
}

export async function writeChunked(
  stream: MigrationDataStream,
  bytes: Uint8Array,
  chunkSizes: readonly number[],
): Promise<void> {
  let at = 0;
  let i = 0;
  while (at < bytes.byteLength) {
    const size = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
    const chunk = bytes.subarray(at, at + size);
    await stream.write(chunk);
    at += chunk.byteLength;
  }
}

/** Puts a port into a busy, non-trivial state so round trips have something to carry. */
export function exercise(driver: MttyDriver, ringPort = -1, ringBase = 0x10_000): void {
  for (let p = 0; p < driver.portCount; p++) {
    driver.writeRegister(p, 3, 0x80); // DLAB
    driver.writeRegister(p, 0, 0x0c + p);
    driver.writeRegister(p, 1, 0x00);
    driver.writeRegister(p, 3, 0x03); // 8N1
    driver.writeRegister(p, 2, 0x81); // FIFO on, trigger 8
    driver.writeRegister(p, 1, 0x05); // RDI | RLSI
    driver.writeRegister(p, 4, 0x0b); // DTR | RTS | OUT2
    driver.writeRegister(p, 7, 0xa5 ^ p);
    if (p === ringPort) {
      driver.writeRegister(p, 0x10, ringBase);
      driver.writeRegister(p, 0x18, 4096 + 100);
    }
  }
  driver.tick(5);
  // Let one port overrun so OE travels too.
  if (driver.portCount > 1) driver.receive(driver.portCount - 1, new Uint8Array(20).fill(0x41));
}

/** The awaited error of `promise`, or a failure if it resolved. */
export async function errorOf(promise: Promise<unknown>): Promise<MdevError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof MdevError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}
