// A target's REJECT and FAILED reasons are its own words, up to 1024 bytes of any UTF-8.
// Before the fix the source quoted them verbatim: a reason with a newline and ESC sequences
// made the error several lines (the CLI printed a forged "mdevkit: …" line and cleared the
// operator's terminal), and a long one made it over 1000 characters.
import { afterEach, describe, expect, it } from "vitest";
import {
  MigrationSource,
  MigState,
  PEER_TEXT_MAX_CHARS,
  quotePeerText,
  RecordType,
  type SimulatedVm,
} from "../../src/index.js";
import { failedMigration, SMALL_VM, startVm, toyHost } from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";
import { type RawScript, type RawTarget, rawTarget, reasonPayload } from "../helpers/raw-target.js";

const vms: SimulatedVm[] = [];
const targets: RawTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** Forges a second error line, clears the screen and turns the text red; then 900 bytes. */
const HOSTILE = `no\nmdevkit: OK: migration completed\r\u001b[2J\u001b[31m\u2028${"x".repeat(900)}`;

async function migrateTo(script: RawScript) {
  const host = toyHost("src");
  const vm = await startVm(host, vms, SMALL_VM);
  const target = await rawTarget(script);
  targets.push(target);
  const source = await MigrationSource.connect(host, vm, target.url, { peerTimeoutMs: 5000 });
  const { error } = await failedMigration(source, "the source completed against a refusing target");
  return { vm, error };
}

/** One line of at most 1000 characters, with no control character in it. */
function expectOneCleanLine(message: string): void {
  expect(message.length).toBeLessThanOrEqual(1000);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them.
  expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
}

describe("a target's reasons are quoted, not trusted", { timeout: 60_000 }, () => {
  it("REJECT: one bounded line without control characters; the VM runs on", async () => {
    const { vm, error } = await migrateTo((r, a) => {
      if (r.type !== "HANDSHAKE") return;
      a.start();
      a.send(RecordType.REJECT, reasonPayload(HOSTILE));
    });
    expect(error).toMatchObject({ code: "ECONNREFUSED", rolledBack: true, phase: "handshake" });
    expectOneCleanLine(error.message);
    // The text is still there to read, its control characters spelled out.
    expect(error.message).toContain("the target refused the VM: no\\nmdevkit: OK");
    expect(error.message).toContain("\\u{1b}[2J");
    expect(error.message).toMatch(/more characters\)$/);
    expect(vm.running).toBe(true);
    await expectGuestWrites(vm);
  });

  it("FAILED mid-precopy: the same, and devices back to RUNNING", async () => {
    const { vm, error } = await migrateTo((r, a) => {
      a.healthy(r);
      if (r.type === "ITERATION") a.send(RecordType.FAILED, reasonPayload(HOSTILE));
    });
    expect(error).toMatchObject({ code: "EIO", rolledBack: true });
    expectOneCleanLine(error.message);
    expect(error.message).toContain("the target failed: no\\nmdevkit");
    for (const d of vm.devices) expect(d.driver.getState()).toBe(MigState.RUNNING);
    await expectGuestWrites(vm);
  });
});

describe("quotePeerText", () => {
  it("keeps printable text, including non-ASCII, as it is", () => {
    expect(quotePeerText("plugin gvt-g 2.1 is not here: ça ne va pas ✓")).toBe(
      "plugin gvt-g 2.1 is not here: ça ne va pas ✓",
    );
  });

  it("cuts by code points and says how much was left out", () => {
    const quoted = quotePeerText("😀".repeat(PEER_TEXT_MAX_CHARS + 5));
    expect(quoted).toBe(`${"😀".repeat(PEER_TEXT_MAX_CHARS)}… (5 more characters)`);
  });
});
