import { z } from "zod";

/**
 * One line of `--events` output: how `mdevkit demo` (and tests) follow a child
 * `listen`/`migrate` process. Each line is a JSON object with an `event` field; the
 * parent validates every line, since a child's output is input like any other.
 */
export const childEventSchema = z.discriminatedUnion("event", [
  z.object({
    event: z.literal("listening"),
    url: z.string(),
    /** How long preallocating and prefaulting the target's RAM took (`--prealloc`), ms. */
    preallocMs: z.number().nonnegative().optional(),
    /** vCPU threads started ahead for the next VM (`--vcpu-threads`). */
    vcpuThreads: z.number().int().nonnegative().optional(),
  }),
  z.object({ event: z.literal("phase"), phase: z.string() }),
  z.object({
    event: z.literal("progress"),
    phase: z.string(),
    iteration: z.number(),
    wireBytes: z.number(),
    ramPages: z.number(),
    tMs: z.number(),
  }),
  z.object({ event: z.literal("iteration"), stats: z.record(z.string(), z.unknown()) }),
  z.object({
    event: z.literal("result"),
    role: z.enum(["source", "target"]),
    result: z.record(z.string(), z.unknown()),
  }),
  z.object({
    event: z.literal("error"),
    code: z.string(),
    message: z.string(),
    rolledBack: z.boolean().optional(),
    phase: z.string().optional(),
    /** Set on the failure of the `--retry-to` migration (the first attempt's came before). */
    retry: z.boolean().optional(),
  }),
  z.object({
    // A connection that never became a migration here: no HANDSHAKE in time, bytes that
    // are not a stream, a peer that left early, or a VM this target refused (REJECT sent).
    event: z.literal("dropped"),
    peer: z.string(),
    code: z.string(),
    message: z.string(),
  }),
  z.object({
    // After a rolled-back migration, a device whose driver call it abandoned finished the
    // call and was returned to RUNNING (or reset: `problem`).
    event: z.literal("device-recovered"),
    slot: z.string(),
    state: z.string(),
    problem: z.string().optional(),
  }),
  z.object({
    event: z.literal("still-running"),
    vcpuWritesBefore: z.number(),
    vcpuWritesAfter: z.number(),
    ramChanged: z.boolean(),
  }),
]);

/** A parsed child event. */
export type ChildEvent = z.infer<typeof childEventSchema>;

/** Writes one event line to stdout. */
export function emitEvent(event: ChildEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}
