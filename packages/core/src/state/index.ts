/**
 * Plugin device state: tagged, versioned, CRC-checked sections with typed accessors.
 * @module
 */
export { FieldReader } from "./field-reader.js";
export { FieldWriter } from "./field-writer.js";
export { StateError } from "./state-error.js";
export {
  DEFAULT_MAX_SECTION_LENGTH,
  SECTION_OPTIONAL,
  type SectionMeta,
  STATE_FORMAT_VERSION,
  STATE_MAGIC,
  sectionMetaSchema,
} from "./state-format.js";
export { StateReader, type StateReaderOptions, type StateSection } from "./state-reader.js";
export { type SectionOptions, StateWriter } from "./state-writer.js";
