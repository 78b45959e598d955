/** What one precopy iteration did. */
export interface IterationStats {
  /** 1-based iteration number. */
  readonly iteration: number;
  /** Dirty pages the sync before this iteration found. */
  readonly dirtyPagesFound: number;
  /**
   * Of `dirtyPagesFound`, the pages the devices reported (DMA logs, the IOMMU's pinned
   * pages, vendor bitmaps), which no vCPU throttle reduces.
   */
  readonly dirtyPagesByDevices: number;
  /** Data pages sent. */
  readonly dataPages: number;
  /** Zero pages sent as markers. */
  readonly zeroPages: number;
  /**
   * Dirty pages left out because the target holds them already: pinned pages the devices
   * did not write since they were last sent (format version 5; 0 otherwise).
   */
  readonly unchangedPages: number;
  /** Device precopy bytes sent. */
  readonly deviceBytes: number;
  /** Bytes put on the wire. */
  readonly wireBytes: number;
  /** Wall time, ms. */
  readonly durationMs: number;
  /**
   * Measured bandwidth, bytes/s: the pass's wire bytes, plus a page for each page it left
   * out (`unchangedPages`), over its time.
   */
  readonly bandwidth: number;
  /** Downtime expected if switching over now, ms (transfer time plus the fixed costs). */
  readonly expectedDowntimeMs: number;
  /** The part of `expectedDowntimeMs` that is the switchover's measured fixed costs, ms. */
  readonly fixedCostMs?: number;
  /** vCPU throttle in force, percent. */
  readonly throttle: number;
  /**
   * Time the source waited after this pass, before switching over, for the target to apply
   * it (ITERATION_ACK), ms; absent when it did not wait. `bandwidth` then counts that wait:
   * the pass's bytes over the time from its start until the target had applied them.
   */
  readonly catchUpMs?: number;
}

/** Where downtime went, ms. */
export interface DowntimeBreakdown {
  /** Pausing vCPUs and moving devices to STOP_COPY. */
  readonly stopDevicesMs: number;
  /** Final dirty sync and the last RAM pages. */
  readonly finalRamMs: number;
  /** Devices' config spaces and STOP_COPY data. */
  readonly deviceStopCopyMs: number;
  /**
   * Target: loading each device (RESUMING → STOP), by slot, from the start of its load to
   * its end. The devices load side by side, so these overlap: the step takes the longest.
   */
  readonly targetLoadMs: Readonly<Record<string, number>>;
  /** From END sent to LOADED received (target verification and load, plus the wire). */
  readonly endToLoadedMs: number;
  /** From GO sent to RESUMED received (target resumes devices and vCPUs). */
  readonly resumeMs: number;
}

/** A sample of cumulative bytes sent, for throughput charts. */
export interface ThroughputSample {
  /** Ms since the migration started. */
  readonly tMs: number;
  /** Bytes on the wire so far. */
  readonly bytes: number;
}

/** The result of a completed migration, as the source reports it. */
export interface MigrationResult {
  readonly outcome: "completed";
  /** From migrate() to RESUMED, ms. */
  readonly totalTimeMs: number;
  /** From vCPU pause to RESUMED received, ms (an upper bound: includes one wire latency). */
  readonly downtimeMs: number;
  /** Where downtime went. */
  readonly downtime: DowntimeBreakdown;
  /** Precopy iterations. */
  readonly iterations: readonly IterationStats[];
  /** Dirty pages of the final (stop-copy) pass. */
  readonly finalPages: number;
  /**
   * Of `finalPages`, those left out because the target held them already (pinned pages
   * the devices did not write; format version 5, 0 otherwise).
   */
  readonly finalUnchangedPages: number;
  /** Bytes on the wire, whole stream. */
  readonly wireBytes: number;
  /** Data pages sent (a resent page counts again). */
  readonly dataPages: number;
  /** Zero-page markers sent. */
  readonly zeroPages: number;
  /** Device bytes by slot. */
  readonly deviceBytes: Readonly<Record<string, number>>;
  /** Guest RAM size, bytes. */
  readonly ramBytes: number;
  /** Hex RAM digest sent in END. */
  readonly ramDigest: string;
  /** Hex SHA-256 of source RAM at pause, when `verifyRam` was set. */
  readonly ramSha256?: string;
  /** Highest vCPU throttle applied, percent. */
  readonly maxThrottle: number;
  /** Cumulative bytes over time. */
  readonly throughput: readonly ThroughputSample[];
}
