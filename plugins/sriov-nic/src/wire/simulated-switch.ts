/**
 * A simulated Ethernet switch between the traffic generator, a sink, and the ports the
 * VFs hang off — host-side infrastructure for tests and benchmarks, never device state.
 *
 * - The generator sends `rxRate` frames per switch tick toward the VF's MAC; the
 *   forwarding table (FDB) says which port they leave on. Group traffic for the VF
 *   follows the VF's FDB entry (what IGMP snooping would do for its joined groups).
 * - A port hands frames to its VF only while the VF accepts (its responder is not
 *   suspended); anything else is a blackout drop, recorded with its arrival tick.
 * - Frames the VFs send teach the FDB their source MAC (so a RARP announce moves the
 *   VF's MAC to the port it came from) and are recorded by the sink.
 */
import { ETH_P_RARP, frameMacs, readMarker, type WireFrame } from "../frame.js";
import { TrafficGenerator } from "./traffic-generator.js";

/** Frames of one tick the switch could not hand over (consecutive sequence numbers). */
export interface BlackoutDrop {
  /** Sequence number of the first of them. */
  readonly seq: number;
  /** How many. */
  readonly count: number;
  /** Switch tick the frame arrived at its port. */
  readonly tick: number;
  readonly port: string;
}

/** A frame the sink received from a VF. */
export interface SinkRecord {
  readonly seq: number | undefined;
  readonly port: string;
  readonly tick: number;
  readonly bytes: number;
  readonly ethertype: number;
}

/** The VF side of a port: whether it takes frames now. */
export interface PortEndpoint {
  /** True while the VF's responder accepts RX. */
  accepting(): boolean;
}

/** RX outcome counters of a port (what the VF did with the frames it took). */
export interface PortCounters {
  delivered: number;
  noDesc: number;
  filtered: number;
  fault: number;
  /** Frames the port's buffer had no room for (the VF fell behind the wire). */
  overrun: number;
}

/** Frames a port buffers for its VF between two of the VF's ticks (a PF's packet buffer). */
export const PORT_BUFFER_FRAMES = 4096;

/** One switch port with a VF behind it. */
export class SwitchPort {
  readonly name: string;
  readonly #switch: SimulatedSwitch;
  #endpoint: PortEndpoint | undefined;
  #queue: WireFrame[] = [];
  readonly counters: PortCounters = { delivered: 0, noDesc: 0, filtered: 0, fault: 0, overrun: 0 };

  constructor(name: string, sw: SimulatedSwitch) {
    this.name = name;
    this.#switch = sw;
  }

  /** Plugs a VF in (or out, with `undefined`). */
  connect(endpoint: PortEndpoint | undefined): void {
    this.#endpoint = endpoint;
  }

  /** Frames offered to the VF since it last took them. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * The switch hands this port the `count` frames from `firstSeq` on that arrived at
   * `tick`: queued for the VF while it accepts and the buffer has room, counted as
   * overrun past the buffer, recorded as one blackout drop while the VF does not accept.
   * Frames nobody will see are never built.
   */
  offer(generator: TrafficGenerator, firstSeq: number, count: number, tick: number): void {
    if (count === 0) return;
    if (this.#endpoint?.accepting() !== true) {
      this.#switch.recordBlackout({ seq: firstSeq, count, tick, port: this.name });
      return;
    }
    const room = Math.max(0, Math.min(count, PORT_BUFFER_FRAMES - this.#queue.length));
    for (let i = 0; i < room; i++) this.#queue.push(generator.packet(firstSeq + i));
    this.counters.overrun += count - room;
  }

  /** The VF takes every frame waiting for it. */
  take(): WireFrame[] {
    const out = this.#queue;
    this.#queue = [];
    return out;
  }

  /** The VF reports what it did with one frame it took. */
  record(outcome: Exclude<keyof PortCounters, "overrun">): void {
    this.counters[outcome]++;
  }

  /** The VF (or its PF, for announces) sends a frame. */
  transmit(bytes: Uint8Array): void {
    this.#switch.fromPort(this, bytes);
  }
}

/** Options of a {@link SimulatedSwitch}. */
export interface SimulatedSwitchOptions {
  /** Seed of the generator's flows and packet lengths. */
  readonly seed: number;
  /** The VF's MAC: unicast traffic is addressed to it. */
  readonly vfMac: number;
  /** Frames sent toward the VF per tick. */
  readonly rxRate: number;
}

/** The switch. */
export class SimulatedSwitch {
  readonly generator: TrafficGenerator;
  readonly vfMac: number;
  readonly rxRate: number;
  readonly #ports = new Map<string, SwitchPort>();
  readonly #fdb = new Map<number, SwitchPort>();
  /** FDB moves of the VF's MAC: switch tick, port, and wall time (`performance.now()`). */
  readonly fdbMoves: { tick: number; port: string; wallMs: number }[] = [];
  readonly blackout: BlackoutDrop[] = [];
  readonly sink: SinkRecord[] = [];
  /** Frames the generator sent. */
  sent = 0;
  /** Frames with no FDB entry (nowhere to go). */
  unknownDst = 0;
  #tick = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SimulatedSwitchOptions) {
    this.vfMac = options.vfMac;
    this.rxRate = options.rxRate;
    this.generator = new TrafficGenerator({ seed: options.seed, vfMac: options.vfMac });
  }

  /** Current switch tick. */
  get now(): number {
    return this.#tick;
  }

  /** Adds a port; the first port added owns the VF's MAC until someone announces it elsewhere. */
  addPort(name: string): SwitchPort {
    const port = new SwitchPort(name, this);
    this.#ports.set(name, port);
    if (!this.#fdb.has(this.vfMac)) this.#learn(this.vfMac, port);
    return port;
  }

  /** The port the FDB sends the VF's traffic to. */
  get vfPort(): string | undefined {
    return this.#fdb.get(this.vfMac)?.name;
  }

  /** One tick: the generator sends {@link rxRate} frames toward the VF. */
  tick(): void {
    this.#tick++;
    const port = this.#fdb.get(this.vfMac);
    const first = this.sent;
    this.sent += this.rxRate;
    if (port === undefined) this.unknownDst += this.rxRate;
    else port.offer(this.generator, first, this.rxRate, this.#tick);
  }

  /** Frames lost in blackouts (the sum of {@link blackout}'s counts). */
  get droppedBlackout(): number {
    return this.blackout.reduce((n, d) => n + d.count, 0);
  }

  /**
   * Ticks on a wall-clock timer until {@link stop}: one tick per `intervalMs` of elapsed
   * time, caught up when the event loop was a little late (at most `maxCatchUp` ticks per
   * wake-up). Ticks further behind are skipped rather than replayed: a replayed tick would
   * be judged by the ports' state now, not at its time.
   */
  start(intervalMs = 1, maxCatchUp = 10): void {
    if (this.#timer !== undefined) return;
    let due = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      let n = 0;
      while (due <= now && n < maxCatchUp) {
        this.tick();
        due += intervalMs;
        n++;
      }
      if (due <= now) due = now; // too far behind: drop the backlog rather than burst
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer of {@link start}. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** @internal A port could not hand a frame over. */
  recordBlackout(drop: BlackoutDrop): void {
    this.blackout.push(drop);
  }

  /** @internal A frame from a VF: learn its source, record it. */
  fromPort(port: SwitchPort, bytes: Uint8Array): void {
    const { src } = frameMacs(bytes);
    if (this.#fdb.get(src) !== port) this.#learn(src, port);
    const ethertype = bytes.byteLength >= 14 ? (bytes[12]! << 8) | bytes[13]! : 0;
    this.sink.push({
      seq: ethertype === ETH_P_RARP ? undefined : readMarker(bytes)?.seq,
      port: port.name,
      tick: this.#tick,
      bytes: bytes.byteLength,
      ethertype,
    });
  }

  #learn(mac: number, port: SwitchPort): void {
    this.#fdb.set(mac, port);
    if (mac === this.vfMac)
      this.fdbMoves.push({ tick: this.#tick, port: port.name, wallMs: performance.now() });
  }
}
