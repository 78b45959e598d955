import { describe, expect, it } from "vitest";
import { TargetAnswers } from "../../../src/index.js";
import { ScriptedReader } from "./scripted-reader.js";

describe("TargetAnswers: awaited answers", () => {
  it("resolves with an answer that arrives while waiting", async () => {
    const reader = new ScriptedReader();
    const waiting = new TargetAnswers(reader).waitFor("ACCEPT", 1_000);
    reader.answer({ type: "ACCEPT" });
    await expect(waiting).resolves.toMatchObject({ type: "ACCEPT", seq: 0 });
  });

  it("resolves with an answer that arrived before the wait began", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.answer({ type: "ACCEPT" });
    await new Promise((r) => setImmediate(r));
    await expect(answers.waitFor("ACCEPT", 1_000)).resolves.toMatchObject({ type: "ACCEPT" });
  });

  it("hands over LOADED with the target's load times", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.answer({ type: "ACCEPT" });
    reader.answer({ type: "LOADED", devices: [{ slot: 0, loadUs: 420 }] });
    await expect(answers.waitFor("LOADED", 1_000)).resolves.toMatchObject({
      devices: [{ slot: 0, loadUs: 420 }],
    });
  });

  it("times out with ETIMEDOUT naming the answer it waited for", async () => {
    const answers = new TargetAnswers(new ScriptedReader());
    await expect(answers.waitFor("LOADED", 20)).rejects.toMatchObject({
      code: "ETIMEDOUT",
      message: expect.stringContaining("no LOADED from the target within 20 ms"),
    });
  });

  it("stops waiting with the abort reason when the signal fires", async () => {
    const abort = new AbortController();
    const waiting = new TargetAnswers(new ScriptedReader()).waitFor("ACCEPT", 5_000, abort.signal);
    const reason = new Error("cancelled");
    abort.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });
});
