import { resolve } from "node:path";
import { MigrationTarget, PluginNotLoadedError, type TargetResult } from "@mdevkit/core";
import { table } from "../summary.js";
import { channelsOf, makeHost } from "../vm-setup.js";

/** Options of `mdevkit restore`. */
export interface RestoreOptions {
  readonly runFor: number;
  readonly json: boolean;
  readonly verifyRam: boolean;
  readonly plugin: string[];
  /** Memory budget, MiB: a save whose VM has more guest RAM is refused before allocation. */
  readonly maxMemory?: number;
  /** Most vCPUs of the saved VM (default: four per CPU here, at least 8). */
  readonly maxVcpus?: number;
  /** Most device state the saved VM's devices may hold, MiB (default 256). */
  readonly maxDeviceState?: number;
}

/**
 * `mdevkit restore FILE`: rebuilds the VM from a save file — every record and the END
 * digests checked before anything runs — then runs it for `--run-for` ms. A save whose VM
 * is larger than `--max-memory` (default: half of this machine's RAM) is refused before
 * its RAM is allocated.
 */
export async function restoreCommand(file: string, options: RestoreOptions): Promise<void> {
  const host = await makeHost("restore", options.plugin);
  const result = await new MigrationTarget(
    host,
    channelsOf(host).openRestore(`file://${resolve(file)}`),
    {
      verifyRam: options.verifyRam,
      ...(options.maxMemory === undefined ? {} : { maxMemoryMiB: options.maxMemory }),
      ...(options.maxVcpus === undefined ? {} : { maxVcpus: options.maxVcpus }),
      ...(options.maxDeviceState === undefined
        ? {}
        : { maxDeviceStateMiB: options.maxDeviceState }),
    },
  )
    .receive()
    .catch(sayHowToLoad);
  try {
    const writes = result.vm.vcpuWrites;
    await new Promise((r) => setTimeout(r, options.runFor));
    const summary = {
      vm: result.vm.config.name,
      ramDigest: result.ramDigest,
      ramSha256: result.ramSha256,
      deviceLoadMs: result.deviceLoadMs,
      devices: result.devices,
      vcpuWritesAfterRun: result.vm.vcpuWrites - writes,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      process.stdout.write(
        `Restored ${summary.vm} from ${file}; it ran ${options.runFor} ms\n${table([
          ["RAM digest", summary.ramDigest],
          ...Object.entries(summary.deviceLoadMs).map(([slot, t]): [string, string] => [
            `load ${slot}`,
            `${t.toFixed(2)} ms`,
          ]),
          ["vCPU page writes since", String(summary.vcpuWritesAfterRun)],
        ])}\n`,
      );
    }
  } finally {
    await result.vm.destroy();
  }
}

/** Core knows which plugin a save needs; only the command knows how one is loaded. */
function sayHowToLoad(err: unknown): TargetResult {
  if (!(err instanceof PluginNotLoadedError)) throw err;
  throw new PluginNotLoadedError(
    err.slot,
    err.plugin,
    "load it with --plugin SPEC (its module file, package directory or package name)",
    { cause: err },
  );
}
