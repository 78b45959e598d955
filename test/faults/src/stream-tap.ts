import {
  FRAME_HEADER_LENGTH,
  FRAME_TRAILER_LENGTH,
  HEADER_LENGTH,
  recordTypeName,
} from "@mdevkit/core";

/** Which way bytes travel through the proxy: the forward stream or the return path. */
export type Lane = "forward" | "return";

/**
 * One whole unit of a stream as it went by: its header, or one framed record (frame header,
 * payload and CRC trailer together), with where it sits in the lane.
 */
export interface StreamUnit {
  readonly lane: Lane;
  /** `"HEADER"` or the record's type name (`"RAM_PAGES"`, `"LOADED"`…). */
  readonly type: string;
  /** The record's sequence number (-1 for the header). */
  readonly seq: number;
  /** How many units of this type the lane carried before this one (0 for the first). */
  readonly occurrence: number;
  /** Byte offset of the unit's first byte in the lane. */
  readonly offset: number;
  /** The unit's bytes, exactly as they arrived. */
  readonly bytes: Uint8Array;
}

/**
 * Cuts one direction of a migration stream into whole units: the 52-byte header, then
 * frames whose length is read from the frame header (core's format constants). The proxy
 * sits between two trusted processes, so a length is taken as given; what it
 * does to a unit afterwards is the fault under test.
 */
export class StreamTap {
  readonly #lane: Lane;
  readonly #counts = new Map<string, number>();
  #chunks: Buffer[] = [];
  #buffered = 0;
  #offset = 0;
  #headerSeen = false;

  constructor(lane: Lane) {
    this.#lane = lane;
  }

  /** Feeds bytes; returns every unit they completed, in order. */
  push(chunk: Uint8Array): StreamUnit[] {
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const units: StreamUnit[] = [];
    for (;;) {
      const need = this.#nextLength();
      if (need === undefined || this.#buffered < need) return units;
      units.push(this.#take(need));
    }
  }

  /** Bytes received that do not yet form a whole unit (sent as they are when a lane closes). */
  rest(): Uint8Array {
    return Buffer.concat(this.#chunks, this.#buffered);
  }

  #nextLength(): number | undefined {
    if (!this.#headerSeen) return HEADER_LENGTH;
    if (this.#buffered < FRAME_HEADER_LENGTH) return undefined;
    const head = this.#peek(FRAME_HEADER_LENGTH);
    const length = head.readUInt32LE(8);
    return FRAME_HEADER_LENGTH + length + FRAME_TRAILER_LENGTH;
  }

  #peek(n: number): Buffer {
    if ((this.#chunks[0]?.byteLength ?? 0) < n) {
      this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
    }
    return (this.#chunks[0] as Buffer).subarray(0, n);
  }

  #take(n: number): StreamUnit {
    const all =
      this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
    // A copy: the proxy may hold or alter a unit after later chunks arrived.
    const bytes = new Uint8Array(all.subarray(0, n));
    const rest = all.subarray(n);
    this.#chunks = rest.byteLength > 0 ? [rest] : [];
    this.#buffered -= n;
    const offset = this.#offset;
    this.#offset += n;
    let type = "HEADER";
    let seq = -1;
    if (this.#headerSeen) {
      const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      type = recordTypeName(view.readUInt16LE(0));
      seq = view.readUInt32LE(4);
    }
    this.#headerSeen = true;
    const occurrence = this.#counts.get(type) ?? 0;
    this.#counts.set(type, occurrence + 1);
    return { lane: this.#lane, type, seq, occurrence, offset, bytes };
  }
}
