/**
 * About how long one slice of page work holds the event loop, ms. Prefaulting 2 GiB takes
 * seconds on our VMs' hosts (13-15 us a 4 KiB page): done in one go it froze a listener,
 * every other connection included, for all of that.
 */
export const PAGE_SLICE_MS = 10;

/** Pages of the first slice, before the rate is known: 1 MiB. */
const FIRST_SLICE_PAGES = 256;

/** Options of {@link inPageSlices}. */
export interface PageSliceOptions {
  /**
   * Asked before each slice: an error to stop with (the work done so far stays done), or
   * undefined to go on. Between two asks is one slice of work.
   */
  readonly stop?: () => Error | undefined;
  /** The slice's length to aim at, ms; default {@link PAGE_SLICE_MS}. */
  readonly sliceMs?: number;
}

/**
 * Runs `work(first, count)` over pages `[0, pages)` in order, a slice of about
 * {@link PAGE_SLICE_MS} at a time, and lets the event loop run between slices (timers and
 * I/O included), so work proportional to guest RAM never holds a process's other
 * connections for longer than a slice. The slice's page count follows the measured rate.
 * Rejects with {@link PageSliceOptions.stop}'s error when it gives one.
 */
export async function inPageSlices(
  pages: number,
  work: (first: number, count: number) => void,
  options: PageSliceOptions = {},
): Promise<void> {
  const sliceMs = options.sliceMs ?? PAGE_SLICE_MS;
  let count = FIRST_SLICE_PAGES;
  for (let first = 0; first < pages; ) {
    const stopped = options.stop?.();
    if (stopped !== undefined) throw stopped;
    const n = Math.min(count, pages - first);
    const started = performance.now();
    work(first, n);
    const took = performance.now() - started;
    first += n;
    // At most double at a time: one fast slice (pages already backed) must not make the
    // next one, over fresh memory, many times too long.
    count = Math.max(1, Math.min(2 * count, Math.floor((n * sliceMs) / Math.max(took, 0.05))));
    if (first < pages) await yieldToEventLoop();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
