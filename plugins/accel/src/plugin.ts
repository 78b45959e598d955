/**
 * The plugin manifest. {@link createAccelPlugin} builds one host's copy: a host may offer
 * fewer capabilities (a smaller algorithm mask, another isolation setting) or refuse v1
 * streams, which is how tests build a target that must reject a source early.
 */
import {
  type CompatibilityVerdict,
  MigFlags,
  type SourceDeviceInfo,
  type VendorPlugin,
} from "@mdevkit/core";
import { AccelDriver, type AccelHostConfig, hostPersonality } from "./accel-driver.js";
import { type AccelCompat, decodeCompat, incompatibility } from "./compat.js";
import { describeAccel } from "./describe.js";
import { findPersonality, PERSONALITIES, PROFILES, type Profile } from "./profiles.js";

/** Plugin version; kept equal to package.json's. */
export const ACCEL_PLUGIN_VERSION = "0.1.0";

/**
 * STOP_COPY | PRE_COPY, like both real drivers' data path (hisi sends its match block as
 * PRE_COPY data; QAT its setup section). No P2P: the VF never DMAs to a peer, and the
 * stop arc quiesces fully.
 */
export const ACCEL_MIGRATION_FLAGS = MigFlags.STOP_COPY | MigFlags.PRE_COPY;

/** The profile whose geometry a compat record describes, if this build has one. */
export function profileOf(c: AccelCompat): Profile | undefined {
  return Object.values(PROFILES).find(
    (p) =>
      p.qpNum === c.qpNum &&
      p.depth === c.depth &&
      p.jobBytes === c.jobBytes &&
      p.eqDepth === c.eqDepth &&
      p.aeqDepth === c.aeqDepth,
  );
}

/** Builds the plugin as one host offers it. */
export function createAccelPlugin(host: AccelHostConfig = {}): VendorPlugin {
  const checkCompatible = (source: SourceDeviceInfo): CompatibilityVerdict => {
    const no = (reason: string): CompatibilityVerdict => ({
      compatible: false,
      reason: `accel: ${reason}`,
    });
    if (source.plugin !== "accel") return no(`device belongs to plugin "${source.plugin}"`);
    const base = findPersonality(source.deviceType);
    if (base === undefined) return no(`unknown device type "${source.deviceType}"`);
    let c: AccelCompat;
    try {
      c = decodeCompat(source.compatibility);
    } catch (err) {
      return no(`unreadable compat record: ${(err as Error).message}`);
    }
    const profile = profileOf(c);
    if (profile === undefined) return no("queue geometry matches no profile of this build");
    const why = incompatibility(c, {
      personality: hostPersonality(base, host),
      profile,
      v1Streams: host.v1Streams ?? "fixup",
    });
    return why === undefined ? { compatible: true } : no(why);
  };
  return {
    name: "accel",
    version: ACCEL_PLUGIN_VERSION,
    engine: ">=0.1.0 <1",
    deviceTypes: PERSONALITIES.map(({ name, description }) => ({ name, description })),
    migrationFlags: ACCEL_MIGRATION_FLAGS,
    // The real drivers have no device-side logging: IOMMU tracking of pinned pages is the
    // default; DMA logging is offered for comparison.
    dirtyTracking: ["iommu-pinned", "dma-logging"],
    checkCompatible,
    create: (ctx) => new AccelDriver(ctx, host),
    describeState: (driver) => ({ ...describeAccel(driver as AccelDriver) }),
  };
}

/** The plugin with this build's default capabilities and policies. */
export const accelPlugin: VendorPlugin = createAccelPlugin();
