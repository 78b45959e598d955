// The source's reader bounds ITERATION_ACK by the ITERATIONs the source announced
// (forwardIteration) once it tracks them (forwardStarted); a decoder not told what went out
// (a tool reading a capture) checks only the order of the acks.
import { describe, expect, it } from "vitest";
import { ReturnPathDecoder, ReturnPathEncoder, StreamError } from "../../src/index.js";

const DIGEST = new Uint8Array(32).fill(7);

function answers(...iterations: number[]): Uint8Array {
  const enc = new ReturnPathEncoder();
  return Buffer.concat([
    enc.start(DIGEST),
    enc.message({ type: "ACCEPT" }),
    ...iterations.map((iteration) => enc.message({ type: "ITERATION_ACK", iteration })),
  ]);
}

function sourceReader(): ReturnPathDecoder {
  const decoder = new ReturnPathDecoder();
  decoder.forwardStarted({ configDigest: DIGEST, version: 5 });
  return decoder;
}

describe("ITERATION_ACK against the ITERATIONs sent", () => {
  it("takes acks of announced iterations", () => {
    const decoder = sourceReader();
    decoder.forwardIteration(1);
    decoder.forwardIteration(2);
    expect([...decoder.push(answers(1, 2))].map((r) => r.type)).toEqual([
      "ACCEPT",
      "ITERATION_ACK",
      "ITERATION_ACK",
    ]);
  });

  it("refuses an ack of an iteration not announced (EPROTO order) and stays failed", () => {
    const decoder = sourceReader();
    decoder.forwardIteration(1);
    const read = () => [...decoder.push(answers(1, 2))];
    expect(read).toThrow(StreamError);
    expect(read).toThrow(/ITERATION_ACK 2 before the source sent ITERATION 2 \(last sent: 1\)/);
    try {
      read();
    } catch (err) {
      expect(err).toMatchObject({ code: "EPROTO", rule: "order" });
    }
  });

  it("does not bound a decoder that was not told what went out", () => {
    const decoder = new ReturnPathDecoder();
    expect([...decoder.push(answers(9))].map((r) => r.type)).toEqual(["ACCEPT", "ITERATION_ACK"]);
  });
});
