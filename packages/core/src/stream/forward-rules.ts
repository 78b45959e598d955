import { StreamError } from "../errors/stream-error.js";
import {
  DevicePhase,
  type DeviceTotals,
  type EndBody,
  type ForwardBody,
  type HandshakeBody,
} from "./records.js";
import { deviceDigest, digestsEqual, StreamDigest } from "./stream-digest.js";

/** Where the forward stream stands. */
export type ForwardPhase = "handshake" | "precopy" | "stopcopy" | "ended" | "done";

interface SlotState {
  /** SHA-256 over the slot's DEVICE_DATA bytes, in stream order. */
  readonly data: StreamDigest;
  /** The slot's config space as its one DEVICE_CONFIG carried it (until then, none). */
  config?: Uint8Array;
}

/**
 * The ordering and accounting rules of the forward stream, shared by encoder and decoder so
 * both agree on what a valid stream is:
 *
 * - HANDSHAKE first, once; ABORT at any time, then nothing.
 * - RAM_PAGES, DEVICE_DATA(PRE_COPY) and ITERATION (strictly increasing) before PRECOPY_END.
 * - After PRECOPY_END: RAM_PAGES, DEVICE_CONFIG, DEVICE_DATA(STOP_COPY), then END.
 * - Device records name a slot of the manifest.
 * - Exactly one DEVICE_CONFIG per manifest slot: a second one is `duplicate-config`, END
 *   with a slot's config missing is `config-missing`.
 * - END's totals and device digests (which cover each slot's config space too) equal what
 *   was seen; then only GO (or ABORT).
 */
export class ForwardRules {
  #phase: ForwardPhase = "handshake";
  #slots = new Map<number, SlotState>();
  #lastIteration = -1;
  readonly #initDone = new Set<number>();
  #dataPages = 0;
  #zeroPages = 0;
  /** {@link deviceTotals} until a device record changes them: END's encoder and check share it. */
  #totals: DeviceTotals[] | undefined;

  /** Current phase. */
  get phase(): ForwardPhase {
    return this.#phase;
  }

  /** Data pages accounted so far. */
  get dataPages(): number {
    return this.#dataPages;
  }

  /** Zero-page markers accounted so far. */
  get zeroPages(): number {
    return this.#zeroPages;
  }

  /** The manifest's slots, once the handshake passed. */
  get slots(): readonly number[] {
    return [...this.#slots.keys()];
  }

  /** Per-device totals of what was accounted so far, in slot order (what END must say). */
  deviceTotals(): DeviceTotals[] {
    this.#totals ??= [...this.#slots.entries()]
      .sort(([a], [b]) => a - b)
      .map(([slot, s]) => ({
        slot,
        bytes: s.data.bytes,
        // A slot whose config never came hashes as an empty one; END refuses it anyway.
        digest: deviceDigest(s.data.digest(), s.config ?? new Uint8Array(0)),
      }));
    return this.#totals.map((t) => ({ ...t }));
  }

  /**
   * Checks whether the phase allows a record of type `type` at all, from its type alone: the
   * decoder asks at the record's frame header, before it buffers the payload, so a record
   * the phase refuses — anything but HANDSHAKE (or ABORT) first, a second HANDSHAKE,
   * anything after END but GO — costs the target its 12-byte header, not the up to 8 MiB
   * it declares. {@link accept} checks the same again.
   */
  admit(type: ForwardBody["type"], offset: number): void {
    const fail = (rule: string, detail: string): never => {
      throw new StreamError("EPROTO", type, offset, rule, detail);
    };
    const phase = this.#phase;
    if (phase === "done") fail("after-end", `${type} after the stream's last record`);
    if (type === "ABORT") return;
    if (phase === "handshake" && type !== "HANDSHAKE") fail("order", `${type} before HANDSHAKE`);
    if (phase === "ended" && type !== "GO") fail("order", `${type} after END (only GO or ABORT)`);
    if (type === "HANDSHAKE" && phase !== "handshake") fail("order", "a second HANDSHAKE");
  }

  /**
   * Checks `body` against the rules and accounts it. `dataPages` is the number of data pages
   * of a RAM run (the rules do not look inside the bitmap).
   */
  accept(body: ForwardBody, offset: number, dataPages = 0): void {
    const fail = (rule: string, detail: string, code: "EPROTO" | "EBADMSG" = "EPROTO"): never => {
      throw new StreamError(code, body.type, offset, rule, detail);
    };
    this.admit(body.type, offset);
    const phase = this.#phase;
    if (body.type === "ABORT") {
      this.#phase = "done";
      return;
    }
    const slot = (s: number): SlotState =>
      this.#slots.get(s) ?? fail("slot", `slot ${s} is not in the manifest`);
    switch (body.type) {
      case "HANDSHAKE":
        this.#acceptHandshake(body);
        break;
      case "RAM_PAGES":
        this.#dataPages += dataPages;
        // A sparse run's other pages stay as they are: neither data nor zero.
        if (body.sparse !== true) this.#zeroPages += body.count - dataPages;
        break;
      case "DEVICE_CONFIG": {
        const s = slot(body.slot);
        if (phase !== "stopcopy") fail("order", "config space is final only after PRECOPY_END");
        if (s.config !== undefined)
          fail("duplicate-config", `slot ${body.slot} already sent its config space`);
        // A copy: the decoder's view is reused once the next record is read (and a view of a
        // Buffer, whose slice() is another view, would not be one). The digest of a 4 KiB
        // config is cheap; keeping the bytes avoids a second hash object per slot.
        s.config = new Uint8Array(body.config);
        this.#totals = undefined;
        break;
      }
      case "DEVICE_DATA": {
        const s = slot(body.slot);
        if (body.phase === DevicePhase.PRE_COPY && phase !== "precopy")
          fail("phase", "PRE_COPY data after PRECOPY_END");
        if (body.phase === DevicePhase.STOP_COPY && phase !== "stopcopy")
          fail("phase", "STOP_COPY data before PRECOPY_END");
        s.data.update(body.data);
        this.#totals = undefined;
        break;
      }
      case "DEVICE_INIT_DONE":
        slot(body.slot);
        if (phase !== "precopy") fail("phase", "DEVICE_INIT_DONE after PRECOPY_END");
        if (this.#initDone.has(body.slot))
          fail("duplicate", `slot ${body.slot} already finished its initial data`);
        this.#initDone.add(body.slot);
        break;
      case "ITERATION":
        if (phase !== "precopy") fail("order", "ITERATION after PRECOPY_END");
        if (body.iteration <= this.#lastIteration) {
          fail("iteration", `iteration ${body.iteration} does not follow ${this.#lastIteration}`);
        }
        this.#lastIteration = body.iteration;
        break;
      case "PRECOPY_END":
        if (phase !== "precopy") fail("order", "a second PRECOPY_END");
        this.#phase = "stopcopy";
        break;
      case "END":
        if (phase !== "stopcopy") fail("order", "END before PRECOPY_END");
        this.#checkEnd(body, fail);
        this.#phase = "ended";
        break;
      case "GO":
        if (phase !== "ended") fail("order", "GO before END");
        this.#phase = "done";
        break;
    }
  }

  #acceptHandshake(body: HandshakeBody): void {
    for (const d of body.devices) this.#slots.set(d.slot, { data: new StreamDigest() });
    this.#totals = undefined;
    this.#phase = "precopy";
  }

  #checkEnd(
    body: EndBody,
    fail: (rule: string, detail: string, code?: "EPROTO" | "EBADMSG") => never,
  ): void {
    if (body.dataPages !== this.#dataPages || body.zeroPages !== this.#zeroPages) {
      fail(
        "end-totals",
        `END says ${body.dataPages} data + ${body.zeroPages} zero pages, stream carried ${this.#dataPages} + ${this.#zeroPages}`,
        "EBADMSG",
      );
    }
    for (const [slot, s] of [...this.#slots.entries()].sort(([a], [b]) => a - b)) {
      if (s.config === undefined)
        fail("config-missing", `slot ${slot} sent no DEVICE_CONFIG before END`);
    }
    const seen = this.deviceTotals();
    if (body.devices.length !== seen.length)
      fail("end-devices", `END lists ${body.devices.length} devices, manifest ${seen.length}`);
    for (const [i, d] of body.devices.entries()) {
      const s = seen[i];
      if (!s || s.slot !== d.slot)
        fail("end-devices", `END entry ${i} is slot ${d.slot}, expected ${s?.slot}`);
      else if (s.bytes !== d.bytes) {
        fail(
          "end-totals",
          `slot ${d.slot}: END says ${d.bytes} bytes, stream carried ${s.bytes}`,
          "EBADMSG",
        );
      } else if (!digestsEqual(s.digest, d.digest)) {
        fail(
          "device-digest",
          `slot ${d.slot}: digest of the device's data and config space mismatch`,
          "EBADMSG",
        );
      }
    }
  }
}
