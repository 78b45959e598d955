import { z } from "zod";
import { DIRTY_TRACKING_METHODS, type DirtyTrackingMethod } from "../contract/vendor-driver.js";
import { MdevError } from "../errors/mdev-error.js";

/** PCI slot `bus:device.function` as Linux prints it, e.g. `00:02.0`. */
const slotSchema = z
  .string()
  .regex(/^[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/, "must be a PCI slot like 00:02.0");

const rate = z.number().int().min(0).max(50_000_000).describe("pages written per second");

/** How one vCPU dirties guest RAM. */
export const workloadSchema = z.discriminatedUnion("pattern", [
  z.strictObject({ pattern: z.literal("idle") }).describe("writes nothing"),
  z
    .strictObject({ pattern: z.literal("uniform"), pagesPerSecond: rate })
    .describe("every page equally likely"),
  z
    .strictObject({
      pattern: z.literal("hot-set"),
      pagesPerSecond: rate,
      hotSetPages: z
        .number()
        .int()
        .min(1)
        .describe("size of the hot set, from page 0 of the vCPU's region"),
      hotFraction: z
        .number()
        .min(0)
        .max(1)
        .default(0.9)
        .describe("share of writes that hit the hot set"),
    })
    .describe("most writes in a small hot set, the rest uniform"),
  z
    .strictObject({ pattern: z.literal("sequential"), pagesPerSecond: rate })
    .describe("a stream walking RAM page by page, wrapping around"),
]);

/** Largest guest RAM a VM config may ask for, in MiB. */
export const MAX_VM_MEMORY_MIB = 16 * 1024;

/** One device of the VM. */
export const deviceConfigSchema = z.strictObject({
  slot: slotSchema,
  plugin: z.string().min(1).max(214),
  deviceType: z.string().min(1).max(128),
  options: z.record(z.string(), z.unknown()).default({}),
  dirtyTracking: z
    .enum(DIRTY_TRACKING_METHODS as [DirtyTrackingMethod, ...DirtyTrackingMethod[]])
    .optional()
    .describe("how the device reports pages it dirties; its plugin's default when absent"),
});

/**
 * A simulated VM's configuration, as read from a JSON file. Validated before anything is
 * allocated; `vmConfigJsonSchema()` gives editors the same rules.
 */
export const vmConfigSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/)
      .default("vm"),
    memoryMiB: z.number().int().min(1).max(MAX_VM_MEMORY_MIB).describe("guest RAM in MiB"),
    vcpus: z.number().int().min(1).max(64).default(1),
    devices: z.array(deviceConfigSchema).max(32).default([]),
    workloads: z
      .array(workloadSchema)
      .max(64)
      .default([])
      .describe("workload of vCPU i; missing ones idle"),
    initialFill: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe("share of pages holding non-zero data when the VM starts; the rest stay zero"),
    deviceTickMs: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe("period of simulated device activity"),
    seed: z.number().int().min(0).max(0xffff_ffff).default(1),
  })
  .superRefine((cfg, ctx) => {
    const slots = new Set<string>();
    cfg.devices.forEach((d, i) => {
      if (slots.has(d.slot))
        ctx.addIssue({
          code: "custom",
          path: ["devices", i, "slot"],
          message: `slot ${d.slot} is used twice`,
        });
      slots.add(d.slot);
    });
    if (cfg.workloads.length > cfg.vcpus) {
      ctx.addIssue({
        code: "custom",
        path: ["workloads"],
        message: `${cfg.workloads.length} workloads for ${cfg.vcpus} vCPUs`,
      });
    }
  });

/** A validated VM configuration (defaults applied). */
export type VmConfig = z.output<typeof vmConfigSchema>;
/** What a VM config file may contain (defaults optional). */
export type VmConfigInput = z.input<typeof vmConfigSchema>;
/** A vCPU workload. */
export type Workload = z.output<typeof workloadSchema>;
/** One configured device. */
export type DeviceConfig = z.output<typeof deviceConfigSchema>;

/**
 * Validates a VM configuration.
 * @throws {@link MdevError} EINVAL listing every problem with its path.
 */
export function parseVmConfig(input: unknown): VmConfig {
  const parsed = vmConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join(".") || "config"}: ${i.message}`,
    );
    throw new MdevError("EINVAL", `invalid VM config: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/** JSON Schema (draft 2020-12) of the VM config file, for editors. */
export function vmConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(vmConfigSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
}
