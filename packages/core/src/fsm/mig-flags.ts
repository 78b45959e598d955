/**
 * Migration capability flags (`VFIO_MIGRATION_*`), as reported by
 * VFIO_DEVICE_FEATURE_MIGRATION.
 */
export const MigFlags = {
  /** Mandatory: STOP, RUNNING, STOP_COPY and RESUMING exist. */
  STOP_COPY: 1,
  /** RUNNING_P2P exists (and PRE_COPY_P2P when combined with PRE_COPY). */
  P2P: 2,
  /** PRE_COPY exists, with precopy info. */
  PRE_COPY: 4,
} as const;

/** A combination of {@link MigFlags} bits. */
export type MigFlagSet = number;

/** The four flag sets a device may declare; anything else is refused at registration. */
export const LEGAL_FLAG_SETS: readonly MigFlagSet[] = [
  MigFlags.STOP_COPY,
  MigFlags.STOP_COPY | MigFlags.P2P,
  MigFlags.STOP_COPY | MigFlags.PRE_COPY,
  MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
];

/** True when `flags` is one of {@link LEGAL_FLAG_SETS}. */
export function isLegalFlagSet(flags: unknown): flags is MigFlagSet {
  return typeof flags === "number" && LEGAL_FLAG_SETS.includes(flags);
}

/** `"STOP_COPY|P2P"`-style rendering for messages. */
export function migFlagsName(flags: number): string {
  const names = Object.entries(MigFlags)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name);
  const unknown = flags & ~(MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY);
  if (unknown !== 0) names.push(`0x${(unknown >>> 0).toString(16)}`);
  return names.length > 0 ? names.join("|") : "0";
}
