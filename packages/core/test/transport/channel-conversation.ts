// A miniature migration driven over any channel pair: the shape the engine will have.
import { expect } from "vitest";
import {
  applyRamRun,
  DevicePhase,
  PAGE_SIZE,
  type ReturnRecord,
  StreamDecoder,
  StreamEncoder,
  sha256,
} from "../../src/stream/index.js";
import type { SourceChannel, TargetChannel } from "../../src/transport/index.js";

/** Deterministic guest RAM: every 4th page zero, the rest patterned. */
export function guestRam(pages: number): Uint8Array {
  const ram = new Uint8Array(pages * PAGE_SIZE);
  for (let p = 0; p < pages; p++) {
    if (p % 4 === 0) continue;
    ram.fill((p * 13 + 1) & 0xff || 1, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    ram[p * PAGE_SIZE] = p & 0xff;
  }
  return ram;
}

const CONFIG = new TextEncoder().encode(JSON.stringify({ name: "conv", pages: 0 }));
const DEVICES = [
  {
    slot: 1,
    plugin: "mtty",
    pluginVersion: "1.0.0",
    deviceType: "mtty-1",
    compat: new Uint8Array([1]),
  },
];

async function expectAnswer(
  source: SourceChannel,
  type: ReturnRecord["type"],
): Promise<ReturnRecord | undefined> {
  if (!source.returnPath) return undefined;
  const msg = await source.returnPath.next();
  expect(msg?.type).toBe(type);
  return msg;
}

/**
 * Source side: handshake, RAM in 1 MiB runs (views of `ram`), device data, END; waits for
 * ACCEPT, LOADED, RESUMED when the channel has a return path.
 */
export async function runSource(source: SourceChannel, ram: Uint8Array): Promise<void> {
  const enc = new StreamEncoder();
  // Told what goes out, as the engine tells it: the answers are checked against it.
  source.returnPath?.forwardStarted({ configDigest: sha256(CONFIG), version: enc.version });
  await source.send(enc.start({ config: CONFIG, devices: DEVICES }));
  await expectAnswer(source, "ACCEPT");
  const pages = ram.byteLength / PAGE_SIZE;
  for (let p = 0; p < pages; p += 256) {
    const n = Math.min(256, pages - p);
    const views = Array.from({ length: n }, (_, i) =>
      ram.subarray((p + i) * PAGE_SIZE, (p + i + 1) * PAGE_SIZE),
    );
    await source.send(enc.ramPages(p, views));
  }
  await source.send(enc.deviceData(1, DevicePhase.PRE_COPY, new Uint8Array([1, 2, 3])));
  await source.send(enc.precopyEnd());
  await source.send(enc.deviceConfig(1, new Uint8Array(64).fill(0x10)));
  await source.send(enc.deviceData(1, DevicePhase.STOP_COPY, new Uint8Array([4, 5])));
  source.returnPath?.forwardEnded();
  await source.send(enc.end(sha256(ram)));
  const loaded = await expectAnswer(source, "LOADED");
  // The target's load times cross the return path intact.
  if (source.returnPath) expect(loaded).toMatchObject({ devices: [{ slot: 1, loadUs: 1234 }] });
  await source.send(enc.go());
  await expectAnswer(source, "RESUMED");
  await source.close();
}

/** Target side: decodes, answers, rebuilds RAM; returns it after GO (or END without return path). */
export async function runTarget(target: TargetChannel, pages: number): Promise<Uint8Array> {
  const dec = new StreamDecoder();
  const ram = new Uint8Array(pages * PAGE_SIZE);
  const rp = target.returnPath;
  let done = false;
  for await (const chunk of target.receive()) {
    for (const r of dec.push(chunk)) {
      if (r.type === "HANDSHAKE") {
        dec.setGuestPageCount(pages);
        if (rp && dec.header) {
          await rp.start(dec.header.configDigest);
          await rp.send({ type: "ACCEPT" });
        }
      } else if (r.type === "RAM_PAGES") {
        applyRamRun(r, ram, PAGE_SIZE);
      } else if (r.type === "END") {
        expect(Buffer.from(r.ramDigest).equals(Buffer.from(sha256(ram)))).toBe(true);
        if (rp) await rp.send({ type: "LOADED", devices: [{ slot: 1, loadUs: 1234 }] });
        else done = true;
      } else if (r.type === "GO") {
        await rp?.send({ type: "RESUMED" });
        done = true;
      }
    }
    if (done && rp) break;
  }
  if (!rp) dec.finish();
  await target.close();
  return ram;
}
