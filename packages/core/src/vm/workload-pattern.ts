import type { Workload } from "./vm-config.js";

/**
 * A deterministic page picker for one vCPU: the n-th page it writes depends only on
 * (seed, vCPU index, workload, n), so two runs with the same seed dirty the same pages
 * in the same order, whatever the timing.
 */
export interface PagePicker {
  /** The next guest page number to write. */
  next(): number;
}

/** xorshift32: tiny, fast, good enough to spread writes; never returns 0 for a non-zero state. */
function xorshift32(state: number): number {
  let x = state;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** Seeds a generator from (seed, vcpu) so vCPUs of one VM differ but stay reproducible. */
export function vcpuSeed(seed: number, vcpu: number): number {
  const s = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(vcpu + 1, 0xc2b2ae35)) >>> 0;
  return s === 0 ? 0x6d2b79f5 : s;
}

/** Builds the picker for `workload` over `pages` guest pages. */
export function createPagePicker(
  workload: Workload,
  pages: number,
  seed: number,
  vcpu: number,
): PagePicker {
  let state = vcpuSeed(seed, vcpu);
  const random = (): number => {
    state = xorshift32(state);
    return state / 0x1_0000_0000;
  };
  switch (workload.pattern) {
    case "idle":
      return { next: () => 0 };
    case "uniform":
      return { next: () => Math.floor(random() * pages) };
    case "hot-set": {
      const hot = Math.min(workload.hotSetPages, pages);
      return {
        next: () =>
          random() < workload.hotFraction
            ? Math.floor(random() * hot)
            : Math.floor(random() * pages),
      };
    }
    case "sequential": {
      let at = Math.floor(random() * pages);
      return {
        next: () => {
          const page = at;
          at = at + 1 === pages ? 0 : at + 1;
          return page;
        },
      };
    }
  }
}
