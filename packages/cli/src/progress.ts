import { formatBytes, type MigrationSource } from "@mdevkit/core";
import cliProgress from "cli-progress";
import type { MdevkitChild } from "./child.js";
import type { ChildEvent } from "./events.js";

/** Where one line of progress text goes (stderr for the CLI). */
export type PhaseLog = (line: string) => void;

/** Fewest ms between two progress lines when stderr is not a terminal (CI logs, pipes). */
const LINE_EVERY_MS = 1000;

/** What a display needs from one progress sample, whichever process produced it. */
interface Sample {
  readonly phase: string;
  readonly iteration: number;
  readonly wireBytes: number;
  readonly ramPages: number;
  readonly tMs: number;
}

/** What a display needs from one finished iteration. */
interface IterationLine {
  readonly iteration: number;
  readonly dataPages: number;
  readonly zeroPages: number;
  readonly wireBytes: number;
  readonly bandwidth: number;
  readonly expectedDowntimeMs?: number;
}

/** A display fed with phases, samples and iterations; `stop` ends it. */
interface Display {
  phase(phase: string): void;
  progress(sample: Sample): void;
  iteration(i: IterationLine): void;
  stop(): void;
}

const rateOf = (s: Sample): string =>
  s.tMs > 0 ? `${formatBytes((s.wireBytes / s.tMs) * 1000)}/s` : "-";

/** Share of RAM's pages sent at least once, in whole percent (what the bar shows). */
const percentOf = (s: Sample, ramPages: number): number =>
  ramPages > 0 ? Math.floor((Math.min(ramPages, s.ramPages) / ramPages) * 100) : 0;

/**
 * A live bar on a terminal (phase, iteration, bytes, average rate; it fills with the guest
 * pages sent against `ramPages`, so the first pass fills it), or on anything else one line
 * per phase and iteration plus a progress line at most every second, so a long RAM pass
 * shows in a CI log too. Writes through `log`/stderr so stdout stays clean for `--json`.
 */
function display(ramPages: number, log: PhaseLog): Display {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format:
          " {phase} | iteration {iteration} | {sent} sent | {rate} | {bar} {percentage}% of RAM sent once",
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let value = 0;
    bar.start(ramPages, 0, { phase: "handshake", iteration: 0, sent: "0 B", rate: "-" });
    return {
      phase: (phase) => bar.update(value, { phase }),
      progress: (s) => {
        value = Math.min(ramPages, s.ramPages);
        bar.update(value, {
          phase: s.phase,
          iteration: s.iteration,
          sent: formatBytes(s.wireBytes),
          rate: rateOf(s),
        });
      },
      iteration: () => {},
      stop: () => bar.stop(),
    };
  }
  let lastLine = Number.NEGATIVE_INFINITY;
  return {
    phase: (phase) => log(`phase: ${phase}`),
    progress: (s) => {
      if (s.tMs - lastLine < LINE_EVERY_MS) return;
      lastLine = s.tMs;
      log(
        `  ${(s.tMs / 1000).toFixed(1)} s: ${formatBytes(s.wireBytes)} sent, ${percentOf(s, ramPages)}% of RAM once (${s.phase}, iteration ${s.iteration}), ${rateOf(s)} on average`,
      );
    },
    iteration: (i) =>
      log(
        `iteration ${i.iteration}: ${i.dataPages} data + ${i.zeroPages} zero pages, ${formatBytes(i.wireBytes)} at ${formatBytes(i.bandwidth)}/s${i.expectedDowntimeMs === undefined ? "" : `, expected downtime ${i.expectedDowntimeMs.toFixed(0)} ms`}`,
      ),
    stop: () => {},
  };
}

/** Shows a migration running in this process (`mdevkit migrate`). Returns a stop function. */
export function showProgress(source: MigrationSource, ramPages: number): () => void {
  const d = display(ramPages, (line) => process.stderr.write(`${line}\n`));
  source.on("phase", (phase) => d.phase(phase));
  source.on("progress", (p) => d.progress(p));
  source.on("iteration", (i) => d.iteration(i));
  return () => d.stop();
}

/** Shows a migration running in a child `migrate --events` process (`mdevkit demo`). */
export function followChildProgress(
  source: MdevkitChild,
  ramPages: number,
  log: PhaseLog,
): () => void {
  const d = display(ramPages, log);
  source.on((e: ChildEvent) => {
    if (e.event === "phase") d.phase(e.phase);
    else if (e.event === "progress") d.progress(e);
    else if (e.event === "iteration") d.iteration(e.stats as unknown as IterationLine);
  });
  return () => d.stop();
}
