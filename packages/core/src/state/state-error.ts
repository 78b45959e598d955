import type { MdevErrorOptions } from "../errors/mdev-error.js";
import { type StreamErrno, StreamError } from "../errors/stream-error.js";

/**
 * A plugin state stream broke a rule. It is a {@link StreamError} (record type = section tag,
 * offset, rule) that also names the section's `tag` and, for version refusals, the section's
 * `version` and the newest one the reader `supported`.
 */
export class StateError extends StreamError {
  /** Tag of the section involved, or `"STATE_HEADER"`. */
  readonly tag: string;
  /** Version the stream carried, when the rule is about versions. */
  readonly version: number | undefined;
  /** Newest version the reader supports, when the rule is about versions. */
  readonly supported: number | undefined;

  constructor(
    code: StreamErrno,
    tag: string,
    offset: number,
    rule: string,
    detail: string,
    versions: { version?: number; supported?: number } = {},
    options?: MdevErrorOptions,
  ) {
    super(code, tag, offset, rule, detail, options);
    this.tag = tag;
    this.version = versions.version;
    this.supported = versions.supported;
  }
}
