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

/** What the switch recorded of one frame it could not hand over. */
export interface BlackoutDrop {
  readonly seq: number;
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
}

/** One switch port with a VF behind it. */
export class SwitchPort {
  readonly name: string;
  readonly #switch: SimulatedSwitch;
  #endpoint: PortEndpoint | undefined;
  #queue: WireFrame[] = [];
  readonly counters: PortCounters = { delivered: 0, noDesc: 0, filtered: 0, fault: 0 };

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

  /** The switch hands a frame to this port. */
  offer(frame: WireFrame, tick: number): void {
    if (this.#endpoint?.accepting() === true) this.#queue.push(frame);
    else this.#switch.recordBlackout({ seq: frame.seq, tick, port: this.name });
  }

  /** The VF takes every frame waiting for it. */
  take(): WireFrame[] {
    const out = this.#queue;
    this.#queue = [];
    return out;
  }

  /** The VF reports what it did with one frame it took. */
  record(outcome: keyof PortCounters): void {
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
  /** FDB moves of the VF's MAC: (tick, port). */
  readonly fdbMoves: { tick: number; port: string }[] = [];
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
    for (let i = 0; i < this.rxRate; i++) {
      const frame = this.generator.packet(this.sent++);
      if (port === undefined) this.unknownDst++;
      else port.offer(frame, this.#tick);
    }
  }

  /** Ticks every `intervalMs` of wall time (benchmarks, timer-driven tests) until {@link stop}. */
  start(intervalMs = 1): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.tick(), intervalMs);
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
    if (mac === this.vfMac) this.fdbMoves.push({ tick: this.#tick, port: port.name });
  }
}
