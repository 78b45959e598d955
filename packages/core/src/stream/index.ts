/**
 * The mdevkit migration stream: header, framed records, limits, incremental decoder,
 * zero-copy encoder and the return path. Spec: docs/stream-format.md.
 * @module
 */
export {
  ACCEPTED_FORMAT_VERSIONS,
  DIGEST_LENGTH,
  FORMAT_VERSION,
  FRAME_HEADER_LENGTH,
  FRAME_TRAILER_LENGTH,
  HEADER_LENGTH,
  PAGE_SIZE,
  PAGE_TABLE_BLOCK_PAGES,
  PAGE_TABLE_BLOCKS_VERSION,
  RamRunFlags,
  SPARSE_RUN_VERSION,
  STREAM_MAGIC,
  StreamDirection,
} from "./format.js";
export type { ForwardPhase } from "./forward-rules.js";
export { frameRecord } from "./frame.js";
export { countDataPages, kindsLength } from "./ram-pages-codec.js";
export type { RamSink } from "./ram-pages-sink.js";
export { applyRamRun, forEachRamPage, isDataPage, isZeroPage } from "./ram-run.js";
export {
  isKnownRecordType,
  RecordType,
  type RecordTypeName,
  type RecordTypeValue,
  recordTypeName,
} from "./record-type.js";
export {
  type AbortBody,
  type DeviceConfigBody,
  type DeviceDataBody,
  type DeviceInitDoneBody,
  type DeviceLoadTime,
  DevicePhase,
  type DeviceTotals,
  type EndBody,
  type ForwardBody,
  type GoBody,
  type HandshakeBody,
  type IterationBody,
  type LoadedBody,
  type ManifestDevice,
  type PrecopyEndBody,
  type RamPagesBody,
  type RecordMeta,
  type ReturnMessage,
  type ReturnRecord,
  type StreamRecord,
} from "./records.js";
export { type ForwardHeader, ReturnPathDecoder, ReturnPathEncoder } from "./return-path.js";
export {
  type FrameAdmission,
  StreamDecoder,
  type StreamDecoderOptions,
} from "./stream-decoder.js";
export { deviceDigest, digestsEqual, StreamDigest, sha256 } from "./stream-digest.js";
export { type EncoderStats, type RamPagesOptions, StreamEncoder } from "./stream-encoder.js";
export { decodeStreamHeader, encodeStreamHeader, type StreamHeader } from "./stream-header.js";
export {
  DEFAULT_STREAM_LIMITS,
  resolveStreamLimits,
  type StreamLimits,
  streamLimitsSchema,
} from "./stream-limits.js";
