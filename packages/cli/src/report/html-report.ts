import { formatBytes, type MigrationResult } from "@mdevkit/core";
import { barChart, lineChart, stackedBar } from "./svg-chart.js";

function escapeHtml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const ms = (v: number): string => `${v.toFixed(v < 10 ? 1 : 0)} ms`;
const pages = (v: number): string =>
  v >= 1000 ? `${(v / 1000).toFixed(v < 10_000 ? 1 : 0)}k` : `${Math.round(v)}`;

/** What the report shows besides the result itself. */
export interface ReportContext {
  /** VM name. */
  readonly vmName: string;
  /** Where the VM went (channel URL). */
  readonly destination: string;
  /** Machine description, e.g. "2 × AMD EPYC, Node v20.20.2". */
  readonly machine: string;
  /** When the report was made (ISO). */
  readonly date: string;
  /** More rows for the summary table (e.g. the demo's setup phases). */
  readonly extra?: readonly (readonly [string, string])[];
}

/**
 * A self-contained HTML page (inline CSS and SVG, no scripts) with the migration's
 * summary, dirty pages and bytes per iteration, throughput over time and the downtime
 * breakdown.
 */
export function renderHtmlReport(result: MigrationResult, ctx: ReportContext): string {
  const its = result.iterations;
  const cats = its.map((i) => `#${i.iteration}`).concat("final");
  const dirty = barChart(
    "Pages per iteration",
    cats,
    [
      {
        label: "dirty pages found",
        color: "#d62728",
        values: its.map((i) => i.dirtyPagesFound).concat(result.finalPages),
      },
      { label: "data pages sent", color: "#1f77b4", values: its.map((i) => i.dataPages) },
      { label: "zero pages (markers)", color: "#aec7e8", values: its.map((i) => i.zeroPages) },
    ],
    pages,
  );
  const bytes = barChart(
    "Bytes on the wire per iteration",
    its.map((i) => `#${i.iteration}`),
    [{ label: "wire bytes", color: "#2ca02c", values: its.map((i) => i.wireBytes) }],
    formatBytes,
  );
  const samples = result.throughput;
  const rate = samples.slice(1).map((s, i) => {
    const prev = samples[i] as (typeof samples)[number];
    const dt = (s.tMs - prev.tMs) / 1000;
    return { x: s.tMs / 1000, y: dt > 0 ? (s.bytes - prev.bytes) / dt : 0 };
  });
  const throughput = lineChart(
    "Throughput over time",
    rate,
    "#9467bd",
    (v) => `${v.toFixed(1)} s`,
    (v) => `${formatBytes(v)}/s`,
  );
  const d = result.downtime;
  // The devices load side by side: the step takes as long as the slowest, not the sum.
  const load = Math.max(0, ...Object.values(d.targetLoadMs));
  const breakdown = stackedBar(
    `Downtime ${ms(result.downtimeMs)}`,
    [
      { label: "stop devices", value: d.stopDevicesMs, color: "#8c564b" },
      { label: "final RAM", value: d.finalRamMs, color: "#1f77b4" },
      { label: "device stop-copy", value: d.deviceStopCopyMs, color: "#ff7f0e" },
      { label: "target verify + load", value: d.endToLoadedMs, color: "#2ca02c" },
      { label: "resume", value: d.resumeMs, color: "#9467bd" },
    ],
    ms,
  );
  const rows: [string, string][] = [
    ["VM", ctx.vmName],
    ["destination", ctx.destination],
    ["guest RAM", formatBytes(result.ramBytes)],
    ["total time", ms(result.totalTimeMs)],
    ["downtime", ms(result.downtimeMs)],
    [
      "device load on target (side by side)",
      `${ms(load)}, the slowest (${
        Object.entries(d.targetLoadMs)
          .map(([slot, t]) => `${slot}: ${ms(t)}`)
          .join(", ") || "no devices"
      })`,
    ],
    ["iterations", String(its.length)],
    ["data pages / zero pages", `${result.dataPages} / ${result.zeroPages}`],
    ["bytes on the wire", formatBytes(result.wireBytes)],
    ["max vCPU throttle", `${result.maxThrottle}%`],
    ["RAM digest (END)", result.ramDigest],
    ...(ctx.extra ?? []).map(([k, v]): [string, string] => [k, v]),
    ["machine", ctx.machine],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mdevkit migration report — ${escapeHtml(ctx.vmName)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em auto;max-width:720px;color:#222}table{border-collapse:collapse}td{padding:2px 12px 2px 0;vertical-align:top}td:first-child{color:#666}figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:4px}code{font-size:12px}</style>
</head><body>
<h1>Migration of ${escapeHtml(ctx.vmName)}</h1>
<p>${escapeHtml(ctx.date)}</p>
<table>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${k.startsWith("RAM digest") ? `<code>${escapeHtml(v)}</code>` : escapeHtml(v)}</td></tr>`).join("")}</table>
${dirty}
${bytes}
${throughput}
${breakdown}
</body></html>
`;
}
