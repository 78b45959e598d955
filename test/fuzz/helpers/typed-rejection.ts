// What a refusal of hostile input must look like: a typed mdevkit error with an errno code
// and a one-line message (what an operator sees after `mdevkit: `). Anything else — a
// TypeError, a RangeError from a DataView, an untyped Error, a multi-line message — is a
// crash as far as the fuzzer is concerned.
import { isMdevError, StreamError } from "@mdevkit/core";

/** Longest message accepted: a line, not a dump of the input. */
export const MAX_MESSAGE_LENGTH = 1000;

/**
 * Returns the refusal's key (`CODE rule` or `CODE`) for the statistics, or throws an
 * Error describing why `err` is not an acceptable refusal (the fuzzer's failure).
 */
export function typedRefusal(err: unknown, what: string): string {
  if (!isMdevError(err)) {
    const e = err as Error;
    const detail = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(err);
    throw new Error(`${what}: refused with an untyped error (a crash): ${detail}`, { cause: err });
  }
  if (!/^E[A-Z0-9]+$/.test(err.code) || !err.message.startsWith(`${err.code}: `))
    throw new Error(`${what}: error without an errno code: ${err.message}`);
  if (err.message.includes("\n") || err.message.length > MAX_MESSAGE_LENGTH)
    throw new Error(
      `${what}: message is not one line (${err.message.length} chars): ${JSON.stringify(err.message.slice(0, 300))}`,
    );
  return err instanceof StreamError ? `${err.code} ${err.rule}` : err.code;
}
