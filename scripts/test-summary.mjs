// What scripts/run-tests.mjs prints for one failed test: the FAILED lines are read at the
// end of CI's output, where the full failure messages turbo printed are long gone.

/** Longest part of a failure message a FAILED line carries: its first line, or a cause. */
export const FAILURE_PART_MAX = 300;

const PROPERTY_FAILED = /Property failed after \d+ tests?/;
/** fast-check's "Got error:" (includeErrorInReport) or a "caused by:" chain's first link. */
const CAUSE = /^(?:Got error|caused by):\s*(.+)$/;

/**
 * The text of a FAILED line for a test whose vitest JSON report gave `messages` (its
 * `failureMessages`, or a suite's `message`): the first non-blank line. A fast-check
 * failure's first line says only "Property failed after N tests", so the line also carries
 * what the counterexample failed with — fast-check's "Got error:" line, or the first
 * "caused by:" line (the conformance suite reports fast-check's `cause` that way; vitest's
 * report keeps no `cause`), or else the counterexample itself.
 * @param {readonly string[] | undefined} messages
 * @returns {string}
 */
export function failureText(messages) {
  const lines = (messages ?? [])
    .join("\n")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const first = clip(lines[0] ?? "");
  if (!PROPERTY_FAILED.test(first)) return first;
  const cause =
    lines.map((line) => CAUSE.exec(line)?.[1]).find((c) => c !== undefined) ??
    lines.find((line) => line.startsWith("Counterexample:"));
  return cause === undefined ? first : `${first} — ${clip(cause)}`;
}

/** `text` cut to {@link FAILURE_PART_MAX} characters, marked when cut. */
function clip(text) {
  return text.length > FAILURE_PART_MAX ? `${text.slice(0, FAILURE_PART_MAX - 1)}…` : text;
}
