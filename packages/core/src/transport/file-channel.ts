import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { errnoOf } from "../errors/errno.js";
import type { ChannelCapabilities, SourceChannel, TargetChannel } from "./channel.js";
import { formatChannelUrl } from "./channel-url.js";
import { TransportError } from "./transport-error.js";

const CAPS: ChannelCapabilities = {
  kind: "file",
  returnPath: false,
  authenticated: false,
  encrypted: false,
};

/**
 * Source end writing a save file (`virsh save`-style). One-way: `returnPath` is `null`, so
 * there is no ACCEPT/LOADED/GO; the restore side relies on the END record's totals and
 * digests (and on the decoder's `finish()`) to know the file is whole.
 */
export class FileSourceChannel implements SourceChannel {
  readonly role = "source" as const;
  readonly returnPath = null;
  readonly capabilities = CAPS;
  readonly peer: string;
  readonly #file: FileHandle;
  #closed = false;

  private constructor(file: FileHandle, peer: string) {
    this.#file = file;
    this.peer = peer;
  }

  /** Creates (or truncates) the save file at `path`. */
  static async create(path: string): Promise<FileSourceChannel> {
    const url = formatChannelUrl({ kind: "file", path });
    try {
      return new FileSourceChannel(await open(path, "w", 0o600), url);
    } catch (err) {
      throw new TransportError(
        errnoOf(err, "EIO"),
        url,
        `cannot create: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** Disk writes cannot be taken back; an aborted `signal` only stops sends not yet begun. */
  async send(frames: readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (this.#closed) throw new TransportError("EIO", this.peer, "file channel is closed");
    try {
      let total = 0;
      for (const f of frames) total += f.byteLength;
      const { bytesWritten } = await this.#file.writev(frames as Uint8Array[]);
      // writev may stop short (e.g. a full disk reports it on the next call): finish by hand.
      if (bytesWritten < total) await this.#finish(frames, bytesWritten);
    } catch (err) {
      if (err instanceof TransportError) throw err;
      throw new TransportError(
        errnoOf(err, "EIO"),
        this.peer,
        `write failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async #finish(frames: readonly Uint8Array[], done: number): Promise<void> {
    let skip = done;
    for (const f of frames) {
      if (skip >= f.byteLength) {
        skip -= f.byteLength;
        continue;
      }
      let rest = f.subarray(skip);
      skip = 0;
      while (rest.byteLength > 0) {
        const { bytesWritten } = await this.#file.write(rest);
        if (bytesWritten === 0)
          throw new TransportError("EIO", this.peer, "write made no progress");
        rest = rest.subarray(bytesWritten);
      }
    }
  }

  /** Flushes to stable storage and closes: a save is only useful once it is on disk. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.sync();
    await this.#file.close();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#file.close().catch(() => undefined);
  }
}

/** Target end reading a save file. One-way: `returnPath` is `null`. */
export class FileTargetChannel implements TargetChannel {
  readonly role = "target" as const;
  readonly returnPath = null;
  readonly capabilities = CAPS;
  readonly peer: string;
  readonly #path: string;
  readonly #chunkSize: number;
  #stream: ReturnType<typeof createReadStream> | undefined;

  /** @param chunkSize read size (default 1 MiB: large reads, few syscalls). */
  constructor(path: string, chunkSize = 1024 * 1024) {
    this.#path = path;
    this.peer = formatChannelUrl({ kind: "file", path });
    this.#chunkSize = chunkSize;
  }

  async *receive(): AsyncIterable<Uint8Array> {
    if (this.#stream)
      throw new TransportError("EINVAL", this.peer, "receive() may be iterated only once");
    this.#stream = createReadStream(this.#path, { highWaterMark: this.#chunkSize });
    try {
      for await (const chunk of this.#stream) yield chunk as Uint8Array;
    } catch (err) {
      throw new TransportError(
        errnoOf(err, "EIO"),
        this.peer,
        `read failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    this.#stream?.destroy();
  }

  destroy(): void {
    this.#stream?.destroy();
  }
}
