import type { VendorDriver, VendorPlugin } from "@mdevkit/core";
import { describe as vitestDescribe, it as vitestIt } from "vitest";
import { CheckContext } from "./context.js";
import { CONFORMANCE_GROUPS } from "./groups/index.js";
import type { ConformanceOptions } from "./options.js";
import { resolveOptions } from "./options.js";
import { runConformanceCheck, skipReason } from "./runner.js";

/** A check's timeout unless `timeoutMs` sets one: it catches a hang, not a slow check. */
const DEFAULT_CHECK_TIMEOUT_MS = 120_000;

/** The slice of vitest's API the registrar uses; pass your own to run under another instance. */
export interface SuiteApi {
  readonly describe: (name: string, fn: () => void) => void;
  readonly it: {
    (name: string, fn: () => Promise<void>, timeout?: number): void;
    skip: (name: string, fn: () => Promise<void>) => void;
  };
}

/**
 * Registers the conformance suite for `plugin` as vitest `describe`/`it` blocks: one
 * block per group (contract, streams, round trip, bad streams, quiescence, dirty
 * tracking, determinism, host-only values), one test per check. Checks that do not apply
 * — a capability the plugin does not declare, a hook not given — are registered as
 * skipped with the reason, so the report shows what was not verified.
 *
 * Call it at the top level of a test file:
 * ```ts
 * import "reflect-metadata";
 * import { describeVendorDriverConformance } from "@mdevkit/conformance";
 * import { myPlugin } from "../src/index.js";
 * describeVendorDriverConformance(myPlugin, { deviceType: "my-1", exercise, describeState });
 * ```
 */
export function describeVendorDriverConformance<D extends VendorDriver = VendorDriver>(
  plugin: VendorPlugin,
  options: ConformanceOptions<D> = {},
  api: SuiteApi = { describe: vitestDescribe, it: vitestIt },
): void {
  const resolved = resolveOptions(plugin, options);
  const ctx = new CheckContext(plugin, resolved);
  const timeout = resolved.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  api.describe(`conformance: ${plugin.name} ${plugin.version} (${resolved.deviceType})`, () => {
    for (const group of CONFORMANCE_GROUPS) {
      api.describe(group.title, () => {
        for (const check of group.checks) {
          const reason = skipReason(group, check, ctx);
          if (reason !== undefined) {
            api.it.skip(`${check.name} (skipped: ${reason})`, async () => {});
            continue;
          }
          api.it(
            check.name,
            async () => {
              await runConformanceCheck(group, check, plugin, options);
            },
            timeout,
          );
        }
      });
    }
  });
}
