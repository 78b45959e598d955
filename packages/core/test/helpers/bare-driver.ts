import { AbstractVendorDriver } from "../../src/index.js";

/**
 * A driver whose device-specific hooks do nothing and whose state is empty, for tests of
 * what the base class does itself (tick gating, DMA, dirty logs, config space).
 */
export abstract class BareDriver extends AbstractVendorDriver {
  protected _stopDevice(): void {}
  protected _startDevice(): void {}
  protected _saveState(): Uint8Array {
    return new Uint8Array(0);
  }
  protected _loadState(): void {}
  protected _estimateStateSize(): number {
    return 0;
  }
  protected _compatibilityData(): Uint8Array {
    return new Uint8Array(0);
  }
  protected _reset(): void {}
}
