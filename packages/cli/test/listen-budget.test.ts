// The target decides what it hosts: `listen --max-memory` refuses a larger VM before any
// allocation and tells the source; memory of refused or failed migrations goes back.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ACCEPTED_BYTES,
  cleanupListeners,
  handshakeBytes,
  migrateSmallVmArgs,
  nthEvent,
  rawPeer,
  receivedAtLeast,
  spawnChild,
  startListener,
  statusField,
  statusMiB,
} from "./listen-helpers.js";

afterEach(cleanupListeners, 60_000);

describe("listen --max-memory", { timeout: 180_000 }, () => {
  it("a 175-byte HANDSHAKE claiming 2048 MiB is refused (ENOMEM, REJECT sent) without allocating", async () => {
    const target = await startListener(["--max-memory", "64"]);
    const pid = target.child.process.pid as number;
    const hostile = await rawPeer(target.port);
    const bytes = handshakeBytes(2048);
    expect(bytes.length).toBe(175);
    hostile.socket.write(bytes);
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "ENOMEM",
      message: expect.stringMatching(/2048 MiB of RAM; this target's memory budget is 64 MiB/),
    });
    await hostile.closed;
    expect(hostile.received().toString("latin1")).toMatch(/memory budget is 64 MiB/);
    // Peak RSS: a listener that prefaulted the guest would be past 2 GiB.
    expect(statusMiB(pid, "VmHWM")).toBeLessThan(400);
    expect(target.child.process.exitCode).toBeNull();
  });

  it("--prealloc: a VM of another size is refused, without allocating it", async () => {
    const target = await startListener(["--prealloc", "32"]);
    const pid = target.child.process.pid as number;
    const peer = await rawPeer(target.port);
    peer.socket.write(handshakeBytes(2048));
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "EINVAL",
      message: expect.stringMatching(/2048 MiB of RAM; this target is prepared for 32 MiB/),
    });
    expect(statusMiB(pid, "VmHWM")).toBeLessThan(400);
  });

  it("--max-vcpus: a VM asking for 64 vCPUs is refused (EINVAL) before any vCPU thread starts", async () => {
    const target = await startListener(["--max-vcpus", "2"]);
    const pid = target.child.process.pid as number;
    const threadsIdle = statusField(pid, "Threads");
    const peer = await rawPeer(target.port);
    peer.socket.write(handshakeBytes(8, 64));
    const dropped = await nthEvent(target.child, "dropped", 1);
    expect(dropped).toMatchObject({
      code: "EINVAL",
      message: expect.stringMatching(/64 vCPUs; this target hosts at most 2/),
    });
    // One worker thread per vCPU would have been started for a built VM.
    expect(statusField(pid, "Threads")).toBeLessThan(threadsIdle + 8);
  });

  it("--max-device-state: a VM whose devices send more fails (ENOMEM) and runs on at its source", async () => {
    const target = await startListener(["--max-device-state", "1"]);
    const dir = mkdtempSync(join(tmpdir(), "mdevkit-device-state-"));
    const config = join(dir, "vgpu.json");
    // A GVTg_V5_4 vGPU's state carries its whole GGTT: 1.25 MiB.
    writeFileSync(
      config,
      JSON.stringify({
        name: "vgpu",
        memoryMiB: 16,
        vcpus: 1,
        workloads: [{ pattern: "uniform", pagesPerSecond: 1000 }],
        devices: [{ slot: "00:02.0", plugin: "gvt-g", deviceType: "GVTg_V5_4" }],
      }),
    );
    const source = spawnChild([
      ...migrateSmallVmArgs(target.url),
      "--config",
      config,
      "--then-run",
      "200",
    ]);
    const code = await source.exited;
    rmSync(dir, { recursive: true, force: true });
    const failed = await nthEvent(target.child, "error", 1);
    expect(failed).toMatchObject({
      code: "ENOMEM",
      message: expect.stringMatching(/more than the 1 MiB of device state this target takes/),
    });
    expect(code).not.toBe(0);
    expect(source.events.find((e) => e.event === "error")).toMatchObject({
      rolledBack: true,
      message: expect.stringMatching(/the target failed: ENOMEM/),
    });
    // The rolled-back VM ran on: --then-run saw its vCPUs change RAM.
    expect(source.events.find((e) => e.event === "still-running")).toMatchObject({
      ramChanged: true,
    });
    expect(target.child.process.exitCode).toBeNull();
  });

  it("--prealloc more than --max-memory is refused at start", async () => {
    const target = startListener(["--prealloc", "64", "--max-memory", "32"]);
    await expect(target).rejects.toThrow(/exited/);
  });
});

describe("memory after failed migrations", { timeout: 180_000 }, () => {
  it("the listener's RSS returns near its idle level after accepted VMs whose sources vanished", async () => {
    const target = await startListener([]);
    const pid = target.child.process.pid as number;
    const idle = statusMiB(pid, "VmRSS");
    for (let i = 1; i <= 3; i++) {
      const peer = await rawPeer(target.port);
      peer.socket.write(handshakeBytes(256));
      // ACCEPT comes after the target built and prefaulted the 256 MiB guest.
      await receivedAtLeast(peer, ACCEPTED_BYTES);
      peer.socket.destroy();
      await nthEvent(target.child, "error", i);
    }
    // Freed memory leaves RSS after a collection the listener schedules itself; give it time.
    let rss = statusMiB(pid, "VmRSS");
    for (let t = 0; t < 900 && rss > idle + 96; t++) {
      await new Promise((r) => setTimeout(r, 100));
      rss = statusMiB(pid, "VmRSS");
    }
    expect(statusMiB(pid, "VmHWM")).toBeGreaterThan(idle + 200);
    expect(rss).toBeLessThan(idle + 96);
  });
});
