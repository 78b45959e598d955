import type { CheckContext } from "./context.js";
import type { GroupId } from "./options.js";

/** One invariant check: a plain async function that throws on violation. */
export interface ConformanceCheck {
  /** Name shown as the test title and in violations. */
  readonly name: string;
  /** Reason to skip for this plugin (a missing capability or hook), or undefined to run. */
  skip?(ctx: CheckContext): string | undefined;
  /** Runs the check; throws `ContractBreach` (or lets a harness error escape) on violation. */
  run(ctx: CheckContext): Promise<void>;
}

/** A group of checks: one file under `src/groups/`, one `describe` block in vitest. */
export interface ConformanceGroup {
  readonly id: GroupId;
  /** Title of the `describe` block. */
  readonly title: string;
  /** What bug the group exists to catch, for the docs and the skip message. */
  readonly catches: string;
  /** Reason to skip the whole group for this plugin, or undefined. */
  skip?(ctx: CheckContext): string | undefined;
  readonly checks: readonly ConformanceCheck[];
}
