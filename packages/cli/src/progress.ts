import { formatBytes, type MigrationSource } from "@mdevkit/core";
import cliProgress from "cli-progress";

/**
 * Shows a running migration: a live bar on a terminal (phase, iteration, bytes, rate), or
 * one line per iteration elsewhere (CI logs, pipes). Writes to stderr so stdout stays
 * clean for `--json`.
 */
export function showProgress(source: MigrationSource, ramBytes: number): () => void {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format:
          " {phase} | iteration {iteration} | {sent} sent | {rate} | {bar} {percentage}% of RAM once",
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(ramBytes, 0, { phase: "handshake", iteration: 0, sent: "0 B", rate: "-" });
    source.on("progress", (p) => {
      const rate = p.tMs > 0 ? `${formatBytes((p.wireBytes / p.tMs) * 1000)}/s` : "-";
      bar.update(Math.min(ramBytes, p.wireBytes), {
        phase: p.phase,
        iteration: p.iteration,
        sent: formatBytes(p.wireBytes),
        rate,
      });
    });
    return () => bar.stop();
  }
  source.on("phase", (phase) => process.stderr.write(`phase: ${phase}\n`));
  source.on("iteration", (i) =>
    process.stderr.write(
      `iteration ${i.iteration}: ${i.dataPages} data + ${i.zeroPages} zero pages, ${formatBytes(i.wireBytes)} at ${formatBytes(i.bandwidth)}/s, expected downtime ${i.expectedDowntimeMs.toFixed(0)} ms\n`,
    ),
  );
  return () => {};
}
