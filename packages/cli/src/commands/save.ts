import { resolve } from "node:path";
import { formatBytes, saveVm } from "@mdevkit/core";
import { table } from "../summary.js";
import { channelsOf, startSourceVm, type VmSetupOptions } from "../vm-setup.js";

/** Options of `mdevkit save`. */
export interface SaveOptions extends VmSetupOptions {
  readonly warmup: number;
  readonly json: boolean;
  /** Stream format version to write (`--format-version`); this build's by default. */
  readonly formatVersion?: number;
}

/** `mdevkit save FILE`: runs the VM for `--warmup` ms, then saves it (virsh-save style). */
export async function saveCommand(file: string, options: SaveOptions): Promise<void> {
  const { host, vm } = await startSourceVm(options);
  try {
    await new Promise((r) => setTimeout(r, options.warmup));
    const result = await saveVm(
      vm,
      await channelsOf(host).connect(`file://${resolve(file)}`),
      options.formatVersion === undefined ? {} : { formatVersion: options.formatVersion },
    );
    if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(
        `Saved ${vm.config.name} to ${file}\n${table([
          ["size", formatBytes(result.bytes)],
          ["data / zero pages", `${result.dataPages} / ${result.zeroPages}`],
          ["paused for", `${result.pausedMs.toFixed(1)} ms`],
          ["RAM digest", result.ramDigest],
        ])}\n`,
      );
    }
  } finally {
    await vm.destroy();
  }
}
