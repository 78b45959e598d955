// After GO the source may run the VM again only when the target proves it never ran it:
// a FAILED answer (libvirt's Confirm(cancelled)). A target whose device cannot start
// answers FAILED instead of RESUMED; the source must then resume, not sit paused.
import { afterEach, describe, expect, it } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  MigrationError,
  MigrationSource,
  MigrationTarget,
  MigState,
  parseVmConfig,
  SimulatedVm,
  type SourceChannel,
} from "../../src/index.js";
import { dmaToyPlugin } from "../helpers/dma-toy-plugin.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

describe("FAILED after GO", () => {
  it("the source resumes the VM when the target could not start it", async () => {
    const config = parseVmConfig({
      memoryMiB: 8,
      vcpus: 1,
      workloads: [{ pattern: "uniform", pagesPerSecond: 2000 }],
      devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
      initialFill: 0.2,
    });
    const source = await SimulatedVm.create(
      config,
      createHost({ name: "src", plugins: [dmaToyPlugin()] }),
      { role: "source" },
    );
    vms.push(source);
    await source.start();
    const { source: out, target: incoming } = createMemoryChannelPair();
    const target = new MigrationTarget(
      createHost({ name: "dst", plugins: [dmaToyPlugin({ failStart: true })] }),
      incoming,
    );
    const received = target.receive();
    received.catch(() => {});
    const err = await new MigrationSource(source, out).migrate().catch((e: unknown) => e);
    await expect(received).rejects.toThrow(/failed to start/);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err).toMatchObject({ rolledBack: true, phase: "handover" });
    expect((err as Error).message).toMatch(/the target failed: .*failed to start/);
    // The VM runs on here: vCPUs write again and the device is RUNNING.
    expect(source.running).toBe(true);
    expect(source.devices[0]?.driver.getState()).toBe(MigState.RUNNING);
    await expectGuestWrites(source);
  });

  it("a target whose GO came too late gives up without running the VM, and the source resumes", async () => {
    const config = parseVmConfig({
      memoryMiB: 8,
      devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
      initialFill: 0.2,
    });
    const source = await SimulatedVm.create(
      config,
      createHost({ name: "src", plugins: [dmaToyPlugin()] }),
      { role: "source" },
    );
    vms.push(source);
    await source.start();
    const pair = createMemoryChannelPair();
    const answers = pair.source.returnPath;
    if (answers === null) throw new Error("memory channels have a return path");
    // The source hears LOADED only after the target's GO timer (200 ms) ran out.
    const slow: SourceChannel = {
      ...pair.source,
      send: (frames) => pair.source.send(frames),
      close: () => pair.source.close(),
      destroy: (err) => pair.source.destroy(err),
      returnPath: {
        forwardStarted: (forward) => answers.forwardStarted(forward),
        forwardIteration: (iteration) => answers.forwardIteration(iteration),
        forwardEnded: () => answers.forwardEnded(),
        next: async () => {
          const answer = await answers.next();
          if (answer?.type === "LOADED") await new Promise((r) => setTimeout(r, 600));
          return answer;
        },
      },
    };
    const target = new MigrationTarget(
      createHost({ name: "dst", plugins: [dmaToyPlugin()] }),
      pair.target,
      { goTimeoutMs: 200 },
    );
    const states: string[] = [];
    target.on("loaded", () => states.push("loaded"));
    const received = target.receive();
    received.catch(() => {});
    const err = await new MigrationSource(source, slow).migrate().catch((e: unknown) => e);
    await expect(received).rejects.toMatchObject({ code: "ETIMEDOUT" });
    expect(states).toEqual(["loaded"]);
    // Whether the source reads the target's FAILED or finds the channel gone when it sends
    // GO, the target provably never ran the VM, so it runs on here: exactly one VM runs.
    expect(err).toMatchObject({ rolledBack: true, phase: "handover" });
    expect(source.running).toBe(true);
    expect(source.devices[0]?.driver.getState()).toBe(MigState.RUNNING);
  });
});
