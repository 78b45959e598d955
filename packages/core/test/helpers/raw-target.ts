import type { Socket } from "node:net";
import { crc32c } from "@node-rs/crc32";
import {
  encodeStreamHeader,
  RecordType,
  StreamDecoder,
  StreamDirection,
  type StreamRecord,
} from "../../src/index.js";
import { serveOnLoopback } from "./loopback-server.js";

/** One connection of a {@link rawTarget}: the return path, framed by hand. */
export interface RawAnswers {
  readonly socket: Socket;
  /** Writes the return path's header, echoing the forward header (digest and version). */
  start(): void;
  /** Frames a return-path record with the next sequence number and a valid CRC. */
  send(type: number, payload?: Uint8Array): void;
  /** Healthy answers: ACCEPT and SWITCHOVER_ACK after HANDSHAKE, an ack per ITERATION. */
  healthy(record: StreamRecord): void;
}

/** What a {@link rawTarget} does with each forward record it decoded. */
export type RawScript = (record: StreamRecord, answers: RawAnswers) => void;

/** A hostile target on a loopback TCP port. */
export interface RawTarget {
  readonly url: string;
  /** Resolves when the source's connection closed (its first connection). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** A u16-prefixed UTF-8 reason, as REJECT, FAILED and ABORT carry it. */
export function reasonPayload(reason: string): Uint8Array {
  const text = Buffer.from(reason, "utf8");
  const p = Buffer.alloc(2 + text.byteLength);
  p.writeUInt16LE(text.byteLength, 0);
  text.copy(p, 2);
  return p;
}

/** An ITERATION_ACK payload. */
export function iterationAckPayload(iteration: number): Uint8Array {
  const p = Buffer.alloc(8);
  p.writeUInt32LE(iteration, 0);
  return p;
}

/** A LOADED payload listing slots 0 … devices - 1. */
export function loadedPayload(devices: number): Uint8Array {
  const p = Buffer.alloc(2 + 12 * devices);
  p.writeUInt16LE(devices, 0);
  for (let i = 0; i < devices; i++) p.writeUInt16LE(i, 2 + 12 * i);
  return p;
}

/**
 * A target that decodes the source's stream and answers as `script` says, writing each
 * return-path frame itself (not through ReturnPathEncoder, which refuses what a hostile
 * target would send). It never stops reading.
 */
export async function rawTarget(script: RawScript): Promise<RawTarget> {
  let onClosed = (): void => {};
  const closed = new Promise<void>((resolve) => {
    onClosed = resolve;
  });
  const server = await serveOnLoopback((socket) => {
    socket.on("close", () => onClosed());
    const decoder = new StreamDecoder({ guestPages: 1 << 20 });
    let seq = 0;
    const answers: RawAnswers = {
      socket,
      start: () => {
        const header = decoder.header;
        if (header === undefined) throw new Error("no forward header yet");
        socket.write(
          encodeStreamHeader(StreamDirection.RETURN, header.configDigest, header.version),
        );
      },
      send: (type, payload = new Uint8Array(0)) => {
        const frame = Buffer.alloc(12 + payload.byteLength + 4);
        frame.writeUInt16LE(type, 0);
        frame.writeUInt32LE(seq++, 4);
        frame.writeUInt32LE(payload.byteLength, 8);
        frame.set(payload, 12);
        frame.writeUInt32LE(
          crc32c(frame.subarray(0, 12 + payload.byteLength)),
          12 + payload.byteLength,
        );
        socket.write(frame);
      },
      healthy: (record) => {
        if (record.type === "HANDSHAKE") {
          answers.start();
          answers.send(RecordType.ACCEPT);
          answers.send(RecordType.SWITCHOVER_ACK);
        } else if (record.type === "ITERATION") {
          answers.send(RecordType.ITERATION_ACK, iterationAckPayload(record.iteration));
        }
      },
    };
    let failed = false;
    socket.on("data", (chunk: Buffer) => {
      if (failed) return;
      try {
        for (const r of decoder.push(chunk)) script(r, answers);
      } catch {
        // What the source sends after its own failure (a cut record) is not the test's subject.
        failed = true;
      }
    });
  });
  return { url: server.url, closed, close: () => server.close() };
}
