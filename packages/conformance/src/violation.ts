/**
 * The one error the suite raises when a plugin breaks the contract. Mutation tests
 * match on it, so a check that fails for the wrong reason (a crash in the suite, a
 * typo in a hook) is told apart from one that caught the bug it exists for.
 */
export class ConformanceViolation extends Error {
  /** Group id of the failing check, e.g. `"contract"`. */
  readonly group: string;
  /** Name of the failing check. */
  readonly check: string;

  constructor(group: string, check: string, message: string, options?: { cause?: unknown }) {
    super(
      `[${group}] ${check}: ${message}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ConformanceViolation";
    this.group = group;
    this.check = check;
  }
}

/**
 * A rule a check found broken, before the runner knows which group and check it was in.
 * The runner turns it into a {@link ConformanceViolation}.
 */
export class ContractBreach extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ContractBreach";
  }
}

/** Throws a {@link ContractBreach} with `message` unless `ok`. */
export function ensure(ok: boolean, message: string | (() => string)): asserts ok {
  if (!ok) throw new ContractBreach(typeof message === "string" ? message : message());
}

/**
 * A mistake in how the suite was configured (a hook that returns nonsense, a device type
 * the plugin does not offer): not the plugin's fault, so it is reported differently.
 */
export class ConformanceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConformanceConfigError";
  }
}
