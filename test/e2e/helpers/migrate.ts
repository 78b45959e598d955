import { expectExit, spawnEvents, startTarget } from "./processes.js";
import {
  expectSameVm,
  type SourceSummary,
  sourceResult,
  type TargetSummary,
  targetResult,
} from "./results.js";

/** Extra flags for {@link migrateConfig}'s two processes. */
export interface MigrateConfigArgs {
  readonly target?: readonly string[];
  readonly source?: readonly string[];
}

/**
 * The path every device e2e test takes: a `listen` process, a `migrate --config` process
 * with `--verify-ram`, both exiting 0, and the VM (RAM and every device) arriving
 * identical. Returns both sides' summaries for the device-specific checks. The source
 * auto-converges: on a loaded machine the link can be slower than the guest dirties RAM,
 * and these tests are about the devices, not convergence.
 */
export async function migrateConfig(
  config: string,
  args: MigrateConfigArgs = {},
): Promise<{ src: SourceSummary; dst: TargetSummary }> {
  const target = await startTarget(args.target ?? []);
  const source = spawnEvents([
    "migrate",
    "--to",
    target.url,
    "--config",
    config,
    "--verify-ram",
    "--auto-converge",
    ...(args.source ?? []),
  ]);
  await expectExit(source, { code: 0, signal: null });
  await expectExit(target.child, { code: 0, signal: null });
  const src = sourceResult(source);
  const dst = targetResult(target.child);
  expectSameVm(src, dst);
  return { src, dst };
}
