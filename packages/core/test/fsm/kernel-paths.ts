// The multi-step paths the kernel documents in vfio_mig_get_next_state() for a device
// with every optional feature (STOP_COPY|P2P|PRE_COPY). Written out independently of
// NEXT_HOP so the table is checked against the kernel's own prose, not against itself.
export const KERNEL_DOCUMENTED_PATHS: readonly string[] = [
  "PRE_COPY -> PRE_COPY_P2P -> STOP_COPY",
  "PRE_COPY -> RUNNING -> RUNNING_P2P",
  "PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP",
  "PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP -> RESUMING",
  "PRE_COPY_P2P -> RUNNING_P2P -> RUNNING",
  "PRE_COPY_P2P -> RUNNING_P2P -> STOP",
  "PRE_COPY_P2P -> RUNNING_P2P -> STOP -> RESUMING",
  "RESUMING -> STOP -> RUNNING_P2P",
  "RESUMING -> STOP -> RUNNING_P2P -> PRE_COPY_P2P",
  "RESUMING -> STOP -> RUNNING_P2P -> RUNNING",
  "RESUMING -> STOP -> RUNNING_P2P -> RUNNING -> PRE_COPY",
  "RESUMING -> STOP -> STOP_COPY",
  "RUNNING -> RUNNING_P2P -> PRE_COPY_P2P",
  "RUNNING -> RUNNING_P2P -> STOP",
  "RUNNING -> RUNNING_P2P -> STOP -> RESUMING",
  "RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY",
  "RUNNING_P2P -> RUNNING -> PRE_COPY",
  "RUNNING_P2P -> STOP -> RESUMING",
  "RUNNING_P2P -> STOP -> STOP_COPY",
  "STOP -> RUNNING_P2P -> PRE_COPY_P2P",
  "STOP -> RUNNING_P2P -> RUNNING",
  "STOP -> RUNNING_P2P -> RUNNING -> PRE_COPY",
  "STOP_COPY -> STOP -> RESUMING",
  "STOP_COPY -> STOP -> RUNNING_P2P",
  "STOP_COPY -> STOP -> RUNNING_P2P -> RUNNING",
];

/**
 * Direct arcs of the uAPI arc table (reference §3), keyed by the flags that make each
 * one a single step. `P2P` / `!P2P` / `PC` are conditions on the device's flags.
 */
export const ARC_TABLE: readonly {
  from: string;
  to: string;
  when: (p2p: boolean, pc: boolean) => boolean;
}[] = [
  { from: "RUNNING", to: "STOP", when: (p2p) => !p2p },
  { from: "STOP", to: "RUNNING", when: (p2p) => !p2p },
  { from: "RUNNING", to: "RUNNING_P2P", when: (p2p) => p2p },
  { from: "RUNNING_P2P", to: "RUNNING", when: (p2p) => p2p },
  { from: "RUNNING_P2P", to: "STOP", when: (p2p) => p2p },
  { from: "STOP", to: "RUNNING_P2P", when: (p2p) => p2p },
  { from: "STOP", to: "STOP_COPY", when: () => true },
  { from: "STOP_COPY", to: "STOP", when: () => true },
  { from: "STOP", to: "RESUMING", when: () => true },
  { from: "RESUMING", to: "STOP", when: () => true },
  { from: "RUNNING", to: "PRE_COPY", when: (_p2p, pc) => pc },
  { from: "PRE_COPY", to: "RUNNING", when: (_p2p, pc) => pc },
  { from: "PRE_COPY", to: "STOP_COPY", when: (p2p, pc) => pc && !p2p },
  { from: "PRE_COPY", to: "PRE_COPY_P2P", when: (p2p, pc) => pc && p2p },
  { from: "PRE_COPY_P2P", to: "PRE_COPY", when: (p2p, pc) => pc && p2p },
  { from: "PRE_COPY_P2P", to: "RUNNING_P2P", when: (p2p, pc) => pc && p2p },
  { from: "PRE_COPY_P2P", to: "STOP_COPY", when: (p2p, pc) => pc && p2p },
  { from: "RUNNING_P2P", to: "PRE_COPY_P2P", when: (p2p, pc) => pc && p2p },
];
