import { createReadStream } from "node:fs";
import {
  countDataPages,
  formatBytes,
  PageDigestTable,
  parseVmConfig,
  StreamDecoder,
  type StreamRecord,
} from "@mdevkit/core";

/** Options of `mdevkit inspect`. */
export interface InspectOptions {
  readonly json: boolean;
  /** Print at most this many RAM_PAGES records (all other records are always shown). */
  readonly ramRecords: number;
}

function describe(r: StreamRecord): Record<string, unknown> {
  switch (r.type) {
    case "HANDSHAKE":
      return {
        devices: r.devices.map((d) => `${d.slot}:${d.plugin}@${d.pluginVersion}/${d.deviceType}`),
        config: JSON.parse(new TextDecoder().decode(r.config)) as unknown,
      };
    case "RAM_PAGES":
      return { startPage: r.startPage, count: r.count, dataPages: countDataPages(r.kinds) };
    case "DEVICE_DATA":
      return {
        slot: r.slot,
        phase: r.phase === 1 ? "PRE_COPY" : "STOP_COPY",
        bytes: r.data.byteLength,
      };
    case "DEVICE_CONFIG":
      return { slot: r.slot, bytes: r.config.byteLength };
    case "DEVICE_INIT_DONE":
      return { slot: r.slot };
    case "ITERATION": {
      const { type: _t, seq: _s, offset: _o, ...rest } = r;
      return rest;
    }
    case "END":
      return {
        dataPages: r.dataPages,
        zeroPages: r.zeroPages,
        ramDigest: Buffer.from(r.ramDigest).toString("hex"),
        devices: r.devices.map((d) => ({
          slot: d.slot,
          bytes: d.bytes,
          digest: Buffer.from(d.digest).toString("hex"),
        })),
      };
    case "ABORT":
      return { reason: r.reason };
    default:
      return {};
  }
}

/**
 * `mdevkit inspect FILE`: decodes a saved stream with the same checks a target applies
 * and prints its records. A damaged file stops at the first bad record with its offset
 * and rule (and a non-zero exit).
 */
export async function inspectCommand(file: string, options: InspectOptions): Promise<void> {
  const decoder = new StreamDecoder();
  // The target's own RAM check: END's digest must match the pages the file carries.
  let table: PageDigestTable | undefined;
  let ramShown = 0;
  let ramHidden = 0;
  // `mdevkit inspect FILE | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
  });
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    for (const r of decoder.push(chunk as Buffer)) {
      if (r.type === "HANDSHAKE") {
        const cfg = parseVmConfig(JSON.parse(new TextDecoder().decode(r.config)));
        const pages = (cfg.memoryMiB * 2 ** 20) / 4096;
        decoder.setGuestPageCount(pages);
        table = new PageDigestTable(pages, decoder.header?.version);
      }
      if (r.type === "RAM_PAGES") table?.record(r);
      if (r.type === "END") table?.check(r.ramDigest);
      if (r.type === "RAM_PAGES" && ramShown >= options.ramRecords) {
        ramHidden++;
        continue;
      }
      if (r.type === "RAM_PAGES") ramShown++;
      const info = describe(r);
      if (options.json)
        out(JSON.stringify({ seq: r.seq, offset: r.offset, type: r.type, ...info }));
      else
        out(
          `#${String(r.seq).padStart(6)} @${String(r.offset).padStart(12)}  ${r.type.padEnd(16)} ${JSON.stringify(info)}`,
        );
    }
  }
  decoder.finish();
  const h = decoder.header;
  const summary = `${decoder.offset} bytes (${formatBytes(decoder.offset)}), format v${h?.version ?? "?"}, ${ramHidden} more RAM_PAGES records not shown; every record and digest checked`;
  if (options.json) out(JSON.stringify({ summary }));
  else out(summary);
}
