import { z } from "zod";
import { MdevError } from "../errors/mdev-error.js";
import { ACCEPTED_FORMAT_VERSIONS, FORMAT_VERSION } from "../stream/format.js";

/**
 * Default bound of the paused window, ms: about 30 times the default downtime limit, far
 * above a healthy switchover (well under a second in docs/benchmarks.md), yet short for a
 * guest left frozen by a stalled target.
 */
export const DEFAULT_SWITCHOVER_TIMEOUT_MS = 10_000;

/**
 * Tunables of one migration. Defaults follow QEMU where QEMU has one (downtime limit
 * 300 ms, auto-converge initial 20 % and increment 10 %, unlimited iterations bounded
 * here to keep a non-converging run finite).
 */
export const migrationOptionsSchema = z
  .object({
    /** Largest acceptable pause, in ms (QEMU `downtime-limit`). */
    downtimeLimitMs: z.number().min(1).max(60_000).default(300),
    /** Bandwidth cap in bytes/s; 0 = uncapped (QEMU `max-bandwidth`). */
    maxBandwidth: z.number().min(0).default(0),
    /**
     * Give up after this many precopy iterations that did not converge. Passes that fit the
     * downtime limit and only wait for the target's switchover-ack do not count.
     */
    maxIterations: z.number().int().min(1).max(10_000).default(30),
    /**
     * Extra passes taken when the rest already fits the downtime limit but one more pass is
     * expected to take at least a quarter off the dirty RAM left: each costs a pass over a few
     * thousand pages at most and takes that share of the final RAM off the downtime. 0
     * switches over at the first pass that fits, as QEMU does. They never count against
     * `maxIterations`.
     */
    settlePasses: z.number().int().min(0).max(100).default(3),
    /** Throttle vCPUs when iterations stop converging (QEMU `auto-converge`). */
    autoConverge: z.boolean().default(false),
    /**
     * A pass is "dirty-rate high" when the guest dirtied more than this share of what the
     * pass sent, percent; the second such pass (not necessarily in a row) raises the
     * throttle (QEMU `throttle-trigger-threshold`).
     */
    throttleTriggerThreshold: z.number().int().min(1).max(100).default(50),
    /** First throttle step, percent (QEMU `cpu-throttle-initial`). */
    throttleInitial: z.number().int().min(1).max(99).default(20),
    /** Throttle increment, percent (QEMU `cpu-throttle-increment`). */
    throttleIncrement: z.number().int().min(1).max(99).default(10),
    /** Largest throttle, percent (QEMU caps at 99). */
    throttleMax: z.number().int().min(1).max(99).default(99),
    /** Wait for the target's switchover-ack (devices loaded their initial precopy bytes). */
    switchoverAck: z.boolean().default(true),
    /** Use RUNNING_P2P before STOP_COPY when every device supports P2P. */
    p2p: z.boolean().default(true),
    /** Time allowed for the whole migration before it is cancelled, ms. */
    timeoutMs: z.number().int().min(100).max(86_400_000).default(600_000),
    /**
     * Time the VM may stay paused before the handover is decided, ms: one budget from the
     * pause through the final RAM, the devices' stop-copy data, END, waiting for LOADED and
     * handing GO to the channel. On expiry the source cuts the connection, resumes the VM
     * and fails with ETIMEDOUT. One budget rather than one per phase, because what the guest
     * suffers is the whole pause: per-phase limits would let it stay paused for their sum.
     * Default: {@link DEFAULT_SWITCHOVER_TIMEOUT_MS}, or twice the downtime limit if that is
     * more; it must exceed the downtime limit.
     */
    switchoverTimeoutMs: z.number().int().min(100).max(3_600_000).optional(),
    /**
     * Time allowed for any one answer from the target (ACCEPT, LOADED...), ms, and for the
     * transport to take any bytes of a pending send: a target that stops reading fails the
     * migration (ETIMEDOUT) this long after it last took some. Waits of the bandwidth cap
     * (`maxBandwidth`) are the source's own and do not count.
     */
    peerTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /**
     * After the handover, hash the source's (frozen) guest RAM with SHA-256 and report it,
     * to compare with the target's hash taken before it resumed: a full byte-for-byte check.
     */
    verifyRam: z.boolean().default(false),
    /**
     * Pages' worth of bytes a channel write gathers RAM_PAGES records up to (the last record
     * may take it past). The default, 1 MiB, sends each mostly-data 4 MiB record as soon as
     * it is made, so the target works on it while the source snapshots the next; records of
     * few data pages share a write.
     */
    batchPages: z.number().int().min(1).max(8192).default(256),
    /**
     * Stream format version to write (docs/stream-format.md §10), for a target of an older
     * build: one that reads only up to version 4 refuses this build's version 5 at the
     * header. Default: this build's {@link FORMAT_VERSION}.
     */
    formatVersion: z
      .number()
      .int()
      .min(ACCEPTED_FORMAT_VERSIONS.min)
      .max(ACCEPTED_FORMAT_VERSIONS.max)
      .default(FORMAT_VERSION),
  })
  .refine((o) => o.switchoverTimeoutMs === undefined || o.switchoverTimeoutMs > o.downtimeLimitMs, {
    path: ["switchoverTimeoutMs"],
    message: "must exceed downtimeLimitMs (the pause it bounds includes the downtime)",
  })
  .transform((o) => ({
    ...o,
    switchoverTimeoutMs:
      o.switchoverTimeoutMs ?? Math.max(DEFAULT_SWITCHOVER_TIMEOUT_MS, 2 * o.downtimeLimitMs),
  }));

/** Validated migration options (defaults applied). */
export type MigrationOptions = z.output<typeof migrationOptionsSchema>;
/** Migration options as a caller may give them. */
export type MigrationOptionsInput = z.input<typeof migrationOptionsSchema>;

/** Validates migration options; EINVAL listing every problem. */
export function parseMigrationOptions(input: unknown = {}): MigrationOptions {
  const parsed = migrationOptionsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new MdevError(
      "EINVAL",
      `invalid migration options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}
