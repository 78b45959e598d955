// Real save files to mutate: small VMs (so a restore costs little) carrying every plugin's
// device, run for a moment so devices hold state, then saved the way `mdevkit save` does.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILTIN_PLUGINS } from "@mdevkit/cli";
import {
  type ChannelFactory,
  createHost,
  parseVmConfig,
  SimulatedVm,
  saveVm,
  TOKENS,
  type VmConfigInput,
} from "@mdevkit/core";

/** VM configs of the base files: one per device plugin, plus all of them in one VM. */
export const BASE_VMS: readonly VmConfigInput[] = [
  {
    name: "fuzz-mtty",
    memoryMiB: 4,
    vcpus: 1,
    initialFill: 0.2,
    workloads: [{ pattern: "uniform", pagesPerSecond: 2000 }],
    devices: [{ slot: "00:05.0", plugin: "mtty", deviceType: "mtty-2" }],
    deviceTickMs: 2,
    seed: 3,
  },
  {
    name: "fuzz-devices",
    memoryMiB: 8,
    vcpus: 1,
    initialFill: 0.1,
    workloads: [{ pattern: "hot-set", pagesPerSecond: 2000, hotSetPages: 256 }],
    devices: [
      { slot: "00:05.0", plugin: "mtty", deviceType: "mtty-1" },
      { slot: "00:06.0", plugin: "sriov-nic", deviceType: "igbvf-2q" },
      { slot: "00:07.0", plugin: "accel", deviceType: "hisi-zip" },
    ],
    deviceTickMs: 2,
    seed: 5,
  },
  {
    name: "fuzz-gvtg",
    memoryMiB: 8,
    vcpus: 1,
    initialFill: 0.05,
    workloads: [{ pattern: "hot-set", pagesPerSecond: 2000, hotSetPages: 256 }],
    devices: [{ slot: "00:02.0", plugin: "gvt-g", deviceType: "GVTg_TEST" }],
    deviceTickMs: 2,
    seed: 7,
  },
];

/** Saves a VM built from `config` after `runMs` of activity; returns the file's bytes. */
export async function saveFile(config: VmConfigInput, runMs = 150): Promise<Uint8Array> {
  const host = createHost({ name: "fuzz-source", plugins: [...BUILTIN_PLUGINS] });
  const vm = await SimulatedVm.create(parseVmConfig(config), host, { role: "source" });
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-fuzz-save-"));
  try {
    await vm.start();
    await new Promise((r) => setTimeout(r, runMs));
    const file = join(dir, "vm.save");
    const channels = host.container.resolve<ChannelFactory>(TOKENS.ChannelFactory);
    await saveVm(vm, await channels.connect(`file://${file}`));
    return new Uint8Array(readFileSync(file));
  } finally {
    await vm.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every base file, saved fresh. */
export async function baseSaveFiles(): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const config of BASE_VMS) out.push(await saveFile(config));
  return out;
}

/** A scratch directory and a way to write inputs into it (removed by `dispose`). */
export function scratch(): { write(name: string, bytes: Uint8Array): string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-fuzz-"));
  return {
    write(name, bytes) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      return file;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
