import { formatBytes, type MigrationResult } from "@mdevkit/core";

const ms = (v: number): string => `${v.toFixed(v < 100 ? 1 : 0)} ms`;

/** A two-column table, aligned, for terminals. */
export function table(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}

/**
 * The per-iteration table. "by devices" is the part of the dirty pages found that the
 * devices reported (no vCPU throttle reduces it); "held" the dirty pages left out because
 * the target held them already (pinned pages no device wrote). "catch-up" is how long the source waited
 * after the pass for the target to apply it before switching over; the rate then runs up
 * to the target's ack.
 */
export function iterationTable(result: MigrationResult): string {
  const head = [
    "iter",
    "dirty found",
    "by devices",
    "data pages",
    "zero pages",
    "held",
    "dev bytes",
    "wire",
    "time",
    "catch-up",
    "rate",
    "exp. downtime",
    "throttle",
  ];
  const rows = result.iterations.map((i) => [
    String(i.iteration),
    String(i.dirtyPagesFound),
    String(i.dirtyPagesByDevices),
    String(i.dataPages),
    String(i.zeroPages),
    String(i.unchangedPages),
    formatBytes(i.deviceBytes),
    formatBytes(i.wireBytes),
    ms(i.durationMs),
    i.catchUpMs === undefined ? "–" : ms(i.catchUpMs),
    `${formatBytes(i.bandwidth)}/s`,
    ms(i.expectedDowntimeMs),
    `${i.throttle}%`,
  ]);
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => (r[c] as string).length)),
  );
  const line = (cells: readonly string[]): string =>
    `  ${cells.map((x, c) => x.padStart(widths[c] as number)).join("  ")}`;
  return [line(head), ...rows.map(line)].join("\n");
}

/** The summary of a completed migration. */
export function migrationSummary(
  result: MigrationResult,
  extra: readonly (readonly [string, string])[] = [],
): string {
  const d = result.downtime;
  const load = Object.entries(d.targetLoadMs);
  return [
    "Migration completed",
    table([
      ["total time", ms(result.totalTimeMs)],
      ["downtime", ms(result.downtimeMs)],
      ["  stop devices", ms(d.stopDevicesMs)],
      [
        "  final RAM",
        `${ms(d.finalRamMs)} (${result.finalPages} pages${
          result.finalUnchangedPages > 0
            ? `, ${result.finalUnchangedPages} left out: the target held them`
            : ""
        })`,
      ],
      ["  device stop-copy", ms(d.deviceStopCopyMs)],
      [
        "  target verify + load",
        ms(d.endToLoadedMs) +
          (load.length ? ` (${load.map(([s, t]) => `${s} ${ms(t)}`).join(", ")})` : ""),
      ],
      ["  resume", ms(d.resumeMs)],
      ["guest RAM", formatBytes(result.ramBytes)],
      ["bytes on the wire", formatBytes(result.wireBytes)],
      ["data / zero pages", `${result.dataPages} / ${result.zeroPages}`],
      [
        "device bytes",
        Object.entries(result.deviceBytes)
          .map(([s, b]) => `${s} ${formatBytes(b)}`)
          .join(", ") || "none",
      ],
      ["max vCPU throttle", `${result.maxThrottle}%`],
      ...extra,
    ]),
    "",
    iterationTable(result),
  ].join("\n");
}
