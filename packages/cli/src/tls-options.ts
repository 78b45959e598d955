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

/** Channel options from the TLS flags: certificates (all three files) or a PSK file. */
export function channelOptions(flags: TlsFlags): ChannelOptions {
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
