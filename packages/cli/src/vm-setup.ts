import { readFile } from "node:fs/promises";
import {
  type ChannelFactory,
  createHost,
  errnoOf,
  MdevError,
  type MdevHost,
  parseVmConfig,
  SimulatedVm,
  TOKENS,
  type VmConfig,
} from "@mdevkit/core";
import { defaultVmConfig } from "./default-vm.js";
import { compileLazilyFromHere } from "./eager-compile.js";
import { loadPlugins } from "./load-plugins.js";

/** Options every command that builds a VM shares. */
export interface VmSetupOptions {
  readonly config?: string;
  readonly memory?: number;
  readonly plugin?: readonly string[];
}

/** Reads and validates a VM config file (JSON), or the demo's default VM. */
export async function loadVmConfig(options: VmSetupOptions): Promise<VmConfig> {
  if (options.config === undefined) return parseVmConfig(defaultVmConfig(options.memory));
  let text: string;
  try {
    text = await readFile(options.config, "utf8");
  } catch (err) {
    throw new MdevError(
      errnoOf(err, "EIO"),
      `cannot read VM config ${options.config}: ${(err as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MdevError(
      "EINVAL",
      // JSON.parse quotes the text it choked on; a line of the file has no place in the error.
      `VM config ${options.config} is not JSON: ${(err as Error).message.split(/,\s*"/)[0]?.replace(/\s+/g, " ")}`,
    );
  }
  const config = parseVmConfig(json);
  return options.memory === undefined ? config : { ...config, memoryMiB: options.memory };
}

/**
 * A host with the built-in plugins and any `--plugin` modules. The main thread's code has
 * all loaded then, so eager compilation ends here (see {@link compileLazilyFromHere}).
 */
export async function makeHost(name: string, plugins: readonly string[] = []): Promise<MdevHost> {
  const host = createHost({ name, plugins: await loadPlugins(plugins) });
  compileLazilyFromHere();
  return host;
}

/** Builds and starts a source VM. */
export async function startSourceVm(
  options: VmSetupOptions,
): Promise<{ host: MdevHost; vm: SimulatedVm }> {
  const host = await makeHost("source", options.plugin);
  const vm = await SimulatedVm.create(await loadVmConfig(options), host, { role: "source" });
  await vm.start();
  return { host, vm };
}

/** The host's channel factory: every command opens channels by URL through it. */
export function channelsOf(host: MdevHost): ChannelFactory {
  return host.container.resolve<ChannelFactory>(TOKENS.ChannelFactory);
}
