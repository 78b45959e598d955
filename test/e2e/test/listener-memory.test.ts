// A listener facing peers that only send a HANDSHAKE. Before the fix one HANDSHAKE for a
// large VM froze the whole listener while it prefaulted the VM's RAM on its main thread
// (18 s for 12 GiB), went on after the peer had left, and a loop of abandoned handshakes
// grew the listener past its memory budget until the kernel killed it: the budget counted a
// dropped VM's RAM as free while it stayed resident until some later garbage collection.
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { greedyHandshake } from "../helpers/intruders.js";
import { cleanup, spawnEvents } from "../helpers/processes.js";

afterEach(cleanup);

/** The resident memory of process `pid`, MiB. */
function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** A listener without `--once`, and its port and pid. */
async function listener(extra: readonly string[] = []) {
  const child = spawnEvents(["listen", "--on", "tcp://127.0.0.1:0", ...extra]);
  const { url } = await child.waitFor("listening", 30_000);
  return { child, port: Number(new URL(url).port), pid: child.process.pid as number };
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Sends what is not a stream and times, ms, how long the listener takes to close on it. */
async function probe(port: number): Promise<number> {
  const started = performance.now();
  const socket = await connected(port);
  socket.on("error", () => {});
  socket.write(Buffer.alloc(52, 0x58));
  await new Promise((resolve) => socket.once("close", resolve));
  return performance.now() - started;
}

/** A peer that sends a HANDSHAKE for `memoryMiB` and keeps its connection open. */
async function handshaker(port: number, memoryMiB: number) {
  const socket = await connected(port);
  socket.on("error", () => {});
  let answered = 0;
  socket.on("data", (b: Buffer) => {
    answered += b.length;
  });
  socket.write(greedyHandshake(memoryMiB));
  return { socket, answered: () => answered };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds or `ms` passed; says whether it held. */
async function within(ms: number, check: () => boolean): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

describe.skipIf(process.platform !== "linux")("a listener facing peers that only handshake", () => {
  it("answers another connection while it prefaults a 2 GiB VM, and gives the RAM back when the peer leaves", async () => {
    const { port, pid } = await listener();
    const idle = residentMiB(pid);
    const peer = await handshaker(port, 2048);
    // Let the prefault begin: the listener's RAM grows as it touches the guest's pages.
    expect(await within(10_000, () => residentMiB(pid) > idle + 64)).toBe(true);
    // Answered at once, not after the prefault (seconds on a loaded 2-core host).
    expect(await probe(port)).toBeLessThan(1000);
    peer.socket.destroy();
    // The prefault stops, and the touched RAM goes back without waiting for a collection.
    expect(await within(5000, () => residentMiB(pid) < idle + 128)).toBe(true);
  }, 60_000);

  it("holds no more than its memory budget through a loop of abandoned handshakes", async () => {
    const { port, pid } = await listener(["--max-memory", "512"]);
    const idle = residentMiB(pid);
    let peak = idle;
    for (let round = 0; round < 8; round++) {
      const peer = await handshaker(port, 256);
      // Abandoned once its VM's RAM is prefaulted (ACCEPT, or a REJECT while the last VM's
      // RAM is still counted): every round leaves a VM's worth of touched RAM behind.
      await within(30_000, () => peer.answered() > 52);
      peak = Math.max(peak, residentMiB(pid));
      peer.socket.destroy();
      await probe(port);
      peak = Math.max(peak, residentMiB(pid));
    }
    await sleep(500);
    peak = Math.max(peak, residentMiB(pid));
    // The budget plus the listener's own heap and code (idle) and slack for the bitmaps.
    expect(peak).toBeLessThan(idle + 512 + 64);
  }, 120_000);
});
