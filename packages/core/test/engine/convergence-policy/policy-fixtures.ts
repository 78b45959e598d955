import {
  type ConvergenceInput,
  ConvergencePolicy,
  type MigrationOptionsInput,
  parseMigrationOptions,
} from "../../../src/index.js";

/** A policy with the defaults (300 ms downtime limit, 30 iterations) and `options`. */
export function policy(options: MigrationOptionsInput = {}): ConvergencePolicy {
  return new ConvergencePolicy(parseMigrationOptions(options));
}

/** 100 MB/s of measured bandwidth: 30 MB fit the default 300 ms limit. */
export const BANDWIDTH = 100e6;

/**
 * The end of an iteration whose rest fits the limit, acked, initial data sent; the guest
 * dirties RAM as fast as the link moves it, so another pass could not shrink the rest.
 */
export const FITS: ConvergenceInput = {
  dirtyRamBytes: 10e6,
  devicePrecopyBytes: 0,
  deviceStopCopyBytes: 1e6,
  bandwidth: BANDWIDTH,
  dirtyRate: BANDWIDTH,
  switchoverAcked: true,
  initialPrecopyDone: true,
};

/** The end of an iteration whose rest (1 GB at 100 MB/s: 10 s) does not fit. */
export const TOO_MUCH: ConvergenceInput = { ...FITS, dirtyRamBytes: 1e9, dirtyRate: 2e8 };
