import semver from "semver";
import { z } from "zod";
import { isLegalFlagSet, migFlagsName } from "../fsm/mig-flags.js";
import { DIRTY_TRACKING_METHODS } from "./vendor-driver.js";

const trackingMethods = z
  .array(z.enum(DIRTY_TRACKING_METHODS as [string, ...string[]]))
  .min(1, "must offer at least one dirty-tracking method")
  .refine((m) => new Set(m).size === m.length, "dirty-tracking methods must be unique");

const isFunction = (v: unknown): v is (...args: never[]) => unknown => typeof v === "function";

/** zod schema of a {@link VendorPlugin} manifest, applied at registration. */
export const vendorPluginSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(214)
      .regex(
        /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/,
        "must be a lowercase npm-style package name",
      ),
    version: z.string().refine((v) => semver.valid(v) !== null, "must be a semver version"),
    engine: z.string().refine((v) => semver.validRange(v) !== null, "must be a semver range"),
    deviceTypes: z
      .array(
        z.object({
          name: z.string().min(1).max(128),
          description: z.string().max(1000).optional(),
          dirtyTracking: trackingMethods.optional(),
        }),
      )
      .min(1, "must offer at least one device type")
      .refine(
        (types) => new Set(types.map((t) => t.name)).size === types.length,
        "device type names must be unique",
      ),
    migrationFlags: z.number().superRefine((flags, ctx) => {
      if (!isLegalFlagSet(flags)) {
        ctx.addIssue({
          code: "custom",
          message: `${migFlagsName(flags)} is not a legal flag set (STOP_COPY, optionally with P2P and/or PRE_COPY)`,
        });
      }
    }),
    dirtyTracking: trackingMethods,
    checkCompatible: z.custom<(...args: never[]) => unknown>(isFunction, "must be a function"),
    create: z.custom<(...args: never[]) => unknown>(isFunction, "must be a function"),
    describeState: z
      .custom<(...args: never[]) => unknown>(isFunction, "must be a function")
      .optional(),
  })
  .superRefine((plugin, ctx) => {
    for (const [i, type] of plugin.deviceTypes.entries()) {
      const extra = (type.dirtyTracking ?? []).filter((m) => !plugin.dirtyTracking.includes(m));
      if (extra.length > 0) {
        ctx.addIssue({
          code: "custom",
          path: ["deviceTypes", i, "dirtyTracking"],
          message: `${extra.join(", ")} not among the plugin's dirty-tracking methods`,
        });
      }
    }
  });
