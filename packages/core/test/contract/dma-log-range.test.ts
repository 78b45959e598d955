import { describe, expect, it } from "vitest";
import { DMA_LOG_MAX_RANGES, validateDmaLogRanges } from "../../src/index.js";

describe("validateDmaLogRanges (DMA_LOGGING_START rules)", () => {
  const ok = [
    { iova: 0, length: 0x4000 },
    { iova: 0x10000, length: 0x1000 },
  ];
  it("accepts aligned, disjoint ranges", () => {
    expect(() => validateDmaLogRanges(ok, 4096)).not.toThrow();
  });
  it.each([
    { what: "zero ranges", ranges: [], pageSize: 4096, code: "EINVAL" },
    {
      what: "too many ranges",
      ranges: Array.from({ length: DMA_LOG_MAX_RANGES + 1 }, (_, i) => ({
        iova: i * 4096,
        length: 4096,
      })),
      pageSize: 4096,
      code: "E2BIG",
    },
    {
      what: "misaligned iova",
      ranges: [{ iova: 0x800, length: 0x1000 }],
      pageSize: 4096,
      code: "EINVAL",
    },
    {
      what: "misaligned length",
      ranges: [{ iova: 0, length: 0x1800 }],
      pageSize: 4096,
      code: "EINVAL",
    },
    { what: "zero length", ranges: [{ iova: 0, length: 0 }], pageSize: 4096, code: "EINVAL" },
    {
      what: "overflow",
      ranges: [{ iova: Number.MAX_SAFE_INTEGER - 4095, length: 8192 }],
      pageSize: 1,
      code: "EOVERFLOW",
    },
    {
      what: "overlap",
      ranges: [
        { iova: 0, length: 0x4000 },
        { iova: 0x3000, length: 0x1000 },
      ],
      pageSize: 4096,
      code: "EINVAL",
    },
    { what: "page size not a power of two", ranges: ok, pageSize: 3000, code: "EINVAL" },
  ])("refuses $what ($code)", ({ ranges, pageSize, code }) => {
    expect(() => validateDmaLogRanges(ranges, pageSize)).toThrow(expect.objectContaining({ code }));
  });
  it("accepts exactly the maximum number of ranges", () => {
    const many = Array.from({ length: DMA_LOG_MAX_RANGES }, (_, i) => ({
      iova: i * 8192,
      length: 4096,
    }));
    expect(() => validateDmaLogRanges(many, 4096)).not.toThrow();
  });
});
