// Mutations of a real device image, as fast-check arbitraries: structural edits made on
// the parsed image and re-sealed (field values, section lengths, versions, flags, order,
// documents from another image), plus raw damage (truncation, appended bytes, bit flips
// with CRCs left stale). Labels name the edit for statistics and failure reports.
import fc from "fast-check";
import { parseImage, type Section, type Segment, serializeImage } from "./state-surgery.js";

/** One mutated image. */
export interface MutatedImage {
  readonly bytes: Uint8Array;
  readonly label: string;
}

type Edit = (segs: Segment[], other: Segment[]) => string;

const EXTREMES: readonly bigint[] = [
  0n,
  1n,
  2n,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 64n - 1n,
  4096n,
  4097n,
  1n << 20n,
  (1n << 20n) + 1n,
  16n << 20n,
];

const clone = (segs: readonly Segment[]): Segment[] =>
  segs.map((s) =>
    s.kind === "raw"
      ? { kind: "raw", bytes: s.bytes.slice() }
      : {
          ...s,
          sections: s.sections.map((x) => ({
            ...x,
            tag: x.tag.slice(),
            payload: x.payload.slice(),
          })),
        },
  );

/** Every (segment, section) of an image, to pick one by index. */
function sections(segs: Segment[]): { seg: Segment & { kind: "doc" }; sec: Section; i: number }[] {
  return segs.flatMap((seg) =>
    seg.kind === "doc" ? seg.sections.map((sec, i) => ({ seg, sec, i })) : [],
  );
}

/** A byte range to edit: a section's payload, or a raw stretch (mtty's whole image). */
function editable(segs: Segment[], n: number): { bytes: Uint8Array; name: string } | undefined {
  const targets: { bytes: Uint8Array; name: string }[] = [
    ...sections(segs).map(({ sec }) => ({
      bytes: sec.payload,
      name: Buffer.from(sec.tag).toString("latin1"),
    })),
    ...segs.flatMap((s) => (s.kind === "raw" ? [{ bytes: s.bytes, name: "raw" }] : [])),
  ].filter((t) => t.bytes.byteLength > 0);
  return targets.length === 0 ? undefined : targets[n % targets.length];
}

function writeLe(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  for (let i = 0; i < width && at + i < bytes.byteLength; i++)
    bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

const byteEdit: fc.Arbitrary<Edit> = fc
  .tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }))
  .map(([t, b, x]) => (segs) => {
    const e = editable(segs, t);
    if (!e) return "byte (nothing to edit)";
    const at = b % e.bytes.byteLength;
    e.bytes[at] = (e.bytes[at] ?? 0) ^ x;
    return `byte ${e.name}+${at} ^0x${x.toString(16)}`;
  });

const fieldEdit: fc.Arbitrary<Edit> = fc
  .tuple(fc.nat(), fc.nat(), fc.constantFrom(1, 2, 4, 8), fc.constantFrom(...EXTREMES))
  .map(([t, b, width, value]) => (segs) => {
    const e = editable(segs, t);
    if (!e) return "field (nothing to edit)";
    const at = b % e.bytes.byteLength;
    writeLe(e.bytes, at, width, value);
    return `field ${e.name}+${at} u${width * 8}=0x${value.toString(16)}`;
  });

const sectionLength: fc.Arbitrary<Edit> = fc
  .tuple(fc.nat(), fc.integer({ min: -16, max: 16 }), fc.nat())
  .map(([n, delta, fill]) => (segs) => {
    const all = sections(segs);
    const s = all[n % Math.max(1, all.length)];
    if (!s) return "section length (no section)";
    const len = Math.max(0, s.sec.payload.byteLength + delta);
    const p = new Uint8Array(len).fill(fill & 0xff);
    p.set(s.sec.payload.subarray(0, Math.min(len, s.sec.payload.byteLength)));
    s.sec.payload = p;
    return `section ${Buffer.from(s.sec.tag).toString("latin1")} length ${delta >= 0 ? "+" : ""}${delta}`;
  });

const sectionMeta: fc.Arbitrary<Edit> = fc
  .tuple(
    fc.nat(),
    fc.constantFrom("version", "flags", "tag"),
    fc.constantFrom(0, 1, 2, 3, 0xffff),
    fc.string({ maxLength: 12 }),
  )
  .map(([n, what, value, tag]) => (segs) => {
    const all = sections(segs);
    const s = all[n % Math.max(1, all.length)];
    if (!s) return "section meta (no section)";
    if (what === "version") s.sec.version = value;
    if (what === "flags") s.sec.flags = value;
    if (what === "tag") s.sec.tag = new TextEncoder().encode(tag);
    return `section ${what}=${what === "tag" ? JSON.stringify(tag) : value}`;
  });

const sectionOrder: fc.Arbitrary<Edit> = fc
  .tuple(fc.constantFrom("drop", "duplicate", "swap"), fc.nat(), fc.nat())
  .map(([how, a, b]) => (segs) => {
    const docs = segs.filter((s): s is Segment & { kind: "doc" } => s.kind === "doc");
    const doc = docs[a % Math.max(1, docs.length)];
    if (!doc || doc.sections.length === 0) return `section ${how} (no section)`;
    const i = a % doc.sections.length;
    const j = b % doc.sections.length;
    if (how === "drop") doc.sections.splice(i, 1);
    if (how === "duplicate") doc.sections.splice(j, 0, doc.sections[i] as Section);
    if (how === "swap")
      [doc.sections[i], doc.sections[j]] = [doc.sections[j] as Section, doc.sections[i] as Section];
    return `section ${how} ${i}→${j}`;
  });

const segmentOrder: fc.Arbitrary<Edit> = fc
  .tuple(fc.constantFrom("drop", "duplicate", "swap", "foreign"), fc.nat(), fc.nat())
  .map(([how, a, b]) => (segs, other) => {
    const i = a % segs.length;
    const j = b % segs.length;
    if (how === "drop" && segs.length > 1) segs.splice(i, 1);
    if (how === "duplicate") segs.splice(j, 0, clone([segs[i] as Segment])[0] as Segment);
    if (how === "swap") [segs[i], segs[j]] = [segs[j] as Segment, segs[i] as Segment];
    if (how === "foreign" && other.length > 0)
      segs.splice(j, 0, clone([other[a % other.length] as Segment])[0] as Segment);
    return `document ${how} ${i}→${j}`;
  });

const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: byteEdit },
  { weight: 5, arbitrary: fieldEdit },
  { weight: 2, arbitrary: sectionLength },
  { weight: 2, arbitrary: sectionMeta },
  { weight: 2, arbitrary: sectionOrder },
  { weight: 2, arbitrary: segmentOrder },
);

/** Damage applied after re-sealing: none (mostly), a cut, appended bytes, or a stale-CRC flip. */
const damage = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: "none" as const, n: 0, junk: new Uint8Array(0) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("truncate" as const, "append" as const, "flip" as const),
      n: fc.nat(),
      junk: fc.uint8Array({ minLength: 1, maxLength: 32 }),
    }),
  },
);

/** One to three structural edits of one of `bases`, then possibly raw damage. */
export function mutatedImage(bases: readonly Uint8Array[]): fc.Arbitrary<MutatedImage> {
  const parsed = bases.map(parseImage);
  return fc
    .tuple(fc.nat(), fc.nat(), fc.array(edit, { minLength: 1, maxLength: 3 }), damage)
    .map(([a, b, edits, dmg]) => {
      const segs = clone(parsed[a % parsed.length] ?? []);
      const other = parsed[b % parsed.length] ?? [];
      const labels = edits.map((e) => e(segs, other));
      let bytes = serializeImage(segs);
      if (dmg.kind === "truncate" && bytes.byteLength > 0) {
        const cut = dmg.n % bytes.byteLength;
        bytes = bytes.slice(0, cut);
        labels.push(`truncate at ${cut}`);
      }
      if (dmg.kind === "append") {
        bytes = new Uint8Array(Buffer.concat([bytes, dmg.junk]));
        labels.push(`append ${dmg.junk.byteLength} bytes`);
      }
      if (dmg.kind === "flip" && bytes.byteLength > 0) {
        const bit = dmg.n % (bytes.byteLength * 8);
        bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        labels.push(`raw bit ${bit}`);
      }
      return { bytes, label: labels.join(" + ") || "unchanged (re-serialized)" };
    });
}
