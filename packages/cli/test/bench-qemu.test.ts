// The benchmark's QEMU side (packages/cli/bench/qemu.mjs): when a QEMU migration's figures
// are final (QEMU 7.2 enters COMPLETED before it computes `total-time` and `downtime`, and a
// full benchmark run read one round as "QEMU total 0 ms, downtime 0 ms"), and that a QEMU
// which stops answering fails its round instead of hanging the benchmark.
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: the benchmark is plain JavaScript (bench/ is not compiled).
import { awaitIncomingEnd, awaitMigrationEnd, Qmp } from "../bench/qemu.mjs";

type Answer = Record<string, unknown>;

/**
 * A QMP connection that plays QEMU 7.2's end of a migration: `active` for `activePolls`
 * queries, then COMPLETED with zero figures while the source is still in `finish-migrate`
 * for `racePolls` queries of either kind, then the figures and `postmigrate`.
 */
function qemu72(activePolls: number, racePolls: number) {
  let migrates = 0;
  let afterComplete = 0;
  const final = () => afterComplete > racePolls;
  return {
    commands: [] as string[],
    async cmd(execute: string): Promise<Answer> {
      this.commands.push(execute);
      if (execute === "query-migrate") {
        if (migrates++ < activePolls) return { status: "active" };
        afterComplete++;
        return final()
          ? { status: "completed", "total-time": 912, downtime: 14 }
          : { status: "completed", "total-time": 0, downtime: 0 };
      }
      if (execute === "query-status") {
        afterComplete++;
        return { status: final() ? "postmigrate" : "finish-migrate", running: false };
      }
      throw new Error(`unexpected ${execute}`);
    },
  };
}

describe("awaitMigrationEnd", () => {
  it("waits past COMPLETED with zero figures until the source is in postmigrate", async () => {
    const qmp = qemu72(3, 4);
    const info = await awaitMigrationEnd(qmp, { pollMs: 1 });
    expect(info).toMatchObject({ status: "completed", "total-time": 912, downtime: 14 });
    expect(qmp.commands).toContain("query-status");
  });

  it("returns at once when the figures were already final", async () => {
    const qmp = qemu72(2, 0);
    const info = await awaitMigrationEnd(qmp, { pollMs: 1 });
    expect(info["total-time"]).toBe(912);
  });

  it("returns a failed migration as it is", async () => {
    const qmp = {
      cmd: async () => ({ status: "failed", "error-desc": "Unable to write to socket" }),
    };
    expect(await awaitMigrationEnd(qmp, { pollMs: 1 })).toMatchObject({ status: "failed" });
  });

  it("throws rather than return figures that never became final", async () => {
    const qmp = qemu72(0, Number.POSITIVE_INFINITY);
    await expect(awaitMigrationEnd(qmp, { pollMs: 1, settleMs: 20 })).rejects.toThrow(
      /stayed in run state "finish-migrate"/,
    );
  });
});

describe("a QEMU that stops moving fails the round", () => {
  const always = (answer: Answer) => ({ cmd: async () => answer });

  it("a migration that stays active past the timeout", async () => {
    await expect(
      awaitMigrationEnd(always({ status: "active" }), { pollMs: 1, timeoutMs: 20 }),
    ).rejects.toThrow(/still "active" after 20 ms/);
  });

  it("a target that stays inmigrate past the timeout", async () => {
    await expect(
      awaitIncomingEnd(always({ status: "inmigrate" }), { pollMs: 1, timeoutMs: 20 }),
    ).rejects.toThrow(/target was still "inmigrate"/);
  });

  it("a target that finishes loading", async () => {
    let polls = 0;
    const qmp = { cmd: async () => ({ status: polls++ < 3 ? "inmigrate" : "paused" }) };
    expect(await awaitIncomingEnd(qmp, { pollMs: 1 })).toBe("paused");
    expect(polls).toBe(4);
  });
});

describe("Qmp", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A QMP server that greets, accepts `qmp_capabilities`, then dies on the next command. */
  async function dyingQemu(): Promise<{ path: string; server: net.Server }> {
    dir = mkdtempSync(join(tmpdir(), "mdevkit-qmp-"));
    const path = join(dir, "qmp.sock");
    const server = net.createServer((sock) => {
      sock.write('{"QMP": {"version": {}, "capabilities": []}}\n');
      let commands = 0;
      sock.on("data", () => {
        if (commands++ === 0) sock.write('{"return": {}}\n');
        else sock.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return { path, server };
  }

  it("rejects the command in flight when QEMU goes away, and every one after", async () => {
    const { path, server } = await dyingQemu();
    try {
      const qmp = await Qmp.connect(path, 5_000);
      await expect(qmp.cmd("query-status")).rejects.toThrow(/QEMU closed its QMP connection/);
      await expect(qmp.cmd("query-status")).rejects.toThrow(/QEMU closed its QMP connection/);
      qmp.close();
    } finally {
      server.close();
    }
  });
  /** A QMP socket that accepts connections and sends `greeting` (nothing when undefined). */
  async function silentQemu(greeting?: string): Promise<{ path: string; server: net.Server }> {
    dir = mkdtempSync(join(tmpdir(), "mdevkit-qmp-"));
    const path = join(dir, "qmp.sock");
    const server = net.createServer((sock) => {
      if (greeting !== undefined) sock.write(greeting);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return { path, server };
  }

  it("gives up on a QEMU that accepts the connection but never greets", async () => {
    const { path, server } = await silentQemu();
    try {
      const started = performance.now();
      await expect(Qmp.connect(path, 300)).rejects.toThrow(/never answered: no greeting in 300 ms/);
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      server.close();
    }
  });

  it("fails the connection on a line that is not JSON instead of throwing", async () => {
    const { path, server } = await silentQemu("QEMU monitor garbage\n");
    try {
      await expect(Qmp.connect(path, 300)).rejects.toThrow(/not JSON: QEMU monitor garbage/);
    } finally {
      server.close();
    }
  });
});
