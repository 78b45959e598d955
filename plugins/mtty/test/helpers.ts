/**
 * mtty's test fixtures. Generic harness pieces (guest memory, stream draining, saving and
 * loading the way the engine does) come from `@mdevkit/conformance`, as any plugin's would.
 */
import { FakeDma, fakeDeviceContext, reach } from "@mdevkit/conformance";
import { type InterruptLines, MdevError, type MigrationDataStream, MigState } from "@mdevkit/core";
import { MttyDriver, mttyPlugin } from "../src/index.js";

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
  const ctx = fakeDeviceContext(mttyPlugin, { deviceType, seed, options, dma, irq });
  return { driver: new MttyDriver(ctx), dma, irq };
}

/** Target side: STOP → RESUMING, returning the resuming stream. */
export async function openResuming(driver: MttyDriver): Promise<MigrationDataStream> {
  const stream = await reach(driver, MigState.RESUMING);
  if (stream === undefined) throw new Error("RESUMING opened no stream");
  return stream;
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
