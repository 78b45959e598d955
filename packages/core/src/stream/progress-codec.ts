import type { ByteBuilder } from "./byte-builder.js";
import type { ByteCursor } from "./byte-cursor.js";
import type { IterationAckBody, IterationBody } from "./records.js";

/** ITERATION payload: iteration(u32) reserved(u32) then five u64 counters. */
export const ITERATION_LENGTH = 48;

/** Writes an ITERATION payload. */
export function fillIteration(b: ByteBuilder, body: IterationBody): void {
  b.u32(body.iteration).u32(0);
  b.u64(body.dataPages)
    .u64(body.zeroPages)
    .u64(body.deviceBytes)
    .u64(body.dirtyPages)
    .u64(body.durationUs);
}

/** Decodes an ITERATION payload (its length was checked against the fixed size already). */
export function decodeIteration(c: ByteCursor): IterationBody {
  const iteration = c.u32("iteration");
  if (c.u32("reserved") !== 0) throw c.error("EPROTO", "reserved", "reserved field must be 0");
  const body: IterationBody = {
    type: "ITERATION",
    iteration,
    dataPages: c.u64("data pages"),
    zeroPages: c.u64("zero pages"),
    deviceBytes: c.u64("device bytes"),
    dirtyPages: c.u64("dirty pages"),
    durationUs: c.u64("duration"),
  };
  c.end();
  return body;
}

/** ITERATION_ACK payload: iteration(u32) reserved(u32). */
export const ITERATION_ACK_LENGTH = 8;

/** Writes an ITERATION_ACK payload. */
export function fillIterationAck(b: ByteBuilder, body: IterationAckBody): void {
  b.u32(body.iteration).u32(0);
}

/** Decodes an ITERATION_ACK payload (its length was checked against the fixed size already). */
export function decodeIterationAck(c: ByteCursor): IterationAckBody {
  const iteration = c.u32("iteration");
  if (iteration === 0) throw c.error("EPROTO", "iteration", "iterations are numbered from 1");
  if (c.u32("reserved") !== 0) throw c.error("EPROTO", "reserved", "reserved field must be 0");
  c.end();
  return { type: "ITERATION_ACK", iteration };
}
