import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { type ChannelOptions, errnoOf, MdevError } from "@mdevkit/core";

/** TLS flags of `listen`, `migrate` and `demo`. */
export interface TlsFlags {
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly pskFile?: string;
  readonly pskIdentity?: string;
}

/**
 * Channel options from the TLS flags: certificates (all three files) or a PSK file.
 * Credentials with a non-`tls://` address are refused: silently dropping them would run
 * an unauthenticated, plaintext migration the operator believed protected.
 */
export function channelOptions(flags: TlsFlags, url: string): ChannelOptions {
  const given = (
    [
      ["--tls-cert", flags.tlsCert],
      ["--tls-key", flags.tlsKey],
      ["--tls-ca", flags.tlsCa],
      ["--psk-file", flags.pskFile],
    ] as const
  )
    .filter(([, v]) => v !== undefined)
    .map(([flag]) => flag);
  if (given.length > 0 && !url.startsWith("tls://")) {
    throw new MdevError("EINVAL", `${given.join(", ")} need a tls:// address, not ${url}`);
  }
  return tlsChannelOptions(flags);
}

function tlsChannelOptions(flags: TlsFlags): ChannelOptions {
  const read = (path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new MdevError(errnoOf(err, "ENOENT"), `cannot read ${path}: ${(err as Error).message}`);
    }
  };
  if (flags.pskFile !== undefined) {
    const key = parsePskFile(read(flags.pskFile), flags.pskFile);
    return { tls: { mode: "psk", identity: flags.pskIdentity ?? "mdevkit", key } };
  }
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined || flags.tlsCa !== undefined) {
    if (!flags.tlsCert || !flags.tlsKey || !flags.tlsCa) {
      throw new MdevError(
        "EINVAL",
        "certificate TLS needs --tls-cert, --tls-key and --tls-ca together",
      );
    }
    return {
      tls: {
        mode: "certificate",
        cert: checkedPem(read(flags.tlsCert), flags.tlsCert, "certificate"),
        key: checkedPem(read(flags.tlsKey), flags.tlsKey, "private key"),
        ca: checkedPem(read(flags.tlsCa), flags.tlsCa, "certificate"),
      },
    };
  }
  return {};
}

/**
 * `bytes` if they parse as a PEM `kind`; refused up front, naming the file, so a bad file
 * never surfaces later as an OpenSSL message from inside a connection attempt.
 */
function checkedPem(bytes: Buffer, path: string, kind: "certificate" | "private key"): Buffer {
  try {
    if (kind === "certificate") new X509Certificate(bytes);
    else createPrivateKey(bytes);
  } catch {
    throw new MdevError("EINVAL", `${path} is not a PEM ${kind}`);
  }
  return bytes;
}

/** Shortest pre-shared key accepted, in bytes (128 bits). */
export const MIN_PSK_BYTES = 16;
/** Longest pre-shared key accepted, in bytes (OpenSSL's PSK_MAX_PSK_LEN). */
export const MAX_PSK_BYTES = 512;

/**
 * The key of a PSK file: hex digits only, an even count, optionally followed by one line
 * break. Anything else is refused — `Buffer.from(text, "hex")` stops at the first non-hex
 * character and drops an odd last nibble, so two different files could yield one key.
 * @throws MdevError EINVAL naming the file and what is wrong (never the key itself).
 */
export function parsePskFile(bytes: Uint8Array, path: string): Buffer {
  const text = Buffer.from(bytes)
    .toString("latin1")
    .replace(/\r?\n$/, "");
  const bad = text.search(/[^0-9a-fA-F]/);
  if (bad >= 0) {
    throw new MdevError("EINVAL", `${path}: character ${bad + 1} is not a hex digit`);
  }
  if (text.length % 2 !== 0) {
    throw new MdevError("EINVAL", `${path}: odd number of hex digits (${text.length})`);
  }
  const bytesLength = text.length / 2;
  if (bytesLength < MIN_PSK_BYTES || bytesLength > MAX_PSK_BYTES) {
    throw new MdevError(
      "EINVAL",
      `${path}: key of ${bytesLength} bytes, need ${MIN_PSK_BYTES} to ${MAX_PSK_BYTES}`,
    );
  }
  return Buffer.from(text, "hex");
}
