import type { MigrationResult } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { renderHtmlReport } from "../src/report/html-report.js";

/** A plausible two-iteration result of a 64 MiB VM with one device. */
function result(): MigrationResult {
  return {
    outcome: "completed",
    totalTimeMs: 684,
    downtimeMs: 83,
    downtime: {
      stopDevicesMs: 1.4,
      finalRamMs: 44.1,
      deviceStopCopyMs: 1.4,
      targetLoadMs: { "00:05.0": 0.34 },
      endToLoadedMs: 34.5,
      resumeMs: 1.6,
    },
    iterations: [
      {
        iteration: 1,
        dirtyPagesFound: 16384,
        dirtyPagesByDevices: 32,
        dataPages: 10948,
        zeroPages: 5436,
        unchangedPages: 0,
        deviceBytes: 24,
        wireBytes: 44_845_443,
        durationMs: 482.9,
        bandwidth: 92_868_155,
        expectedDowntimeMs: 204.7,
        throttle: 0,
      },
      {
        iteration: 2,
        dirtyPagesFound: 4640,
        dirtyPagesByDevices: 32,
        dataPages: 4640,
        zeroPages: 0,
        unchangedPages: 0,
        deviceBytes: 0,
        wireBytes: 19_024_640,
        durationMs: 77.9,
        bandwidth: 244_204_215,
        expectedDowntimeMs: 29.9,
        throttle: 0,
      },
    ],
    finalPages: 1803,
    finalUnchangedPages: 0,
    wireBytes: 71_287_599,
    dataPages: 17391,
    zeroPages: 5436,
    deviceBytes: { "00:05.0": 128 },
    ramBytes: 64 * 2 ** 20,
    ramDigest: "8c9b21c6d42419f9aed8f855a5dab612038cedd2fe5c98a306bf046437b0355c",
    maxThrottle: 0,
    throughput: [
      { tMs: 5.6, bytes: 419 },
      { tMs: 518.5, bytes: 44_845_778 },
      { tMs: 595.2, bytes: 63_870_502 },
      { tMs: 682.2, bytes: 71_287_599 },
    ],
  };
}

const ctx = {
  vmName: "demo-vm",
  destination: "tcp://127.0.0.1:4444",
  machine: "2 × AMD EPYC, Node v20.20.2, linux",
  date: "2026-01-02T03:04:05.000Z",
};

describe("renderHtmlReport", () => {
  const html = renderHtmlReport(result(), ctx);

  it("is one self-contained page: no script, no stylesheet or image fetched from anywhere", () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(/<\/html>\s*$/);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed)\b/i);
    expect(html).not.toMatch(/\s(src|href)\s*=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    // The only URLs allowed are XML namespace names, which nothing fetches.
    const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
    for (const url of urls) expect(url).toBe("http://www.w3.org/2000/svg");
  });

  it("draws the charts as inline SVG: pages and bytes per iteration, throughput, downtime", () => {
    const svgs = html.match(/<svg\b[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs.length).toBeGreaterThanOrEqual(4);
    for (const title of [
      "Pages per iteration",
      "Bytes on the wire per iteration",
      "Throughput over time",
      "Downtime 83 ms",
    ]) {
      expect(html).toContain(title);
    }
    // One bar group per iteration plus the final pass.
    for (const label of [">#1<", ">#2<", ">final<"]) expect(html).toContain(label);
  });

  it("shows the summary numbers", () => {
    expect(html).toContain("<h1>Migration of demo-vm</h1>");
    expect(html).toContain("tcp://127.0.0.1:4444");
    expect(html).toContain(result().ramDigest);
    expect(html).toContain("17391 / 5436");
    expect(html).toContain("00:05.0: 0.3 ms");
  });

  it("escapes what it did not write itself (a VM name is user input)", () => {
    const evil = renderHtmlReport(result(), {
      ...ctx,
      vmName: `<img src=x onerror="alert(1)">`,
      destination: "unix:///tmp/<b>.sock",
    });
    expect(evil).not.toContain("<img");
    expect(evil).not.toContain("<b>");
    expect(evil).toContain("&#60;img src=x onerror=&#34;alert(1)&#34;&#62;");
  });
});
