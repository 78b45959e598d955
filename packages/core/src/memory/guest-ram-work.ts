import type { GuestMemory } from "./guest-memory.js";
import { nativePageRoutines } from "./native-page-routines.js";
import { PAGE_SIZE } from "./page.js";
import { inPageSlices, type PageSliceOptions } from "./page-slices.js";

// Work over a whole guest's RAM, in slices that let the event loop run between them (see
// inPageSlices): a target does it for one peer while it serves every other connection.

const nativeRelease = nativePageRoutines?.releasePages;

/**
 * {@link GuestMemory.prefault} of every page, a slice at a time; stops (rejecting with the
 * error) when `options.stop` gives one, the pages already touched staying backed.
 */
export function prefaultInSlices(
  memory: GuestMemory,
  options: PageSliceOptions = {},
): Promise<void> {
  return inPageSlices(memory.pages, (first, count) => memory.prefault(first, count), options);
}

/**
 * Makes RAM a failed VM wrote into read as zeros again, keeping it backed (preallocated RAM
 * waiting for the next VM), and clears its dirty log and populated pages. Only pages
 * {@link GuestMemory.populated} marks can hold data: a VM refused before its RAM streamed
 * in costs nothing here. Nothing may use the memory meanwhile.
 */
export async function zeroInSlices(memory: GuestMemory): Promise<void> {
  await inPageSlices(memory.pages, (first, count) =>
    memory.populated.forEachRun(
      (start, n) => forEachSegmentView(memory, start, n, (bytes) => bytes.fill(0)),
      first,
      first + count,
    ),
  );
  memory.populated.clear();
  memory.dirtyLog.clear();
}

/**
 * Gives a dropped VM's RAM back to the kernel now, a slice at a time, through core's addon
 * (`releasePages`): the pages read as zeros and hold no RAM until touched again, whoever
 * still references the SharedArrayBuffers. Resolves false where the addon cannot (not
 * built, not Linux, or the kernel kept the pages): the RAM then goes back only when the
 * runtime collects the buffers. Nothing may use the memory meanwhile.
 */
export async function releaseInSlices(memory: GuestMemory): Promise<boolean> {
  const release = nativeRelease;
  if (release === undefined) return false;
  let released = true;
  await inPageSlices(memory.pages, (first, count) =>
    forEachSegmentView(memory, first, count, (bytes) => {
      released = release(bytes) && released;
    }),
  );
  return released;
}

/** Calls `fn` with a view of pages `[first, first + count)`, one per segment they span. */
function forEachSegmentView(
  memory: GuestMemory,
  first: number,
  count: number,
  fn: (bytes: Uint8Array) => void,
): void {
  const perSegment = memory.segmentSize / PAGE_SIZE;
  for (let pfn = first; pfn < first + count; ) {
    const n = Math.min(first + count - pfn, perSegment - (pfn % perSegment));
    // peek, not view: a view would mark the pages populated.
    fn(memory.peek(pfn * PAGE_SIZE, n * PAGE_SIZE));
    pfn += n;
  }
}
