import { isMdevError, isStateSupported, MigState, migStateName } from "@mdevkit/core";
import { expectMdevError, expectSuccess, Role } from "../context.js";
import type { ConformanceGroup } from "../group.js";
import { drainStream, reach, saveDevice } from "../harness.js";
import { ContractBreach, ensure } from "../violation.js";

const { STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P } = MigState;

/** Reads once; returns the bytes or "ENOMSG", a breach on any other error. */
async function readOnce(
  stream: { read(n: number): Promise<Uint8Array> },
  max: number,
  what: string,
): Promise<Uint8Array | "ENOMSG"> {
  try {
    const bytes = await stream.read(max);
    ensure(
      bytes.byteLength <= max,
      `${what} returned ${bytes.byteLength} bytes for a ${max}-byte read`,
    );
    return bytes;
  } catch (err) {
    if (isMdevError(err, "ENOMSG")) return "ENOMSG";
    throw new ContractBreach(`${what} failed: ${String(err)}`, { cause: err });
  }
}

const noPrecopy = "the plugin does not declare PRE_COPY";

/** Streams group: end-of-data semantics, session lifetime, precopy info, data size. */
export const streamsGroup: ConformanceGroup = {
  id: "streams",
  title: "streams: temporary and permanent ends, sessions, sizes",
  catches:
    "0-byte reads in PRE_COPY, STOP_COPY streams that never end or restart, reads after the session, wrong precopy info, data size below what is produced",
  checks: [
    {
      name: "PRE_COPY reads end temporarily (ENOMSG), never with 0 bytes, and continue after activity",
      skip: (ctx) => (ctx.precopy ? undefined : noPrecopy),
      async run(ctx) {
        const h = await ctx.harness();
        await ctx.exercise(h);
        const stream = await reach(h.driver, PRE_COPY);
        ensure(stream !== undefined, "RUNNING → PRE_COPY opened no stream");
        let total = 0;
        for (let i = 0; ; i++) {
          const r = await readOnce(stream, 7, "a PRE_COPY read");
          if (r === "ENOMSG") break;
          ensure(
            r.byteLength > 0,
            "a PRE_COPY read returned 0 bytes: the temporary end must be ENOMSG, 0 bytes means the permanent end",
          );
          total += r.byteLength;
          ensure(i < 1 << 20, "PRE_COPY never reached its temporary end");
        }
        ensure(total > 0, "PRE_COPY produced no initial bytes");
        // The end is temporary: after activity the stream still answers (data or ENOMSG again).
        await ctx.exercise(h, 2);
        const info = await expectSuccess(
          () => h.driver.precopyInfo(),
          "precopy info after activity",
        );
        const again = await readOnce(stream, 1 << 16, "a PRE_COPY read after device activity");
        ensure(
          again === "ENOMSG" || again.byteLength > 0,
          "a PRE_COPY read after activity returned 0 bytes (permanent end in PRE_COPY)",
        );
        if (info.dirtyBytes > 0) {
          ensure(
            again !== "ENOMSG",
            `precopy info reports ${info.dirtyBytes} dirty bytes but the read said ENOMSG`,
          );
        }
        await drainStream(stream);
        // The same stream continues into STOP_COPY and then ends for good.
        await reach(h.driver, STOP_COPY);
        const rest = await drainStream(stream);
        ensure(
          rest.end === "EOF",
          "the stream continued from PRE_COPY did not end with a 0-byte read in STOP_COPY",
        );
      },
    },
    {
      name: "STOP_COPY ends permanently: 0-byte reads, again and again",
      async run(ctx) {
        const h = await ctx.harness();
        await ctx.exercise(h);
        const stream = await reach(h.driver, STOP_COPY);
        ensure(stream !== undefined, "STOP → STOP_COPY opened no stream");
        const { bytes, end } = await drainStream(stream, 5);
        ensure(
          end === "EOF",
          "a STOP_COPY read said ENOMSG: the end in STOP_COPY is permanent (0 bytes)",
        );
        ensure(bytes.byteLength > 0, "STOP_COPY produced no bytes");
        for (let i = 0; i < 3; i++) {
          const r = await readOnce(stream, 1 << 16, "a read after the STOP_COPY end");
          ensure(
            r !== "ENOMSG" && r.byteLength === 0,
            "STOP_COPY produced more after its permanent end",
          );
        }
        ctx.tick(h);
        const r = await readOnce(stream, 1 << 16, "a read after ticks in STOP_COPY");
        ensure(
          r !== "ENOMSG" && r.byteLength === 0,
          "STOP_COPY produced more after its permanent end",
        );
      },
    },
    {
      name: "reads and writes after the session ended fail with ENODEV",
      async run(ctx) {
        const h = await ctx.harness();
        const saving = await reach(h.driver, STOP_COPY);
        ensure(saving !== undefined, "STOP → STOP_COPY opened no stream");
        await drainStream(saving);
        await reach(h.driver, STOP);
        ensure(saving.closed, "the STOP_COPY stream is not closed after STOP_COPY → STOP");
        await expectMdevError(() => saving.read(16), "a read after STOP_COPY → STOP", ["ENODEV"]);
        if (ctx.precopy) {
          const p = await ctx.harness();
          const pre = await reach(p.driver, PRE_COPY);
          ensure(pre !== undefined, "RUNNING → PRE_COPY opened no stream");
          await reach(p.driver, RUNNING);
          await expectMdevError(() => pre.read(16), "a read after PRE_COPY → RUNNING", ["ENODEV"]);
        }
        const src = await ctx.harness(Role.REFERENCE);
        const image = (await saveDevice(src.driver)).bytes;
        const resuming = await reach(h.driver, RESUMING);
        ensure(resuming !== undefined, "STOP → RESUMING opened no stream");
        await resuming.write(image);
        await reach(h.driver, STOP);
        await expectMdevError(
          () => resuming.write(Uint8Array.of(0)),
          "a write after RESUMING → STOP",
          ["ENODEV"],
        );
      },
    },
    {
      name: "precopy info is refused outside PRE_COPY states with EINVAL",
      async run(ctx) {
        const h = await ctx.harness();
        for (const state of [RUNNING, RUNNING_P2P, STOP, STOP_COPY, STOP, RESUMING]) {
          if (!isStateSupported(ctx.flags, state)) continue;
          await reach(h.driver, state);
          await expectMdevError(
            () => h.driver.precopyInfo(),
            `precopy info in ${migStateName(state)}`,
            ["EINVAL"],
          );
        }
      },
    },
    {
      name: "precopy info: initial bytes start non-zero and fall to 0 as they are read",
      skip: (ctx) => (ctx.precopy ? undefined : noPrecopy),
      async run(ctx) {
        for (const state of [PRE_COPY, PRE_COPY_P2P]) {
          if (!isStateSupported(ctx.flags, state)) continue;
          const h = await ctx.harness();
          const stream = await reach(h.driver, state);
          ensure(stream !== undefined, `→ ${migStateName(state)} opened no stream`);
          let info = await h.driver.precopyInfo();
          ensure(
            info.initialBytes > 0,
            `initial bytes are ${info.initialBytes} on entering ${migStateName(state)}`,
          );
          ensure(info.dirtyBytes >= 0, `dirty bytes are ${info.dirtyBytes}`);
          let left = info.initialBytes;
          for (;;) {
            const r = await readOnce(stream, 3, "a precopy read");
            if (r === "ENOMSG") break;
            info = await h.driver.precopyInfo();
            ensure(
              info.initialBytes <= left,
              `initial bytes rose from ${left} to ${info.initialBytes} while reading`,
            );
            left = info.initialBytes;
          }
          ensure(left === 0, `initial bytes are still ${left} at the temporary end`);
        }
      },
    },
    {
      name: "getDataSize bounds what STOP_COPY produces",
      async run(ctx) {
        const tol = ctx.options.dataSizeTolerance;
        const bound = (estimate: number, actual: number, where: string) =>
          ensure(
            actual <= estimate + tol,
            `getDataSize said ${estimate} bytes ${where}, STOP_COPY produced ${actual}${tol > 0 ? ` (tolerance ${tol})` : ""}`,
          );
        const h = await ctx.harness();
        await ctx.exercise(h, 2);
        const running = await h.driver.getDataSize();
        await reach(h.driver, STOP);
        const stopped = await h.driver.getDataSize();
        const stream = await reach(h.driver, STOP_COPY);
        ensure(stream !== undefined, "STOP → STOP_COPY opened no stream");
        const { bytes } = await drainStream(stream);
        bound(stopped, bytes.byteLength, "in STOP");
        // Nothing changed between RUNNING and STOP here, so the RUNNING estimate must hold too.
        bound(running, bytes.byteLength, "in RUNNING");
        if (ctx.precopy) {
          const p = await ctx.harness();
          await ctx.exercise(p, 2);
          const pre = await reach(p.driver, PRE_COPY);
          ensure(pre !== undefined, "RUNNING → PRE_COPY opened no stream");
          await drainStream(pre);
          const estimate = await p.driver.getDataSize();
          await reach(p.driver, STOP_COPY);
          const rest = await drainStream(pre);
          bound(estimate, rest.bytes.byteLength, "in PRE_COPY after the precopy data was read");
        }
      },
    },
  ],
};
