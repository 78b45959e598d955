// The HANDSHAKEs a listener's connections have not finished sending share one bounded budget,
// claimed at each HANDSHAKE's frame header: N peers that each declare a large HANDSHAKE cannot
// make the target buffer N of them.
import { describe, expect, it } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  FRAME_HEADER_LENGTH,
  HandshakeBudget,
  MigrationTarget,
  RecordType,
  StreamEncoder,
} from "../../src/index.js";

const config = new TextEncoder().encode(JSON.stringify({ name: "vm", memoryMiB: 4 }));
const [header] = new StreamEncoder().start({ config, devices: [] }) as [Uint8Array];

/** A HANDSHAKE frame header declaring `length` payload bytes (sequence 0). */
function handshakeHead(length: number): Uint8Array {
  const head = new Uint8Array(FRAME_HEADER_LENGTH);
  const v = new DataView(head.buffer);
  v.setUint16(0, RecordType.HANDSHAKE, true);
  v.setUint32(8, length, true);
  return head;
}

/** A target sharing `budget`, and the source end of its channel. */
function peer(budget: HandshakeBudget) {
  const { source, target } = createMemoryChannelPair();
  const received = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
    handshakeBudget: budget,
  }).receive();
  received.catch(() => {});
  return { source, received };
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(what()).toBe(true);
}

describe("the handshake budget", () => {
  it("holds a HANDSHAKE's declared length while it arrives, refuses one that does not fit (EBUSY), and gives it back", async () => {
    const budget = new HandshakeBudget(1 << 20);
    const first = peer(budget);
    await first.source.send([header, handshakeHead(900_000), new Uint8Array(1000)]);
    await until(() => budget.claimed === 900_000);

    const second = peer(budget);
    await second.source.send([header, handshakeHead(200_000)]);
    await expect(second.received).rejects.toMatchObject({
      code: "EBUSY",
      message: expect.stringMatching(/HANDSHAKE of 200000 bytes does not fit/),
    });
    expect(budget.claimed).toBe(900_000);

    first.source.destroy();
    await expect(first.received).rejects.toBeDefined();
    expect(budget.claimed).toBe(0);
  });

  it("gives a HANDSHAKE's claim back once its VM was accepted", async () => {
    const budget = new HandshakeBudget(1 << 20);
    const { source, received } = peer(budget);
    await source.send(new StreamEncoder().start({ config, devices: [] }));
    expect(await source.returnPath?.next()).toMatchObject({ type: "ACCEPT" });
    await until(() => budget.claimed === 0);
    source.destroy();
    await expect(received).rejects.toBeDefined();
  });

  it("refuses a budget that is not a positive whole number of bytes", () => {
    expect(() => new HandshakeBudget(0)).toThrow(/EINVAL/);
    expect(() => new HandshakeBudget(1.5)).toThrow(/EINVAL/);
  });
});
