import type { VendorDriver, VendorPlugin } from "@mdevkit/core";
import { CheckContext } from "./context.js";
import type { ConformanceCheck, ConformanceGroup } from "./group.js";
import { CONFORMANCE_GROUPS } from "./groups/index.js";
import { type ConformanceOptions, type GroupId, resolveOptions } from "./options.js";
import { ConformanceConfigError, ConformanceViolation } from "./violation.js";

/** Outcome of one check. */
export interface CheckOutcome {
  readonly check: string;
  readonly status: "passed" | "skipped";
  /** Why it was skipped. */
  readonly reason?: string;
}

/** The group with id `id`. */
export function conformanceGroup(id: GroupId): ConformanceGroup {
  const group = CONFORMANCE_GROUPS.find((g) => g.id === id);
  if (group === undefined) throw new ConformanceConfigError(`no conformance group "${id}"`);
  return group;
}

/** Why `check` of `group` does not apply to the plugin in `ctx`, or undefined. */
export function skipReason(
  group: ConformanceGroup,
  check: ConformanceCheck,
  ctx: CheckContext,
): string | undefined {
  return ctx.options.skip?.[group.id] ?? group.skip?.(ctx) ?? check.skip?.(ctx);
}

/**
 * Runs one check as a plain async function. Resolves when the plugin conforms (or the
 * check does not apply); rejects with a {@link ConformanceViolation} naming the group,
 * the check and what was wrong. Configuration mistakes reject with
 * `ConformanceConfigError` instead, so they are never mistaken for a caught bug.
 */
export async function runConformanceCheck<D extends VendorDriver>(
  group: ConformanceGroup,
  check: ConformanceCheck,
  plugin: VendorPlugin,
  options: ConformanceOptions<D> = {},
): Promise<CheckOutcome> {
  const ctx = new CheckContext(plugin, resolveOptions(plugin, options));
  const reason = skipReason(group, check, ctx);
  if (reason !== undefined) return { check: check.name, status: "skipped", reason };
  try {
    await check.run(ctx);
  } catch (err) {
    if (err instanceof ConformanceConfigError) throw err;
    throw new ConformanceViolation(group.id, check.name, describeFailure(err), { cause: err });
  } finally {
    ctx.dispose();
  }
  return { check: check.name, status: "passed" };
}

/**
 * Runs every check of group `id` (or those whose name matches `only`) against `plugin`,
 * stopping at the first violation. This is what mutation tests call: it must reject for
 * a plugin with the bug the group exists to catch, and resolve for a correct one.
 */
export async function runConformanceGroup<D extends VendorDriver>(
  id: GroupId,
  plugin: VendorPlugin,
  options: ConformanceOptions<D> = {},
  filter: { only?: RegExp } = {},
): Promise<CheckOutcome[]> {
  const group = conformanceGroup(id);
  const outcomes: CheckOutcome[] = [];
  for (const check of group.checks) {
    if (filter.only !== undefined && !filter.only.test(check.name)) continue;
    outcomes.push(await runConformanceCheck(group, check, plugin, options));
  }
  if (outcomes.length === 0)
    throw new ConformanceConfigError(`no check of group "${id}" matches ${String(filter.only)}`);
  return outcomes;
}

/**
 * The failure's message with its causes: fast-check reports a counterexample and keeps
 * the check's own message (what rule broke) in `cause`, which is the part a reader needs.
 */
function describeFailure(err: unknown): string {
  const lines: string[] = [];
  let at: unknown = err;
  for (let depth = 0; at !== undefined && depth < 5; depth++) {
    lines.push(at instanceof Error ? at.message : String(at));
    at = at instanceof Error ? at.cause : undefined;
  }
  return lines.join("\n  caused by: ");
}
