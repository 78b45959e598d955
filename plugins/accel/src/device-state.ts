/**
 * The accelerator's architectural state as plain data: what the stream carries, what
 * `describeState` shows, and what a restore applies. Only guest-visible values: guest
 * physical addresses the guest programmed, register values, ring pointers.
 */
import type { RingState } from "./ring.js";

/** `QM_VF_STATE`: whether a guest VF driver ever initialised the queues. */
export const QmState = { NOT_READY: 0, READY: 1 } as const;
/** A `QM_VF_STATE` value. */
export type QmState = (typeof QmState)[keyof typeof QmState];

/** Interrupt and PF↔VF communication registers (hisi `acc_vf_data` register block). */
export interface QmRegs {
  /** Non-zero masks the EQ interrupt (events then latch in `pendingIrq.eq`). */
  readonly eqIntMask: number;
  /** Non-zero masks the AEQ interrupt. */
  readonly aeqIntMask: number;
  /** PF↔VF communication interrupt source (hisi IFC). */
  readonly pfvfIntSource: number;
  /** PF↔VF communication interrupt mask. */
  readonly pfvfIntMask: number;
  /** PF↔VF communication interrupt set. */
  readonly pfvfIntSet: number;
  /** Page size the guest driver programmed. */
  readonly pageSize: number;
}

/** Names of the registers the guest may write. */
export type QmRegName = keyof QmRegs;

/** Register values after reset (everything masked until a guest driver sets up). */
export const POWER_ON_REGS: QmRegs = {
  eqIntMask: 1,
  aeqIntMask: 1,
  pfvfIntSource: 0,
  pfvfIntMask: 1,
  pfvfIntSet: 0,
  pageSize: 4096,
};

/** One queue pair's device-cached context. */
export interface QpState {
  /** Queue pair number within the VF. */
  readonly qpn: number;
  /** The submission queue. */
  readonly sq: RingState;
  /** The completion queue (its `phase` is the CQE phase the device writes next). */
  readonly cq: RingState;
  /** Whether the arbiter fetches from this pair's SQ (QAT `ringsrvarben`). */
  readonly arbEnable: boolean;
}

/** The guest's DMA window the device was given (and, under IOMMU tracking, pinned). */
export interface DmaWindow {
  /** Guest-physical base, page aligned. */
  readonly base: number;
  /** Length in bytes, a multiple of 4096. */
  readonly bytes: number;
}

/** Everything the device holds, as plain data. */
export interface AccelDeviceState {
  /** Whether a guest driver set the VF up. */
  readonly qmState: QmState;
  /** Interrupt and PF↔VF registers. */
  readonly regs: QmRegs;
  /** The guest's DMA window. */
  readonly window: DmaWindow;
  /** The event queue (one entry per completion). */
  readonly eq: RingState;
  /** The asynchronous event queue (errors). */
  readonly aeq: RingState;
  /** Guest-physical base of the SQC table (`SQC_BT`). */
  readonly sqcTableGpa: number;
  /** Guest-physical base of the CQC table (`CQC_BT`). */
  readonly cqcTableGpa: number;
  /** Every queue pair's cached context. */
  readonly qps: readonly QpState[];
  /** Events written while their interrupt was masked: raised once unmasked. */
  readonly pendingIrq: { readonly eq: boolean; readonly aeq: boolean };
}

/** Interrupt vector of the event queue. */
export const EQ_VECTOR = 0;
/** Interrupt vector of the asynchronous event queue. */
export const AEQ_VECTOR = 1;

/** AEQE types. */
export const AeqType = {
  /** Reading an SQE faulted; the pair's arbiter was switched off. */
  SQE_FAULT: 1,
} as const;

/**
 * The seven EQC dwords the hardware keeps for an event queue (hisi `qm_eqc_dw`): dw0
 * flags/phase, dw1 base low, dw2 base high, dw3 depth, dw4 head, dw5 tail, dw6 full.
 */
export function eqcDwords(eq: RingState): number[] {
  return [
    0x10000 | (eq.phase & 1),
    eq.baseGpa % 2 ** 32,
    Math.floor(eq.baseGpa / 2 ** 32),
    eq.depth,
    eq.head,
    eq.tail,
    eq.full ? 1 : 0,
  ];
}

/** The base a v1 stream recorded: `dw[1] << 32 | dw[0]`, the wrong dwords (the hisi bug). */
export function v1BuggyBase(dw: readonly number[]): bigint {
  return (BigInt(dw[1]!) << 32n) | BigInt(dw[0]!);
}

/** The correct base from EQC dwords: `dw[2] << 32 | dw[1]` (hisi `XQC_ADDR_HIGH/LOW`). */
export function fixedBase(dw: readonly number[]): number {
  return dw[2]! * 2 ** 32 + dw[1]!;
}
