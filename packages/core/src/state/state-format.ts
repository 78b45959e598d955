import { z } from "zod";

/** First 4 bytes of a plugin state stream: `MDST`. */
export const STATE_MAGIC: Uint8Array = new Uint8Array([0x4d, 0x44, 0x53, 0x54]);

/** State stream format version this build writes and reads. */
export const STATE_FORMAT_VERSION = 1;

/**
 * Stream header: magic(4) formatVersion(u16) reserved(u16) bodyLength(u32). The body length
 * makes a cut between two sections detectable: without it a truncated stream would look
 * like one with fewer sections.
 */
export const STATE_HEADER_LENGTH = 12;

/** Section flag: a reader that does not know the tag may skip the section. */
export const SECTION_OPTIONAL = 0x1;

/** Flags defined so far; any other bit set is refused, so meanings can be added later. */
export const KNOWN_SECTION_FLAGS = SECTION_OPTIONAL;

/**
 * Section header: tagLength(u8) tag version(u16) flags(u16) length(u32) crc32c(u32),
 * followed by `length` payload bytes. The CRC covers the section header before it and the
 * payload, so a flipped flag or version is caught like a flipped data bit.
 */
export const SECTION_FIXED_LENGTH = 1 + 2 + 2 + 4 + 4;

/** Largest section by default: 16 MiB (GVT-g's biggest region is 9 MiB in total). */
export const DEFAULT_MAX_SECTION_LENGTH = 16 * 1024 * 1024;

/** What a section tag may be: 1–48 chars of [a-z0-9._-], starting alphanumeric. */
const SECTION_TAG = /^[a-z0-9][a-z0-9._-]{0,47}$/;

/** zod schema of section metadata: what a writer may declare and a reader accepts. */
export const sectionMetaSchema = z.object({
  tag: z
    .string()
    .regex(SECTION_TAG, "tag must be 1–48 chars of [a-z0-9._-], starting alphanumeric"),
  version: z.number().int().min(1).max(0xffff),
  flags: z
    .number()
    .int()
    .min(0)
    .max(0xffff)
    .refine((f) => (f & ~KNOWN_SECTION_FLAGS) === 0, "unknown section flag bits"),
});

/** Section metadata. */
export type SectionMeta = z.infer<typeof sectionMetaSchema>;

/**
 * Whether {@link sectionMetaSchema} accepts this metadata: the same rules, checked without
 * zod. Devices write and read their state a section at a time inside the migration's paused
 * window, where each process runs that code for the first time; a zod parse per section
 * there cost the 8-device bench VM about 3 ms of its 16–19 ms downtime (issue #13). The
 * state paths call the schema only to say why metadata was refused; a property test holds
 * the two to the same answers.
 */
export function isSectionMeta(tag: string, version: number, flags: number): boolean {
  return (
    SECTION_TAG.test(tag) &&
    Number.isInteger(version) &&
    version >= 1 &&
    version <= 0xffff &&
    Number.isInteger(flags) &&
    flags >= 0 &&
    flags <= 0xffff &&
    (flags & ~KNOWN_SECTION_FLAGS) === 0
  );
}
