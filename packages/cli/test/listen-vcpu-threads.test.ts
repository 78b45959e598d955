// `listen --vcpu-threads N`: the vCPU threads of the next VM start before the listener
// accepts, so none starts up (about 50 ms of CPU each) while that VM's RAM streams in; the
// VM takes them, and a listener that serves on starts the next VM's afterwards.
import { afterEach, describe, expect, it } from "vitest";
import {
  ACCEPTED_BYTES,
  cleanupListeners,
  handshakeBytes,
  migrateSmallVm,
  nthEvent,
  rawPeer,
  receivedAtLeast,
  startListener,
  statusField,
} from "./listen-helpers.js";

afterEach(cleanupListeners, 60_000);

async function threadsSettleAt(pid: number, want: number): Promise<number> {
  let threads = statusField(pid, "Threads");
  for (let t = 0; t < 300 && threads !== want; t++) {
    await new Promise((r) => setTimeout(r, 50));
    threads = statusField(pid, "Threads");
  }
  return threads;
}

describe("listen --vcpu-threads", { timeout: 180_000 }, () => {
  it("starts the threads before listening; an accepted VM runs on them and starts none", async () => {
    const plain = await startListener([]);
    const plainThreads = statusField(plain.child.process.pid as number, "Threads");
    const target = await startListener(["--vcpu-threads", "2"]);
    const pid = target.child.process.pid as number;
    expect(target.child.events.find((e) => e.event === "listening")).toMatchObject({
      vcpuThreads: 2,
    });
    const ready = statusField(pid, "Threads");
    expect(ready).toBe(plainThreads + 2);
    const peer = await rawPeer(target.port);
    peer.socket.write(handshakeBytes(8, 2));
    // ACCEPT comes after the target built the VM, its vCPUs included.
    await receivedAtLeast(peer, ACCEPTED_BYTES);
    expect(statusField(pid, "Threads")).toBe(ready);
    // The source vanished: the VM is dropped, and the next VM's threads start.
    peer.socket.destroy();
    await nthEvent(target.child, "error", 1);
    expect(await threadsSettleAt(pid, ready)).toBe(ready);
    // A real migration then arrives on the new threads.
    await migrateSmallVm(target.url);
    await nthEvent(target.child, "result", 1);
  });

  it("more threads than a VM may have vCPUs here is refused at start", async () => {
    const target = startListener(["--vcpu-threads", "3", "--max-vcpus", "2"]);
    await expect(target).rejects.toThrow(/exited/);
  });
});
