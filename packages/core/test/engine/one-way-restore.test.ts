// A save file has no return path: MigrationTarget receives it with OneWayRestore — no
// answers, and the VM runs once END and every digest checked out.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  connect,
  createHost,
  MigrationTarget,
  openRestore,
  PluginNotLoadedError,
  ramSha256,
  type SaveOptions,
  type SimulatedVm,
  saveVm,
  TOKENS,
} from "../../src/index.js";
import { RecordingSink, startVm, toyHost } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function savedVm(options: SaveOptions = {}): Promise<{ file: string; sha: string }> {
  const vm = await startVm(toyHost("src"), vms);
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-restore-"));
  dirs.push(dir);
  const file = join(dir, "vm.save");
  await saveVm(vm, await connect(`file://${file}`), options);
  return { file, sha: ramSha256(vm.memory) };
}

describe("one-way restore", () => {
  it("runs the saved VM with identical RAM, walking receiving → running without LOADED", async () => {
    const { file, sha } = await savedVm();
    const host = toyHost("dst");
    const sink = new RecordingSink();
    host.container.register(TOKENS.EventSink, { useValue: sink });
    const result = await new MigrationTarget(host, openRestore(`file://${file}`), {
      verifyRam: true,
    }).receive();
    vms.push(result.vm);
    expect(result.ramSha256).toBe(sha);
    expect(result.vm.running).toBe(true);
    expect(Object.keys(result.deviceLoadMs)).toEqual(["00:05.0"]);
    expect(sink.of("target-state").map((e) => e.state)).toEqual(["receiving", "running"]);
  });

  it("a save written in format version 3, for an older build, restores here too", async () => {
    const { file, sha } = await savedVm({ formatVersion: 3 });
    expect(readFileSync(file).readUInt16LE(8)).toBe(3);
    const result = await new MigrationTarget(toyHost("dst"), openRestore(`file://${file}`), {
      verifyRam: true,
    }).receive();
    vms.push(result.vm);
    expect(result.ramSha256).toBe(sha);
  });

  it("a format version this build does not write is refused before the VM pauses", async () => {
    const vm = await startVm(toyHost("src"), vms);
    const dir = mkdtempSync(join(tmpdir(), "mdevkit-restore-"));
    dirs.push(dir);
    const channel = await connect(`file://${join(dir, "vm.save")}`);
    await expect(saveVm(vm, channel, { formatVersion: 6 })).rejects.toMatchObject({
      code: "EINVAL",
    });
    expect(vm.running).toBe(true);
    channel.destroy();
  });

  it("refuses a save cut short, and never runs it", async () => {
    const { file } = await savedVm();
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.byteLength - 100));
    const host = toyHost("dst");
    const sink = new RecordingSink();
    host.container.register(TOKENS.EventSink, { useValue: sink });
    const target = new MigrationTarget(host, openRestore(`file://${file}`));
    await expect(target.receive()).rejects.toMatchObject({ code: "EBADMSG" });
    expect(sink.of("target-state").map((e) => e.state)).not.toContain("running");
  });

  it.each([
    ["one stray byte", Buffer.of(0)],
    ["a fragment of a frame", Buffer.alloc(40, 0x5a)],
  ])("refuses a save with %s after END, and never runs it", async (_what, tail) => {
    const { file } = await savedVm();
    writeFileSync(file, Buffer.concat([readFileSync(file), tail]));
    const host = toyHost("dst");
    const sink = new RecordingSink();
    host.container.register(TOKENS.EventSink, { useValue: sink });
    const target = new MigrationTarget(host, openRestore(`file://${file}`));
    await expect(target.receive()).rejects.toMatchObject({
      code: expect.stringMatching(/^E(BADMSG|PROTO)$/),
    });
    expect(sink.of("target-state").map((e) => e.state)).not.toContain("running");
  });

  it("a save whose device's plugin is not loaded here is ENODEV naming the slot and the plugin", async () => {
    const { file } = await savedVm();
    const target = new MigrationTarget(createHost({ name: "dst" }), openRestore(`file://${file}`));
    const err = await target.receive().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginNotLoadedError);
    expect(err).toMatchObject({ code: "ENODEV", slot: "00:05.0", plugin: "dma-toy" });
    // Nobody refused a connection: the file names what this process lacks.
    expect((err as Error).message).toBe(
      'ENODEV: the save\'s device 00:05.0 needs plugin "dma-toy", which is not loaded',
    );
  });
});
