import { readFileSync } from "node:fs";
import { type ChannelOptions, MdevError } from "@mdevkit/core";

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
      throw new MdevError("ENOENT", `cannot read ${path}: ${(err as Error).message}`);
    }
  };
  if (flags.pskFile !== undefined) {
    const key = Buffer.from(read(flags.pskFile).toString("utf8").trim(), "hex");
    if (key.length < 16)
      throw new MdevError("EINVAL", `${flags.pskFile} must hold a hex key of at least 16 bytes`);
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
        cert: read(flags.tlsCert),
        key: read(flags.tlsKey),
        ca: read(flags.tlsCa),
      },
    };
  }
  return {};
}
