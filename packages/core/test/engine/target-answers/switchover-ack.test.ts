import { describe, expect, it } from "vitest";
import { TargetAnswers } from "../../../src/index.js";
import { ScriptedReader } from "./scripted-reader.js";

describe("TargetAnswers: switchover-ack", () => {
  it("is not acked before SWITCHOVER_ACK arrived", () => {
    expect(new TargetAnswers(new ScriptedReader()).switchoverAcked).toBe(false);
  });

  it("a bounded wait resolves true as soon as the ack arrives", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.answer({ type: "ACCEPT" });
    const waiting = answers.waitForSwitchoverAck(10_000);
    reader.answer({ type: "SWITCHOVER_ACK" });
    await expect(waiting).resolves.toBe(true);
    expect(answers.switchoverAcked).toBe(true);
  });

  it("a bounded wait resolves false when the time runs out first", async () => {
    const answers = new TargetAnswers(new ScriptedReader());
    await expect(answers.waitForSwitchoverAck(10)).resolves.toBe(false);
  });

  it("a bounded wait sees an ack that arrived while the caller kept working", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.answer({ type: "ACCEPT" });
    reader.answer({ type: "SWITCHOVER_ACK" });
    // The pump has not run yet, so the flag alone misses the ack; the wait lets it catch up.
    expect(answers.switchoverAcked).toBe(false);
    await expect(answers.waitForSwitchoverAck(1_000)).resolves.toBe(true);
  });

  it("a bounded wait rejects when the target failed", async () => {
    const reader = new ScriptedReader();
    const answers = new TargetAnswers(reader);
    reader.answer({ type: "FAILED", reason: "out of memory" });
    await expect(answers.waitForSwitchoverAck(1_000)).rejects.toMatchObject({ code: "EIO" });
  });
});
