import type { Errno } from "../errors/errno.js";
import { MdevError, type MdevErrorOptions } from "../errors/mdev-error.js";

/** Phase of a migration, as the source walks it. */
export type MigrationPhase =
  | "handshake"
  | "setup"
  | "precopy"
  | "switchover"
  | "handover"
  | "completed";

/**
 * A migration that did not complete. `rolledBack` says the source VM runs again exactly
 * as before (devices RUNNING, vCPUs resumed, dirty tracking stopped); `problems` lists
 * anything rollback itself could not restore (e.g. a device that had to be reset).
 */
export class MigrationError extends MdevError {
  /** Phase the migration failed in. */
  readonly phase: MigrationPhase;
  /** True when the source VM was returned to running. */
  readonly rolledBack: boolean;
  /** What rollback could not restore, if anything. */
  readonly problems: readonly string[];
  /** Why it failed, without the code and phase the message starts with. */
  readonly reason: string;

  constructor(
    code: Errno,
    phase: MigrationPhase,
    message: string,
    options: MdevErrorOptions & { rolledBack?: boolean; problems?: readonly string[] } = {},
  ) {
    super(code, `migration failed during ${phase}: ${message}`, options);
    this.phase = phase;
    this.rolledBack = options.rolledBack ?? false;
    this.problems = options.problems ?? [];
    this.reason = message;
  }
}
