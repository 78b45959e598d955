import { z } from "zod";
import { MdevError } from "../errors/mdev-error.js";
import { type ByteBuilder, utf8Bytes } from "./byte-builder.js";
import type { ByteCursor } from "./byte-cursor.js";
import type { HandshakeBody, ManifestDevice } from "./records.js";
import type { StreamLimits } from "./stream-limits.js";

/** Manifest entries as decoded, checked with zod after the binary bounds. */
const manifestSchema = z
  .array(
    z.object({
      slot: z.number().int().min(0).max(0xffff),
      plugin: z.string().min(1),
      pluginVersion: z.string().min(1),
      deviceType: z.string().min(1),
      compat: z.instanceof(Uint8Array),
    }),
  )
  .refine((d) => new Set(d.map((x) => x.slot)).size === d.length, "device slots must be unique");

/** Encoded size and writer of a HANDSHAKE payload; refuses (EINVAL) what a decoder would refuse. */
export function handshakePayload(
  body: HandshakeBody,
  limits: StreamLimits,
): { length: number; fill: (b: ByteBuilder) => void } {
  if (body.config.byteLength > limits.maxConfigLength) {
    throw new MdevError(
      "EINVAL",
      `VM config of ${body.config.byteLength} bytes exceeds ${limits.maxConfigLength}`,
    );
  }
  if (body.devices.length > limits.maxDevices) {
    throw new MdevError("EINVAL", `${body.devices.length} devices exceed ${limits.maxDevices}`);
  }
  const checked = manifestSchema.safeParse(body.devices);
  if (!checked.success)
    throw new MdevError("EINVAL", `invalid manifest: ${z.prettifyError(checked.error)}`);
  const strings = body.devices.map((d) => [d.plugin, d.pluginVersion, d.deviceType].map(utf8Bytes));
  let length = 4 + body.config.byteLength + 2;
  body.devices.forEach((d, i) => {
    for (const s of strings[i] ?? []) {
      if (s.byteLength > limits.maxStringLength) {
        throw new MdevError(
          "EINVAL",
          `slot ${d.slot}: string of ${s.byteLength} bytes exceeds ${limits.maxStringLength}`,
        );
      }
      length += 1 + s.byteLength;
    }
    if (d.compat.byteLength > limits.maxCompatLength) {
      throw new MdevError(
        "EINVAL",
        `slot ${d.slot}: compat blob exceeds ${limits.maxCompatLength} bytes`,
      );
    }
    length += 2 + 4 + d.compat.byteLength;
  });
  const fill = (b: ByteBuilder): void => {
    b.u32(body.config.byteLength).raw(body.config).u16(body.devices.length);
    body.devices.forEach((d, i) => {
      b.u16(d.slot);
      for (const s of strings[i] ?? []) b.u8(s.byteLength).raw(s);
      b.u32(d.compat.byteLength).raw(d.compat);
    });
  };
  return { length, fill };
}

/** Decodes a HANDSHAKE payload; strings, counts and blobs are bounded before they are read. */
export function decodeHandshake(c: ByteCursor, limits: StreamLimits): HandshakeBody {
  const config = c.bytes(c.u32("config length"), "config", limits.maxConfigLength);
  const count = c.u16("device count");
  if (count > limits.maxDevices)
    throw c.error("E2BIG", "device-count", `${count} devices exceed ${limits.maxDevices}`);
  const devices: ManifestDevice[] = [];
  for (let i = 0; i < count; i++) {
    const slot = c.u16("slot");
    const plugin = c.string8("plugin", limits.maxStringLength);
    const pluginVersion = c.string8("plugin version", limits.maxStringLength);
    const deviceType = c.string8("device type", limits.maxStringLength);
    const compat = c.bytes(c.u32("compat length"), "compat", limits.maxCompatLength);
    devices.push({ slot, plugin, pluginVersion, deviceType, compat });
  }
  c.end();
  const checked = manifestSchema.safeParse(devices);
  if (!checked.success) throw c.error("EPROTO", "manifest", z.prettifyError(checked.error));
  return { type: "HANDSHAKE", config, devices };
}
