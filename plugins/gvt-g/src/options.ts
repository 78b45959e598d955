/**
 * Per-device options from the VM config, validated with zod.
 *
 * - `profile`: "default" (8 render-target pages per completed render workload, a 1 MiB
 *   framebuffer) or "heavy" (64 pages per completion into a 1920×1200 desktop: about
 *   64 MB/s of GPU writes at 60 fps).
 * - `stopCopyOnly`: run this device with STOP_COPY only, as the 2017 prototype did (no
 *   PRE_COPY; the GGTT goes in the stop-and-copy phase).
 * - `streamVersion`: the stream version this device writes (2, or 1 to talk to an older
 *   target; 1 omits the partial-PTE section).
 *
 * The dirty-tracking method is not an option: it is the VM config's core field
 * `dirtyTracking` ("iommu-pinned" = the talk's `pinned`, "vendor-bitmap" = `precise`).
 */
import { MdevError } from "@mdevkit/core";
import { z } from "zod";

/** zod schema of the device options. */
export const gvtgOptionsSchema = z
  .object({
    profile: z.enum(["default", "heavy"]).default("default"),
    stopCopyOnly: z.boolean().default(false),
    streamVersion: z.union([z.literal(1), z.literal(2)]).default(2),
  })
  .strict();

/** Validated device options. */
export type GvtgOptions = z.output<typeof gvtgOptionsSchema>;

/**
 * Validates `options`.
 * @throws MdevError EINVAL naming every problem.
 */
export function parseGvtgOptions(options: unknown): GvtgOptions {
  const r = gvtgOptionsSchema.safeParse(options ?? {});
  if (!r.success) {
    throw new MdevError(
      "EINVAL",
      `gvt-g device options: ${r.error.issues.map((i) => `${i.path.join(".") || "options"}: ${i.message}`).join("; ")}`,
    );
  }
  return r.data;
}

/** Render-target pages one completed rcs0 workload writes, per profile. */
export function renderPagesOf(profile: GvtgOptions["profile"]): number {
  return profile === "heavy" ? 64 : 8;
}
