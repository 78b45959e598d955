// The largest single allocation an input caused. A decoder that trusts a length field
// allocates what the field says; guest RAM lazily backed by the OS does not show in RSS
// until touched. So instead of sampling memory, the probe wraps the constructors and
// factories that allocate (ArrayBuffer, SharedArrayBuffer, typed arrays, Buffer.alloc*)
// and records the size each was asked for. Installed once per test process (each vitest
// file runs in its own), and only in this fuzzing workspace.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let largest = 0;
let installed = false;

const note = (bytes: unknown): void => {
  if (typeof bytes === "number" && Number.isFinite(bytes) && bytes > largest) largest = bytes;
};

// biome-ignore lint/suspicious/noExplicitAny: constructors of every shape are wrapped alike
type Ctor = new (...args: any[]) => unknown;

function wrapConstructor(name: string, bytesPerElement: number): void {
  const g = globalThis as unknown as Record<string, Ctor>;
  const original = g[name];
  if (original === undefined) return;
  g[name] = new Proxy(original, {
    construct(target, args, newTarget) {
      const [first, second] = args as [unknown, unknown];
      if (typeof first === "number") note(first * bytesPerElement);
      const max = (second as { maxByteLength?: unknown } | undefined)?.maxByteLength;
      if (typeof max === "number") note(max);
      return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
    },
  });
}

function wrapFactory(name: "alloc" | "allocUnsafe" | "allocUnsafeSlow"): void {
  const original = Buffer[name] as (size: number, ...rest: unknown[]) => Buffer;
  (Buffer as unknown as Record<string, unknown>)[name] = function (
    this: unknown,
    size: number,
    ...rest: unknown[]
  ): Buffer {
    note(size);
    return original.call(this, size, ...rest);
  };
}

/** Wraps the allocators (idempotent). */
export function installAllocationProbe(): void {
  if (installed) return;
  installed = true;
  wrapConstructor("ArrayBuffer", 1);
  wrapConstructor("SharedArrayBuffer", 1);
  for (const [name, size] of [
    ["Uint8Array", 1],
    ["Uint8ClampedArray", 1],
    ["Int8Array", 1],
    ["Uint16Array", 2],
    ["Int16Array", 2],
    ["Uint32Array", 4],
    ["Int32Array", 4],
    ["Float32Array", 4],
    ["Float64Array", 8],
    ["BigUint64Array", 8],
    ["BigInt64Array", 8],
  ] as const)
    wrapConstructor(name, size);
  wrapFactory("alloc");
  wrapFactory("allocUnsafe");
  wrapFactory("allocUnsafeSlow");
}

/** What one input cost in memory. */
export interface AllocationMeasure<T> {
  readonly result: T;
  /** Largest single allocation asked for, bytes. */
  readonly largest: number;
  /** Growth of the process's resident set while it ran, bytes (memory touched, not freed). */
  readonly rssGrowth: number;
}

/** Runs `fn` and measures its largest single allocation and its RSS growth. */
export async function measureAllocations<T>(
  fn: () => T | Promise<T>,
): Promise<AllocationMeasure<T>> {
  installAllocationProbe();
  largest = 0;
  const rss = process.memoryUsage.rss();
  const result = await fn();
  return { result, largest, rssGrowth: process.memoryUsage.rss() - rss };
}

/** Same as {@link measureAllocations} for synchronous work. */
export function measureAllocationsSync<T>(fn: () => T): AllocationMeasure<T> {
  installAllocationProbe();
  largest = 0;
  const rss = process.memoryUsage.rss();
  const result = fn();
  return { result, largest, rssGrowth: process.memoryUsage.rss() - rss };
}

let gcFn: (() => void) | undefined;

/**
 * Heap plus array buffers still reachable, MiB, after a full GC: what an input left
 * behind. (GC exposed through V8's flag, since vitest's workers do not pass --expose-gc.)
 */
export function retainedMiB(): number {
  if (gcFn === undefined) {
    setFlagsFromString("--expose-gc");
    gcFn = runInNewContext("gc") as () => void;
  }
  gcFn();
  gcFn();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}
