import { z } from "zod";
import { TransportError } from "./transport-error.js";

/** A parsed channel address. */
export type ChannelAddress =
  | { readonly kind: "tcp" | "tls"; readonly host: string; readonly port: number }
  | { readonly kind: "unix" | "file"; readonly path: string };

const hostSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/, "host must be a name, IPv4 or [IPv6]");

const portSchema = z.coerce.number().int().min(0).max(65535);

const pathSchema = z
  .string()
  .min(2)
  .max(4096)
  .startsWith("/", "path must be absolute")
  .refine((p) => !p.includes("\0"), "path must not contain NUL");

/**
 * zod schema of a channel URL: `tcp://HOST:PORT`, `tls://HOST:PORT`, `unix:///path`,
 * `file:///path`. Port 0 asks a listener for any free port.
 */
export const channelUrlSchema = z.string().transform((text, ctx): ChannelAddress => {
  const m = /^(tcp|tls|unix|file):\/\/(.*)$/.exec(text);
  if (!m) {
    ctx.addIssue({
      code: "custom",
      message: "expected tcp://HOST:PORT, tls://HOST:PORT, unix:///path or file:///path",
    });
    return z.NEVER;
  }
  const kind = m[1] as ChannelAddress["kind"];
  const rest = m[2] ?? "";
  if (kind === "unix" || kind === "file") {
    const path = pathSchema.safeParse(decodeURIComponent(rest));
    if (!path.success) {
      for (const issue of path.error.issues)
        ctx.addIssue({ code: "custom", message: issue.message });
      return z.NEVER;
    }
    return { kind, path: path.data };
  }
  const hp = /^(\[[^\]]*\]|[^:/]*):(\d{1,5})$/.exec(rest);
  const host = hostSchema.safeParse(hp?.[1]);
  const port = portSchema.safeParse(hp?.[2]);
  if (!hp || !host.success || !port.success) {
    ctx.addIssue({
      code: "custom",
      message: `${kind} address must be HOST:PORT with a port 0..65535`,
    });
    return z.NEVER;
  }
  return { kind, host: host.data.replace(/^\[(.*)\]$/, "$1"), port: port.data };
});

/** Parses a channel URL; a malformed one is a TransportError EINVAL naming the problem. */
export function parseChannelUrl(text: string): ChannelAddress {
  const r = channelUrlSchema.safeParse(text);
  if (!r.success)
    throw new TransportError("EINVAL", text, r.error.issues.map((i) => i.message).join("; "));
  return r.data;
}

/** Formats an address back into its URL. */
export function formatChannelUrl(a: ChannelAddress): string {
  if ("path" in a) return `${a.kind}://${a.path}`;
  return `${a.kind}://${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}
