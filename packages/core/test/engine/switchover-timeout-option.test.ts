// switchoverTimeoutMs bounds the paused window (#14 item 2): its default, and the one
// combination that could never work — a bound below the downtime the policy aims for.
import { describe, expect, it } from "vitest";
import { DEFAULT_SWITCHOVER_TIMEOUT_MS, parseMigrationOptions } from "../../src/index.js";

describe("switchoverTimeoutMs", () => {
  it("defaults to DEFAULT_SWITCHOVER_TIMEOUT_MS, or twice a larger downtime limit", () => {
    expect(parseMigrationOptions({}).switchoverTimeoutMs).toBe(DEFAULT_SWITCHOVER_TIMEOUT_MS);
    expect(parseMigrationOptions({ downtimeLimitMs: 20_000 }).switchoverTimeoutMs).toBe(40_000);
  });

  it("takes a value above the downtime limit", () => {
    expect(parseMigrationOptions({ switchoverTimeoutMs: 1000 }).switchoverTimeoutMs).toBe(1000);
  });

  it("refuses a value not above the downtime limit, and out-of-range values (EINVAL)", () => {
    expect(() =>
      parseMigrationOptions({ downtimeLimitMs: 5000, switchoverTimeoutMs: 5000 }),
    ).toThrow(/switchoverTimeoutMs: must exceed downtimeLimitMs/);
    expect(() => parseMigrationOptions({ switchoverTimeoutMs: 50 })).toThrow(/switchoverTimeoutMs/);
    expect(() => parseMigrationOptions({ switchoverTimeoutMs: 1.5e9 })).toThrow(
      /switchoverTimeoutMs/,
    );
  });
});
