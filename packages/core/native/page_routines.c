/*
 * The per-byte costs of mdevkit's RAM path that JavaScript cannot make cheap:
 *
 * - crc32cPages: the CRC32C of every 4 KiB page of a batch in one call. A call per page
 *   into @node-rs/crc32 runs one dependent chain of crc32 instructions at about 6 GB/s on
 *   our EPYC machines; the instruction's latency is 3 cycles and its throughput 1 a cycle,
 *   so four pages hashed side by side keep the unit busy (17 GB/s from memory, 46 GB/s
 *   from cache, measured on the same machine).
 * - gatherCrc32cPages: the source's snapshot of a record, the data pages among its zero
 *   pages copied and hashed in one call (a call per run of data pages cost more than the
 *   copying when the two kinds interleave).
 * - scanGatherCrc32cPages: the same with the zero check in the pass (a page whose populated
 *   bit is clear is not read at all): the JavaScript check read each data page's first line
 *   in a loop of its own just before the gather read it again.
 * - scatterCrc32cPages: the target's side of the same: the whole pages of a socket chunk
 *   hashed and streamed to their places in guest memory in one call, not a call and two
 *   views per run of data pages.
 * - copy: V8 copies into or out of SharedArrayBuffer memory (guest RAM) with relaxed
 *   atomic word stores; memcpy uses the CPU's widest moves.
 * - markUnchangedPages: the source's comparison of the pages devices keep pinned with the
 *   copies of what it last sent of them, a run at a time (about 12,000 pages a pass for the
 *   seed VM's vGPU): a call and two views per page cost about as much as the memcmp.
 * - orWords, andWords, countWords, moveWords: the dirty bitmaps' word loops, which a
 *   migration's first dirty sync ran before JavaScript had compiled them (see there).
 * - adviseHugePages: guest RAM asks for transparent huge pages, as QEMU's does
 *   (MADV_HUGEPAGE on every RAM block). Our VMs' hosts fault fresh memory in at 13-15 us a
 *   4 KiB page, and the kernel copying a socket's bytes into resident 4 KiB-paged memory ran
 *   at a tenth of its rate into a hot buffer; with 2 MiB pages both costs go.
 * - releasePages: a dropped VM's guest RAM goes back to the kernel at once (MADV_DONTNEED),
 *   not when a garbage collection frees its SharedArrayBuffers: a target's memory budget
 *   counts the RAM as free, and a listener that waited for the collector was OOM-killed by
 *   a loop of abandoned handshakes.
 * - peerHungUp: whether a socket's peer left, found without reading it (poll, POLLRDHUP), so
 *   a target can stop building a VM for a peer that is gone while its next bytes wait unread.
 *
 * Every argument is checked here as well: the bytes come from an untrusted stream, and an
 * out-of-range write from C is memory corruption, not an exception.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#ifdef __linux__
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#define PAGE_SIZE 4096

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#include <nmmintrin.h>
#define HAVE_SSE42 1
#endif

/* Reads a typed array argument of the given element type; throws TypeError otherwise. */
static int typed_array_arg(napi_env env, napi_value value, napi_typedarray_type want,
                           const char *what, void **data, size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &type, length, data, &buffer, &offset) != napi_ok ||
      type != want) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  return 1;
}

/* Reads the call's first `count` arguments into argv; throws TypeError with `usage` if fewer. */
static int call_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv,
                     const char *usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < count) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

/* A JavaScript boolean for `value`; NULL (an exception pending) if N-API failed. */
static inline napi_value boolean_result(napi_env env, bool value) {
  napi_value result;
  if (napi_get_boolean(env, value, &result) != napi_ok) return NULL;
  return result;
}

#ifdef __linux__
/*
 * The whole OS pages inside `length` bytes at `data`: [*start, *end), empty (start >= end)
 * when no page fits.
 */
static inline void whole_pages(void *data, size_t length, uintptr_t *start, uintptr_t *end) {
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  *start = ((uintptr_t)data + page - 1) & ~(page - 1);
  *end = ((uintptr_t)data + length) & ~(page - 1);
}
#endif

#ifdef HAVE_SSE42
static inline uint64_t load64(const uint8_t *p) {
  uint64_t word;
  memcpy(&word, p, sizeof word); /* pages are not always 8-byte aligned in a socket chunk */
  return word;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_page(const uint8_t *page) {
  uint64_t crc = 0xffffffffu;
  for (size_t at = 0; at < PAGE_SIZE; at += 8) crc = _mm_crc32_u64(crc, load64(page + at));
  return ~(uint32_t)crc;
}

/*
 * The CRC32C of four pages anywhere, as four independent chains: one chain leaves the
 * crc32 instruction waiting out its latency, four keep it busy (about three times the rate).
 */
__attribute__((target("sse4.2"))) static void crc32c_four(const uint8_t *const page[4],
                                                          uint32_t *out) {
  const uint8_t *a = page[0], *b = page[1], *c = page[2], *d = page[3];
  uint64_t ca = 0xffffffffu, cb = 0xffffffffu, cc = 0xffffffffu, cd = 0xffffffffu;
  for (size_t at = 0; at < PAGE_SIZE; at += 8) {
    ca = _mm_crc32_u64(ca, load64(a + at));
    cb = _mm_crc32_u64(cb, load64(b + at));
    cc = _mm_crc32_u64(cc, load64(c + at));
    cd = _mm_crc32_u64(cd, load64(d + at));
  }
  out[0] = ~(uint32_t)ca;
  out[1] = ~(uint32_t)cb;
  out[2] = ~(uint32_t)cc;
  out[3] = ~(uint32_t)cd;
}

__attribute__((target("sse4.2"))) static void crc32c_pages(const uint8_t *pages, size_t count,
                                                           uint32_t *out) {
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const uint8_t *const four[4] = {pages + i * PAGE_SIZE, pages + (i + 1) * PAGE_SIZE,
                                    pages + (i + 2) * PAGE_SIZE, pages + (i + 3) * PAGE_SIZE};
    crc32c_four(four, out + i);
  }
  for (; i < count; i++) out[i] = crc32c_page(pages + i * PAGE_SIZE);
}

/*
 * Four pages copied to dest (one after another) and hashed in the same pass: each 8-byte
 * word is loaded once, hashed and stored, so the CRC is the copy's even while a vCPU
 * writes the page. Against a memcpy per page and a CRC of the copies from cache, 20-25 %
 * less time over scattered pages of 2 GiB on our EPYC machines (9.3-11.8 -> 11.6-14.4 GB/s).
 */
__attribute__((target("sse4.2"))) static void copy_crc32c_four(const uint8_t *const page[4],
                                                               uint8_t *dest, uint32_t *out) {
  const uint8_t *a = page[0], *b = page[1], *c = page[2], *d = page[3];
  uint8_t *da = dest, *db = dest + PAGE_SIZE, *dc = db + PAGE_SIZE, *dd = dc + PAGE_SIZE;
  uint64_t ca = 0xffffffffu, cb = 0xffffffffu, cc = 0xffffffffu, cd = 0xffffffffu;
  for (size_t at = 0; at < PAGE_SIZE; at += 8) {
    uint64_t wa = load64(a + at), wb = load64(b + at), wc = load64(c + at), wd = load64(d + at);
    /* The words are what is stored: the compiler must not read the pages again for that. */
    __asm__("" : "+r"(wa), "+r"(wb), "+r"(wc), "+r"(wd));
    ca = _mm_crc32_u64(ca, wa);
    cb = _mm_crc32_u64(cb, wb);
    cc = _mm_crc32_u64(cc, wc);
    cd = _mm_crc32_u64(cd, wd);
    memcpy(da + at, &wa, sizeof wa);
    memcpy(db + at, &wb, sizeof wb);
    memcpy(dc + at, &wc, sizeof wc);
    memcpy(dd + at, &wd, sizeof wd);
  }
  out[0] = ~(uint32_t)ca;
  out[1] = ~(uint32_t)cb;
  out[2] = ~(uint32_t)cc;
  out[3] = ~(uint32_t)cd;
}

/*
 * Pages appended one after another to dest, each with its CRC32C in out: held until four
 * are due and then copied and hashed together. What both gathers below append their data
 * pages to.
 */
struct gathering {
  uint8_t *dest;
  uint32_t *out;
  size_t copied;
  const uint8_t *held[4];
  size_t holding;
};

__attribute__((target("sse4.2"))) static void gather_append(struct gathering *g,
                                                            const uint8_t *page) {
  g->held[g->holding++] = page;
  if (g->holding == 4) {
    copy_crc32c_four(g->held, g->dest + g->copied * PAGE_SIZE, g->out + g->copied);
    g->copied += 4;
    g->holding = 0;
  }
}

/* Copies and hashes the pages still held (fewer than four); returns how many were copied. */
__attribute__((target("sse4.2"))) static size_t gather_finish(struct gathering *g) {
  for (size_t j = 0; j < g->holding; j++, g->copied++) {
    uint8_t *to = g->dest + g->copied * PAGE_SIZE;
    memcpy(to, g->held[j], PAGE_SIZE);
    g->out[g->copied] = crc32c_page(to);
  }
  g->holding = 0;
  return g->copied;
}

/* The data pages of a run (bit i of kinds set: page i of pages), gathered into dest. */
__attribute__((target("sse4.2"))) static void gather_pages(const uint8_t *pages,
                                                           const uint8_t *kinds, size_t count,
                                                           uint8_t *dest, uint32_t *out) {
  struct gathering g = {dest, out, 0, {NULL, NULL, NULL, NULL}, 0};
  for (size_t i = 0; i < count; i++)
    if (((kinds[i >> 3] >> (i & 7)) & 1) != 0) gather_append(&g, pages + i * PAGE_SIZE);
  gather_finish(&g);
}

/*
 * gatherCrc32cPages(pages: Uint8Array, kinds: Uint8Array, count: number, dest: Uint8Array,
 *                   out: Uint32Array): number — the data pages copied (and hashed).
 */
static napi_value gather_pages_js(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!call_args(env, info, 5, argv,
                 "gatherCrc32cPages(pages, kinds, count, dest, out) takes five arguments"))
    return NULL;
  void *pages, *kinds, *dest, *out;
  size_t pages_length, kinds_length, dest_length, slots;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "pages must be a Uint8Array", &pages,
                       &pages_length) ||
      !typed_array_arg(env, argv[1], napi_uint8_array, "kinds must be a Uint8Array", &kinds,
                       &kinds_length) ||
      !typed_array_arg(env, argv[3], napi_uint8_array, "dest must be a Uint8Array", &dest,
                       &dest_length) ||
      !typed_array_arg(env, argv[4], napi_uint32_array, "out must be a Uint32Array", &out,
                       &slots))
    return NULL;
  int64_t count;
  if (napi_get_value_int64(env, argv[2], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "count must be a number");
    return NULL;
  }
  if (count < 0 || (uint64_t)count > pages_length / PAGE_SIZE ||
      (uint64_t)(count + 7) / 8 > kinds_length) {
    napi_throw_range_error(env, NULL, "count exceeds the pages or the kinds bitmap");
    return NULL;
  }
  size_t data = 0;
  for (size_t i = 0; i < (size_t)count; i++) data += (((uint8_t *)kinds)[i >> 3] >> (i & 7)) & 1;
  if (data > slots || data > dest_length / PAGE_SIZE) {
    napi_throw_range_error(env, NULL, "dest or out has no room for every data page");
    return NULL;
  }
  gather_pages(pages, kinds, (size_t)count, dest, out);
  napi_value copied;
  if (napi_create_uint32(env, (uint32_t)data, &copied) != napi_ok) return NULL;
  return copied;
}

/*
 * A page copied to guest memory with non-temporal stores, past the caches: the target writes
 * each page once and reads it back only when the guest runs, so an ordinary copy would pull
 * every destination line into the cache first (a read for ownership) and push the socket's
 * next bytes out of it. Needs `to` 16-byte aligned; `from` may be anywhere.
 */
static void stream_page(uint8_t *to, const uint8_t *from) {
  for (size_t at = 0; at < PAGE_SIZE; at += 64) {
    __m128i a = _mm_loadu_si128((const __m128i *)(from + at));
    __m128i b = _mm_loadu_si128((const __m128i *)(from + at + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(from + at + 32));
    __m128i d = _mm_loadu_si128((const __m128i *)(from + at + 48));
    _mm_stream_si128((__m128i *)(to + at), a);
    _mm_stream_si128((__m128i *)(to + at + 16), b);
    _mm_stream_si128((__m128i *)(to + at + 32), c);
    _mm_stream_si128((__m128i *)(to + at + 48), d);
  }
}

/*
 * The target's counterpart of gather_pages: page k of data (whole pages, contiguous, as they
 * arrived) goes to page slots[k] of dest, its CRC32C to out[k]. The pages are hashed where
 * they arrived (the socket just wrote them: they are in cache), four at a time, then streamed
 * to their slots (stream_page). Against copying into guest memory and hashing the copies,
 * 1.5 GiB from a 1 MiB chunk into 2 GiB of huge-paged memory took 140-160 ms against
 * 200-290 ms on our EPYC machines (2026-12-03). A dest that is not 16-byte aligned (never
 * so for guest RAM) gets ordinary copies.
 */
__attribute__((target("sse4.2"))) static void scatter_pages(const uint8_t *data, size_t count,
                                                            const int32_t *slots, uint8_t *dest,
                                                            uint32_t *out) {
  const int streamed = ((uintptr_t)dest & 15) == 0;
  for (size_t k = 0; k < count;) {
    size_t n = count - k < 4 ? count - k : 4;
    if (n == 4) {
      const uint8_t *const four[4] = {data + k * PAGE_SIZE, data + (k + 1) * PAGE_SIZE,
                                      data + (k + 2) * PAGE_SIZE, data + (k + 3) * PAGE_SIZE};
      crc32c_four(four, out + k);
    } else {
      for (size_t j = 0; j < n; j++) out[k + j] = crc32c_page(data + (k + j) * PAGE_SIZE);
    }
    for (size_t j = 0; j < n; j++, k++) {
      uint8_t *to = dest + (size_t)slots[k] * PAGE_SIZE;
      if (streamed)
        stream_page(to, data + k * PAGE_SIZE);
      else
        memcpy(to, data + k * PAGE_SIZE, PAGE_SIZE);
    }
  }
  /* Non-temporal stores are weakly ordered: make them visible before anything that follows
   * (the guest's vCPU threads read these pages once told to run). */
  _mm_sfence();
}

/*
 * scatterCrc32cPages(data: Uint8Array, slots: Int32Array, at: number, dest: Uint8Array,
 *                    out: Uint32Array): void — page k of data to page slots[at + k] of dest,
 * its CRC32C to out[at + k]. Every slot is checked before anything is written.
 */
static napi_value scatter_pages_js(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!call_args(env, info, 5, argv,
                 "scatterCrc32cPages(data, slots, at, dest, out) takes five arguments"))
    return NULL;
  void *data, *slots, *dest, *out;
  size_t data_length, slot_count, dest_length, out_count;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "data must be a Uint8Array", &data,
                       &data_length) ||
      !typed_array_arg(env, argv[1], napi_int32_array, "slots must be an Int32Array", &slots,
                       &slot_count) ||
      !typed_array_arg(env, argv[3], napi_uint8_array, "dest must be a Uint8Array", &dest,
                       &dest_length) ||
      !typed_array_arg(env, argv[4], napi_uint32_array, "out must be a Uint32Array", &out,
                       &out_count))
    return NULL;
  int64_t at;
  if (napi_get_value_int64(env, argv[2], &at) != napi_ok) {
    napi_throw_type_error(env, NULL, "at must be a number");
    return NULL;
  }
  if (data_length % PAGE_SIZE != 0) {
    napi_throw_range_error(env, NULL, "data must be a whole number of 4096-byte pages");
    return NULL;
  }
  size_t count = data_length / PAGE_SIZE;
  if (at < 0 || (uint64_t)at > slot_count || count > slot_count - (size_t)at ||
      (uint64_t)at > out_count || count > out_count - (size_t)at) {
    napi_throw_range_error(env, NULL, "slots or out has no entry for every page from at");
    return NULL;
  }
  const int32_t *from = (const int32_t *)slots + at;
  size_t dest_pages = dest_length / PAGE_SIZE;
  for (size_t k = 0; k < count; k++) {
    if (from[k] < 0 || (size_t)from[k] >= dest_pages) {
      napi_throw_range_error(env, NULL, "a slot lies outside dest");
      return NULL;
    }
  }
  scatter_pages(data, count, from, dest, (uint32_t *)out + at);
  return NULL;
}

/* Whether a 4 KiB page is all zero: a data page is told within its first 64 bytes. */
static int page_is_zero(const uint8_t *page) {
  for (size_t at = 0; at < PAGE_SIZE; at += 64) {
    uint64_t w[8];
    memcpy(w, page + at, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return 0;
  }
  return 1;
}

/*
 * The zero check and gather_pages in one pass: page i of pages is zero when its bit in
 * populated (for guest page first + i) is clear, or when it reads all zero; every other page
 * gets bit i in kinds, is copied to dest (one after another) and hashed as it is copied. The
 * line a data page's zero check reads is in cache when its copy follows a few pages later.
 */
__attribute__((target("sse4.2"))) static size_t scan_gather_pages(
    const uint8_t *pages, size_t count, const uint32_t *populated, uint64_t first,
    uint8_t *kinds, uint8_t *dest, uint32_t *out) {
  struct gathering g = {dest, out, 0, {NULL, NULL, NULL, NULL}, 0};
  for (size_t i = 0; i < count; i++) {
    uint64_t p = first + i;
    if (populated != NULL && ((populated[p >> 5] >> (p & 31)) & 1) == 0) continue;
    const uint8_t *page = pages + i * PAGE_SIZE;
    if (page_is_zero(page)) continue;
    kinds[i >> 3] |= (uint8_t)(1u << (i & 7));
    gather_append(&g, page);
  }
  return gather_finish(&g);
}

/*
 * scanGatherCrc32cPages(pages: Uint8Array, count: number, populated: Int32Array | null,
 *                       first: number, kinds: Uint8Array, dest: Uint8Array,
 *                       out: Uint32Array): number — the data pages found (and copied).
 * kinds is cleared first; dest and out must have room for every page.
 */
static napi_value scan_gather_pages_js(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!call_args(env, info, 7, argv,
                 "scanGatherCrc32cPages(pages, count, populated, first, kinds, dest, out) takes "
                 "seven arguments"))
    return NULL;
  void *pages, *kinds, *dest, *out, *populated = NULL;
  size_t pages_length, kinds_length, dest_length, slots, populated_words = 0;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "pages must be a Uint8Array", &pages,
                       &pages_length) ||
      !typed_array_arg(env, argv[4], napi_uint8_array, "kinds must be a Uint8Array", &kinds,
                       &kinds_length) ||
      !typed_array_arg(env, argv[5], napi_uint8_array, "dest must be a Uint8Array", &dest,
                       &dest_length) ||
      !typed_array_arg(env, argv[6], napi_uint32_array, "out must be a Uint32Array", &out,
                       &slots))
    return NULL;
  napi_valuetype populated_type;
  if (napi_typeof(env, argv[2], &populated_type) != napi_ok) return NULL;
  if (populated_type != napi_null &&
      !typed_array_arg(env, argv[2], napi_int32_array, "populated must be an Int32Array or null",
                       &populated, &populated_words))
    return NULL;
  int64_t count, first;
  if (napi_get_value_int64(env, argv[1], &count) != napi_ok ||
      napi_get_value_int64(env, argv[3], &first) != napi_ok) {
    napi_throw_type_error(env, NULL, "count and first must be numbers");
    return NULL;
  }
  if (count < 0 || first < 0 || (uint64_t)count > pages_length / PAGE_SIZE ||
      (uint64_t)(count + 7) / 8 > kinds_length || (uint64_t)count > dest_length / PAGE_SIZE ||
      (uint64_t)count > slots ||
      (populated != NULL && (uint64_t)(first + count + 31) / 32 > populated_words)) {
    napi_throw_range_error(env, NULL,
                           "count exceeds the pages, kinds, dest, out or the populated map");
    return NULL;
  }
  memset(kinds, 0, ((size_t)count + 7) / 8);
  size_t data = scan_gather_pages(pages, (size_t)count, populated, (uint64_t)first, kinds, dest,
                                  out);
  napi_value found;
  if (napi_create_uint32(env, (uint32_t)data, &found) != napi_ok) return NULL;
  return found;
}

/* crc32cPages(pages: Uint8Array, out: Uint32Array, at: number): void */
static napi_value crc32c_pages_js(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!call_args(env, info, 3, argv, "crc32cPages(pages, out, at) takes three arguments"))
    return NULL;
  void *pages;
  size_t length;
  void *out;
  size_t slots;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "pages must be a Uint8Array", &pages,
                       &length) ||
      !typed_array_arg(env, argv[1], napi_uint32_array, "out must be a Uint32Array", &out,
                       &slots))
    return NULL;
  int64_t at;
  if (napi_get_value_int64(env, argv[2], &at) != napi_ok) {
    napi_throw_type_error(env, NULL, "at must be a number");
    return NULL;
  }
  if (length % PAGE_SIZE != 0) {
    napi_throw_range_error(env, NULL, "pages must be a whole number of 4096-byte pages");
    return NULL;
  }
  size_t count = length / PAGE_SIZE;
  if (at < 0 || (uint64_t)at > slots || count > slots - (size_t)at) {
    napi_throw_range_error(env, NULL, "out has no room for a CRC of every page from at");
    return NULL;
  }
  crc32c_pages(pages, count, (uint32_t *)out + at);
  return NULL;
}
#endif

/* copy(dest: Uint8Array, src: Uint8Array): void */
static napi_value copy_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!call_args(env, info, 2, argv, "copy(dest, src) takes two arguments"))
    return NULL;
  void *dest;
  size_t dest_length;
  void *src;
  size_t src_length;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "dest must be a Uint8Array", &dest,
                       &dest_length) ||
      !typed_array_arg(env, argv[1], napi_uint8_array, "src must be a Uint8Array", &src,
                       &src_length))
    return NULL;
  if (dest_length != src_length) {
    napi_throw_range_error(env, NULL, "copy needs dest and src of equal lengths");
    return NULL;
  }
  /* Views of one buffer may overlap. */
  if (src_length > 0) memmove(dest, src, src_length);
  return NULL;
}

/*
 * markUnchangedPages(live: Uint8Array, copies: Uint8Array, slots: Int32Array,
 *                    unchanged: Uint8Array): number
 * For each page i < slots.length of `live` whose slots[i] is positive, compares it with page
 * slots[i] - 1 of `copies` and, when every byte is equal, sets bit i of `unchanged` (LSB
 * first; other bits are left as they are). Returns how many bits it set.
 */
static napi_value mark_unchanged_js(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!call_args(env, info, 4, argv,
                 "markUnchangedPages(live, copies, slots, unchanged) takes four arguments"))
    return NULL;
  void *live;
  size_t live_length;
  void *copies;
  size_t copies_length;
  void *slots_data;
  size_t count;
  void *unchanged_data;
  size_t unchanged_length;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "live must be a Uint8Array", &live,
                       &live_length) ||
      !typed_array_arg(env, argv[1], napi_uint8_array, "copies must be a Uint8Array", &copies,
                       &copies_length) ||
      !typed_array_arg(env, argv[2], napi_int32_array, "slots must be an Int32Array",
                       &slots_data, &count) ||
      !typed_array_arg(env, argv[3], napi_uint8_array, "unchanged must be a Uint8Array",
                       &unchanged_data, &unchanged_length))
    return NULL;
  if (live_length / PAGE_SIZE < count || unchanged_length < (count + 7) / 8) {
    napi_throw_range_error(env, NULL,
                           "markUnchangedPages needs a page of live and a bit of unchanged a slot");
    return NULL;
  }
  const int32_t *slots = slots_data;
  const size_t copies_pages = copies_length / PAGE_SIZE;
  for (size_t i = 0; i < count; i++) {
    if (slots[i] > 0 && (size_t)slots[i] > copies_pages) {
      napi_throw_range_error(env, NULL, "markUnchangedPages: a slot is outside copies");
      return NULL;
    }
  }
  uint8_t *unchanged = unchanged_data;
  uint32_t marked = 0;
  for (size_t i = 0; i < count; i++) {
    if (slots[i] <= 0) continue;
    const uint8_t *page = (const uint8_t *)live + i * PAGE_SIZE;
    const uint8_t *copy = (const uint8_t *)copies + (size_t)(slots[i] - 1) * PAGE_SIZE;
    if (memcmp(page, copy, PAGE_SIZE) != 0) continue;
    unchanged[i >> 3] |= (uint8_t)(1u << (i & 7));
    marked++;
  }
  napi_value result;
  if (napi_create_uint32(env, marked, &result) != napi_ok) return NULL;
  return result;
}

/*
 * Dirty bitmaps' word loops: orWords(into, from), andWords(into, other), countWords(words)
 * and moveWords(from, into). A 2 GiB guest's bitmap is 16,384 words, and each loop runs a
 * few times a pass, first at the start of a migration, when the JavaScript loops have not
 * run yet: the first dirty sync took 7-10 ms on our 2-core EPYC machines, nearly all of it
 * in these loops. moveWords reads and clears each word with an atomic exchange, as
 * JavaScript's Atomics.exchange does, because vCPU threads set bits in a dirty log with
 * Atomics.or while it is read.
 */

/* Reads two Int32Array arguments of one length; throws TypeError or RangeError otherwise. */
static int two_word_arrays(napi_env env, napi_callback_info info, const char *usage,
                           int32_t **a, int32_t **b, size_t *count) {
  napi_value argv[2];
  if (!call_args(env, info, 2, argv, usage)) return 0;
  void *a_data;
  void *b_data;
  size_t b_count;
  if (!typed_array_arg(env, argv[0], napi_int32_array, "bitmap words must be an Int32Array",
                       &a_data, count) ||
      !typed_array_arg(env, argv[1], napi_int32_array, "bitmap words must be an Int32Array",
                       &b_data, &b_count))
    return 0;
  if (*count != b_count) {
    napi_throw_range_error(env, NULL, "bitmaps of different lengths cannot be combined");
    return 0;
  }
  *a = a_data;
  *b = b_data;
  return 1;
}

static napi_value count_result(napi_env env, uint64_t n) {
  napi_value result;
  if (napi_create_double(env, (double)n, &result) != napi_ok) return NULL;
  return result;
}

/* into |= from (or into &= from with `and`), word by word, for orWords and andWords. */
static napi_value combine_words(napi_env env, napi_callback_info info, const char *usage,
                                bool and) {
  int32_t *into;
  int32_t *from;
  size_t count;
  if (!two_word_arrays(env, info, usage, &into, &from, &count)) return NULL;
  if (and)
    for (size_t i = 0; i < count; i++) into[i] &= from[i];
  else
    for (size_t i = 0; i < count; i++) into[i] |= from[i];
  return NULL;
}

/* orWords(into: Int32Array, from: Int32Array): void — into |= from, word by word. */
static napi_value or_words_js(napi_env env, napi_callback_info info) {
  return combine_words(env, info, "orWords(into, from) takes two arguments", false);
}

/* andWords(into: Int32Array, other: Int32Array): void — into &= other, word by word. */
static napi_value and_words_js(napi_env env, napi_callback_info info) {
  return combine_words(env, info, "andWords(into, other) takes two arguments", true);
}

/* countWords(words: Int32Array): number — the bits set. */
static napi_value count_words_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!call_args(env, info, 1, argv, "countWords(words) takes one argument")) return NULL;
  void *data;
  size_t count;
  if (!typed_array_arg(env, argv[0], napi_int32_array, "bitmap words must be an Int32Array",
                       &data, &count))
    return NULL;
  const uint32_t *words = data;
  uint64_t n = 0;
  for (size_t i = 0; i < count; i++) n += (uint64_t)__builtin_popcount(words[i]);
  return count_result(env, n);
}

/*
 * moveWords(from: Int32Array, into: Int32Array): number — each non-zero word of from is
 * exchanged for 0 atomically and ORed into into; returns the bits moved.
 */
static napi_value move_words_js(napi_env env, napi_callback_info info) {
  int32_t *from;
  int32_t *into;
  size_t count;
  if (!two_word_arrays(env, info, "moveWords(from, into) takes two arguments", &from, &into,
                       &count))
    return NULL;
  uint64_t moved = 0;
  for (size_t i = 0; i < count; i++) {
    if (__atomic_load_n(&from[i], __ATOMIC_RELAXED) == 0) continue;
    uint32_t x = (uint32_t)__atomic_exchange_n(&from[i], 0, __ATOMIC_SEQ_CST);
    into[i] |= (int32_t)x;
    moved += (uint64_t)__builtin_popcount(x);
  }
  return count_result(env, moved);
}

#ifdef MADV_HUGEPAGE
/*
 * adviseHugePages(memory: Uint8Array): boolean — madvise(MADV_HUGEPAGE) over the whole
 * pages inside the view; false when the kernel refuses (no THP support). Advice only: it
 * changes how the kernel backs the memory, never its contents.
 */
static napi_value advise_huge_pages_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!call_args(env, info, 1, argv, "adviseHugePages(memory) takes one argument"))
    return NULL;
  void *data;
  size_t length;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "memory must be a Uint8Array", &data,
                       &length))
    return NULL;
  uintptr_t start, end;
  whole_pages(data, length, &start, &end);
  return boolean_result(env,
                        start < end && madvise((void *)start, end - start, MADV_HUGEPAGE) == 0);
}
#endif

#ifdef MADV_DONTNEED
/*
 * releasePages(memory: Uint8Array): boolean — the view reads as zeros afterwards and its
 * whole pages hold no RAM: they go back to the kernel (madvise(MADV_DONTNEED)), which backs
 * them afresh, zero-filled, on the next touch; the partial pages at its ends are zeroed by
 * hand. Nothing may use the memory meanwhile. False when the kernel kept the contents (memory
 * that is not private and anonymous, as V8's SharedArrayBuffers are) or refused: the whole
 * view was then zeroed by hand and still holds its RAM.
 */
static napi_value release_pages_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!call_args(env, info, 1, argv, "releasePages(memory) takes one argument")) return NULL;
  void *data;
  size_t length;
  if (!typed_array_arg(env, argv[0], napi_uint8_array, "memory must be a Uint8Array", &data,
                       &length))
    return NULL;
  uintptr_t first = (uintptr_t)data, last = first + length;
  uintptr_t start, end;
  whole_pages(data, length, &start, &end);
  bool released = true;
  if (start < end) {
    /* A marker that must read back as zero: proof the kernel dropped the contents. */
    volatile uint8_t *marker = (volatile uint8_t *)start;
    *marker = 1;
    if (madvise((void *)start, end - start, MADV_DONTNEED) != 0 || *marker != 0) {
      memset((void *)start, 0, end - start);
      released = false;
    }
    memset((void *)first, 0, start - first);
    memset((void *)end, 0, last - end);
  } else if (length > 0) {
    memset(data, 0, length);
  }
  return boolean_result(env, released);
}
#endif

#ifdef POLLRDHUP
/*
 * peerHungUp(fd: number): boolean — whether the peer of stream socket `fd` shut down its
 * sending side or the connection was reset or broke (poll with POLLRDHUP, not waiting).
 * Reads nothing: the bytes queued before the peer's end stay for the reader. True for a
 * descriptor that is not open.
 */
static napi_value peer_hung_up_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!call_args(env, info, 1, argv, "peerHungUp(fd) takes one argument")) return NULL;
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "fd must be a number");
    return NULL;
  }
  if (fd < 0) {
    napi_throw_range_error(env, NULL, "fd must be >= 0");
    return NULL;
  }
  struct pollfd p = {fd, POLLRDHUP, 0};
  int ready = poll(&p, 1, 0);
  return boolean_result(
      env, ready > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0);
}
#endif

#ifdef SO_RCVLOWAT
/*
 * setReceiveLowWater(fd: number, bytes: number): boolean — setsockopt(SO_RCVLOWAT): the
 * kernel reports the socket readable (and wakes its reader) only once `bytes` are queued, or
 * at the end of the stream. False when the kernel refuses (not a socket, a closed fd).
 */
static napi_value set_receive_low_water_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!call_args(env, info, 2, argv, "setReceiveLowWater(fd, bytes) takes two arguments"))
    return NULL;
  int32_t fd, bytes;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &bytes) != napi_ok) {
    napi_throw_type_error(env, NULL, "fd and bytes must be numbers");
    return NULL;
  }
  if (fd < 0 || bytes < 1) {
    napi_throw_range_error(env, NULL, "fd must be >= 0 and bytes >= 1");
    return NULL;
  }
  return boolean_result(env,
                        setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0);
}
#endif

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT() {
  if (!export_function(env, exports, "copy", copy_js) ||
      !export_function(env, exports, "markUnchangedPages", mark_unchanged_js) ||
      !export_function(env, exports, "orWords", or_words_js) ||
      !export_function(env, exports, "andWords", and_words_js) ||
      !export_function(env, exports, "countWords", count_words_js) ||
      !export_function(env, exports, "moveWords", move_words_js))
    return NULL;
#ifdef MADV_HUGEPAGE
  if (!export_function(env, exports, "adviseHugePages", advise_huge_pages_js)) return NULL;
#endif
#ifdef MADV_DONTNEED
  if (!export_function(env, exports, "releasePages", release_pages_js)) return NULL;
#endif
#ifdef POLLRDHUP
  if (!export_function(env, exports, "peerHungUp", peer_hung_up_js)) return NULL;
#endif
#ifdef SO_RCVLOWAT
  if (!export_function(env, exports, "setReceiveLowWater", set_receive_low_water_js)) return NULL;
#endif
  const char *crc32c = NULL;
#ifdef HAVE_SSE42
  /* Compiled for any x86 CPU, run only where the instruction exists. */
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) {
    if (!export_function(env, exports, "crc32cPages", crc32c_pages_js) ||
        !export_function(env, exports, "gatherCrc32cPages", gather_pages_js) ||
        !export_function(env, exports, "scatterCrc32cPages", scatter_pages_js) ||
        !export_function(env, exports, "scanGatherCrc32cPages", scan_gather_pages_js))
      return NULL;
    crc32c = "sse4.2";
  }
#endif
  napi_value name;
  if (crc32c == NULL) {
    if (napi_get_null(env, &name) != napi_ok) return NULL;
  } else if (napi_create_string_utf8(env, crc32c, NAPI_AUTO_LENGTH, &name) != napi_ok) {
    return NULL;
  }
  if (napi_set_named_property(env, exports, "crc32c", name) != napi_ok) return NULL;
  return exports;
}
