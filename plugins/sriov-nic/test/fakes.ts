import {
  DEFAULT_PF_CAPABILITIES,
  type DeviceIo,
  GuestDriver,
  GuestLayout,
  NicDevice,
  type PfPolicy,
  PROFILES,
  powerOnState,
} from "../src/index.js";

/** Flat guest memory at IOVA 0 with every device write recorded. */
export class FakeIo implements DeviceIo {
  readonly memory: Uint8Array;
  readonly writes: { iova: number; length: number }[] = [];
  readonly msis: number[] = [];

  constructor(size = 1 << 21) {
    this.memory = new Uint8Array(size);
  }

  dmaRead(iova: number, length: number): Uint8Array | undefined {
    if (iova < 0 || iova + length > this.memory.byteLength) return undefined;
    return this.memory.slice(iova, iova + length);
  }

  dmaWrite(iova: number, data: Uint8Array): boolean {
    this.writes.push({ iova, length: data.byteLength });
    if (iova < 0 || iova + data.byteLength > this.memory.byteLength) return false;
    this.memory.set(data, iova);
    return true;
  }

  raise(vector: number): void {
    this.msis.push(vector);
  }
}

export const PF: PfPolicy = { adminMac: 0x020000000042, portVlan: 0, spoofChk: true, trust: false };

/** A device and a guest driver on the test profile over one flat memory. */
export function rig(options: { policy?: "drop" | "refetch"; memory?: number } = {}) {
  const io = new FakeIo(options.memory);
  const device = new NicDevice(powerOnState(PF.adminMac), io, {
    seed: 5,
    partialPolicy: options.policy ?? "drop",
    pf: PF,
    caps: DEFAULT_PF_CAPABILITIES,
  });
  const layout = new GuestLayout(0x10000, PROFILES.test);
  const guest = new GuestDriver(
    {
      read: (a, l) => io.dmaRead(a, l),
      write: (a, d) => io.dmaWrite(a, d),
      readReg: (o) => device.readReg(o),
      writeReg: (o, v) => device.writeReg(o, v),
    },
    { layout, profile: PROFILES.test, seed: 5 },
  );
  return { io, device, guest, layout };
}
