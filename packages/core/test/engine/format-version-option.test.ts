// A source writes this build's format version unless told to write an older one, for a
// target of an older build: version 4 changed END's RAM digest, which a version 3 target
// would compute the other way.
import { crc32c } from "@node-rs/crc32";
import { afterEach, describe, expect, it } from "vitest";
import {
  FORMAT_VERSION,
  MigrationSource,
  parseMigrationOptions,
  type SimulatedVm,
} from "../../src/index.js";
import { memoryTarget, startVm, toyHost } from "../helpers/engine-fixtures.js";
import { specPageTableDigest, tableBytes } from "../helpers/page-table-digest-spec.js";

/** docs/stream-format.md §END: the page-table digest of `vm`'s RAM in format `version`. */
function specRamDigest(vm: SimulatedVm, version: number): string {
  const crcs = Array.from({ length: vm.memory.pages }, (_, p) =>
    crc32c(Buffer.from(vm.memory.readPage(p))),
  );
  return specPageTableDigest(tableBytes(crcs), version).toString("hex");
}

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

describe("formatVersion", () => {
  it("defaults to this build's version and refuses versions this build does not read", () => {
    expect(parseMigrationOptions({}).formatVersion).toBe(FORMAT_VERSION);
    expect(parseMigrationOptions({ formatVersion: 3 }).formatVersion).toBe(3);
    for (const v of [1, FORMAT_VERSION + 1, 2.5])
      expect(() => parseMigrationOptions({ formatVersion: v })).toThrow(/formatVersion/);
  });

  it.each([3, FORMAT_VERSION])(
    "a version %i stream migrates with identical RAM, its END digest in that version's form",
    async (formatVersion) => {
      const vm = await startVm(toyHost("src"), vms);
      const { source, received } = memoryTarget(toyHost("dst"), vms);
      const result = await new MigrationSource(vm, source, {
        downtimeLimitMs: 60_000,
        verifyRam: true,
        formatVersion,
      }).migrate();
      const arrived = await received;
      expect(result.outcome).toBe("completed");
      expect(arrived.ramSha256).toBe(result.ramSha256);
      // END's digest, recomputed in that version's form from the source's RAM, frozen since
      // the pause (the target's guest runs on).
      expect(arrived.ramDigest).toBe(specRamDigest(vm, formatVersion));
      expect(specRamDigest(vm, 3)).not.toBe(specRamDigest(vm, 4));
    },
  );
});
