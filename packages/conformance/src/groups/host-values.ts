import { findLittleEndian } from "../bytes.js";
import { Role } from "../context.js";
import type { ConformanceGroup } from "../group.js";
import { saveDevice } from "../harness.js";
import { ConformanceConfigError, ContractBreach } from "../violation.js";

/** Smallest value worth scanning for: smaller ones match by chance in any stream. */
const MIN_HOST_VALUE = 0x10000n;

/** Host-values group: nothing host-specific travels in the stream. */
export const hostValuesGroup: ConformanceGroup = {
  id: "host-values",
  title: "host-only values never appear in the stream",
  catches: "streams that carry host DMA addresses, shadow frames or pinned-page handles",
  skip: (ctx) => (ctx.options.hostOnlyValues ? undefined : "no hostOnlyValues hook"),
  checks: [
    {
      name: "no host-only value appears as a little-endian u32 or u64 in the saved bytes",
      async run(ctx) {
        const h = await ctx.harness(Role.SOURCE);
        await ctx.exercise(h, 3);
        const hook = ctx.options.hostOnlyValues!;
        const values = new Set<bigint>((await hook(h.driver, h)).map((v) => BigInt(v)));
        const saved = await saveDevice(h.driver, { whilePrecopy: async () => ctx.exercise(h) });
        for (const v of await hook(h.driver, h)) values.add(BigInt(v));
        if (values.size === 0)
          throw new ConformanceConfigError("hostOnlyValues returned no value after exercise");
        for (const v of values) {
          if (v < MIN_HOST_VALUE || v >= 1n << 64n) {
            throw new ConformanceConfigError(
              `host-only value 0x${v.toString(16)} is outside [0x10000, 2^64)`,
            );
          }
          const hits = [
            ...findLittleEndian(saved.bytes, v, 8).map((o) => `u64 at ${o}`),
            ...(v < 1n << 32n ? findLittleEndian(saved.bytes, v, 4).map((o) => `u32 at ${o}`) : []),
          ];
          if (hits.length > 0) {
            throw new ContractBreach(
              `host-only value 0x${v.toString(16)} is in the stream (${hits.slice(0, 4).join(", ")}); the target's host has other addresses`,
            );
          }
        }
      },
    },
  ],
};
