import { describe, expect, it } from "vitest";
import { MdevError, TargetAnswers } from "../../../src/index.js";
import { ScriptedReader } from "./scripted-reader.js";

/** Lets the pump read what the reader holds. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("TargetAnswers: failures", () => {
  it("turns REJECT into ECONNREFUSED with the target's reason", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.answer({ type: "REJECT", reason: "no such plugin" });
    await expect(answers.waitFor("ACCEPT", 1_000)).rejects.toMatchObject({
      code: "ECONNREFUSED",
      message: expect.stringContaining("the target refused the VM: no such plugin"),
    });
  });

  it("turns FAILED into EIO with the target's reason, also for a waiter already waiting", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    const waiting = answers.waitFor("LOADED", 1_000);
    reader.answer({ type: "FAILED", reason: "disk full" });
    await expect(waiting).rejects.toMatchObject({
      code: "EIO",
      message: expect.stringContaining("the target failed: disk full"),
    });
  });

  it("reports a closed return path as ECONNRESET", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.close();
    await expect(answers.waitFor("ACCEPT", 1_000)).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("keeps a typed error from a broken return path", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.break(new MdevError("EPROTO", "bad frame"));
    await settle();
    expect(answers.failure).toMatchObject({ code: "EPROTO" });
  });

  it("wraps an untyped error from a broken return path as EIO", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.break(new Error("socket hang up"));
    await settle();
    expect(answers.failure).toMatchObject({ code: "EIO" });
  });

  it("check() throws the first failure and nothing before one", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    expect(() => answers.check()).not.toThrow();
    reader.answer({ type: "FAILED", reason: "first" });
    reader.close();
    await settle();
    await settle();
    expect(() => answers.check()).toThrow(/the target failed: first/);
  });
});
