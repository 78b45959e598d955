// Receiver half of stream.bench.mjs, run in its own process (child_process.fork).
// argv: <bare|stream> <unix|tcp> <unix socket path>
// Bare: counts bytes off a plain socket. Stream: decodes the migration stream through the
// transport, copying every data page once into a 64 MiB RAM window (page p lands at
// p mod window: the same copy a target makes, without a 2 GiB allocation).
// The bare receiver loads nothing of core and allocates no window: with core loaded, its
// fresh 64 KiB read buffers page-fault again after collections and the baseline halves (as
// in packages/cli/bench/bare-socket.mjs).
import { createServer } from "node:net";

const [mode, transport, path] = process.argv.slice(2);
const PAGE_SIZE = 4096;
const WINDOW_PAGES = (64 * 1024 * 1024) / PAGE_SIZE;
const ram = mode === "stream" ? new Uint8Array(WINDOW_PAGES * PAGE_SIZE) : undefined;

function applyWindowed(run) {
  let at = 0;
  for (let i = 0; i < run.count; i++) {
    const page = (run.startPage + i) % WINDOW_PAGES;
    if ((run.kinds[i >> 3] >> (i & 7)) & 1) {
      ram.set(run.data.subarray(at, at + PAGE_SIZE), page * PAGE_SIZE);
      at += PAGE_SIZE;
    } else {
      ram.fill(0, page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    }
  }
}

async function bare() {
  const total = Number(process.argv[5]);
  const server = createServer((socket) => {
    let got = 0;
    socket.on("data", (c) => {
      got += c.byteLength;
      if (got >= total) {
        process.send({ done: true, bytes: got });
        socket.destroy();
        server.close();
      }
    });
  });
  const args = transport === "unix" ? { path } : { host: "127.0.0.1", port: 0 };
  if (transport === "unix") {
    const { rmSync } = await import("node:fs");
    rmSync(path, { force: true });
  }
  server.listen(args, () => {
    const a = server.address();
    process.send({
      ready: true,
      url: transport === "unix" ? `unix://${path}` : `tcp://127.0.0.1:${a.port}`,
    });
  });
}

async function stream() {
  const { StreamDecoder } = await import("../dist/stream/index.js");
  const { listenTcp, listenUnix } = await import("../dist/transport/index.js");
  const listener = transport === "unix" ? await listenUnix(path) : await listenTcp();
  process.send({ ready: true, url: listener.url });
  const target = await listener.accept();
  const dec = new StreamDecoder();
  let bytes = 0;
  for await (const chunk of target.receive()) {
    bytes += chunk.byteLength;
    for (const r of dec.push(chunk)) {
      if (r.type === "HANDSHAKE") dec.setGuestPageCount(Number(process.argv[5]));
      else if (r.type === "RAM_PAGES") applyWindowed(r);
      else if (r.type === "END") {
        process.send({ done: true, bytes, dataPages: r.dataPages, zeroPages: r.zeroPages });
        target.destroy();
        await listener.close();
        return;
      }
    }
  }
}

await (mode === "bare" ? bare() : stream());
