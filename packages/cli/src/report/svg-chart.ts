// Tiny inline-SVG charts for the self-contained HTML report: no script, no external asset,
// so the page opens anywhere (CI artifacts, mail) and prints.

/** One bar series. */
export interface BarSeries {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
}

const W = 640;
const H = 240;
const PAD = { left: 64, right: 16, top: 16, bottom: 36 };

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / p) * p;
}

function axis(max: number, format: (v: number) => string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const plotH = H - PAD.top - PAD.bottom;
  return ticks
    .map((t) => {
      const y = PAD.top + plotH * (1 - t);
      return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${escapeXml(format(max * t))}</text>`;
    })
    .join("");
}

/** Grouped bars, one group per category (e.g. per iteration). */
export function barChart(
  title: string,
  categories: readonly string[],
  series: readonly BarSeries[],
  format: (v: number) => string,
): string {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const group = plotW / Math.max(1, categories.length);
  const bar = (group * 0.8) / Math.max(1, series.length);
  const bars = categories
    .map((cat, i) => {
      const x0 = PAD.left + i * group + group * 0.1;
      const rects = series
        .map((s, j) => {
          const v = s.values[i] ?? 0;
          const h = (v / max) * plotH;
          return `<rect x="${x0 + j * bar}" y="${PAD.top + plotH - h}" width="${Math.max(1, bar - 1)}" height="${h}" fill="${s.color}"><title>${escapeXml(`${s.label} ${cat}: ${format(v)}`)}</title></rect>`;
        })
        .join("");
      return `${rects}<text x="${x0 + (group * 0.8) / 2}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="11">${escapeXml(cat)}</text>`;
    })
    .join("");
  return frame(title, axis(max, format) + bars, series);
}

/** A line over (x, y) points. */
export function lineChart(
  title: string,
  points: readonly { x: number; y: number }[],
  color: string,
  formatX: (v: number) => string,
  formatY: (v: number) => string,
): string {
  const maxX = Math.max(1e-9, ...points.map((p) => p.x));
  const maxY = niceMax(Math.max(0, ...points.map((p) => p.y)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const path = points
    .map(
      (p, i) =>
        `${i === 0 ? "M" : "L"}${(PAD.left + (p.x / maxX) * plotW).toFixed(1)},${(PAD.top + plotH - (p.y / maxY) * plotH).toFixed(1)}`,
    )
    .join(" ");
  const xTicks = [0, 0.5, 1]
    .map(
      (t) =>
        `<text x="${PAD.left + t * plotW}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="11">${escapeXml(formatX(maxX * t))}</text>`,
    )
    .join("");
  return frame(
    title,
    `${axis(maxY, formatY)}${xTicks}<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`,
    [],
  );
}

/** One line of a {@link multiLineChart}. */
export interface LineSeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly { x: number; y: number }[];
}

/**
 * Several lines over shared axes, each point marked (benchmark series: a few points each,
 * where the markers matter more than the line between them).
 */
export function multiLineChart(
  title: string,
  series: readonly LineSeries[],
  formatX: (v: number) => string,
  formatY: (v: number) => string,
): string {
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1e-9, ...all.map((p) => p.x));
  const maxY = niceMax(Math.max(0, ...all.map((p) => p.y)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const at = (p: { x: number; y: number }): [string, string] => [
    (PAD.left + (p.x / maxX) * plotW).toFixed(1),
    (PAD.top + plotH - (p.y / maxY) * plotH).toFixed(1),
  ];
  const lines = series
    .map((s) => {
      const path = s.points
        .map((p, i) => {
          const [x, y] = at(p);
          return `${i === 0 ? "M" : "L"}${x},${y}`;
        })
        .join(" ");
      const marks = s.points
        .map((p) => {
          const [x, y] = at(p);
          return `<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"><title>${escapeXml(`${s.label}: ${formatX(p.x)} → ${formatY(p.y)}`)}</title></circle>`;
        })
        .join("");
      return `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>${marks}`;
    })
    .join("");
  const xTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<text x="${PAD.left + t * plotW}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="11">${escapeXml(formatX(maxX * t))}</text>`,
    )
    .join("");
  return frame(
    title,
    `${axis(maxY, formatY)}${xTicks}${lines}`,
    series.map((s) => ({ label: s.label, color: s.color, values: [] })),
  );
}

/** One horizontal stacked bar (e.g. downtime breakdown). */
export function stackedBar(
  title: string,
  parts: readonly { label: string; value: number; color: string }[],
  format: (v: number) => string,
): string {
  const total = parts.reduce((a, p) => a + Math.max(0, p.value), 0) || 1;
  const plotW = W - PAD.left - PAD.right;
  let x = PAD.left;
  const rects = parts
    .map((p) => {
      const w = (Math.max(0, p.value) / total) * plotW;
      const r = `<rect x="${x}" y="${PAD.top + 20}" width="${w}" height="60" fill="${p.color}"><title>${escapeXml(`${p.label}: ${format(p.value)}`)}</title></rect>`;
      x += w;
      return r;
    })
    .join("");
  const legend = parts
    .map(
      (p, i) =>
        `<rect x="${PAD.left + (i % 3) * 200}" y="${PAD.top + 100 + Math.floor(i / 3) * 20}" width="12" height="12" fill="${p.color}"/><text x="${PAD.left + (i % 3) * 200 + 16}" y="${PAD.top + 110 + Math.floor(i / 3) * 20}" font-size="12">${escapeXml(`${p.label}: ${format(p.value)}`)}</text>`,
    )
    .join("");
  return frame(title, rects + legend, []);
}

function frame(title: string, body: string, legend: readonly BarSeries[]): string {
  const keys = legend
    .map(
      (s, i) =>
        `<rect x="${PAD.left + i * 160}" y="2" width="10" height="10" fill="${s.color}"/><text x="${PAD.left + i * 160 + 14}" y="11" font-size="11">${escapeXml(s.label)}</text>`,
    )
    .join("");
  return `<figure><figcaption>${escapeXml(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(title)}">${keys}${body}</svg></figure>`;
}
