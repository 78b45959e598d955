/**
 * Most characters of a peer's text quoted in one error message. A reason may be
 * `maxReasonLength` bytes (1024 by default); quoted whole, with the words around it, the
 * message passes the 1000 characters an error line may have.
 */
export const PEER_TEXT_MAX_CHARS = 300;

/**
 * Control characters (C0, DEL, C1), and the Unicode line and paragraph separators and
 * bidirectional overrides: what would break an error onto several lines, drive the
 * terminal it is printed on (ESC sequences), or make it read differently than it is.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `\n`, `\t`, `\r` as themselves; any other unsafe character as `\u{…}`. */
function escaped(ch: string): string {
  switch (ch) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default:
      return `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;
  }
}

/**
 * Text a peer sent (a REJECT, FAILED or ABORT reason), made fit to quote inside an error
 * message: the peer is untrusted, and its words end up on an operator's terminal and in
 * logs. Control characters are escaped, so the message stays one line and cannot forge
 * another (`mdevkit: …`) or send terminal escapes; text past `maxChars` is cut, saying how
 * much was left out, so the message stays bounded. Printable text is kept as it is.
 */
export function quotePeerText(text: string, maxChars: number = PEER_TEXT_MAX_CHARS): string {
  const safe = text.replace(UNSAFE, escaped);
  // Cut by code points, so a surrogate pair is never split.
  const chars = [...safe];
  if (chars.length <= maxChars) return safe;
  return `${chars.slice(0, maxChars).join("")}… (${chars.length - maxChars} more characters)`;
}
