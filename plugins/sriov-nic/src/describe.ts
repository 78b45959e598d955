/**
 * Comparison helpers: the VF's migrated state as plain data (what the conformance suite
 * and the CLI compare between source and target), and its self-consistency rules.
 */
import { formatMac } from "./frame.js";
import { type NicState, ringDescs, STAT_NAMES } from "./nic-state.js";
import type { SriovNicDriver } from "./sriov-nic-driver.js";

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** The VF's state as JSON-friendly data (typed arrays as hex), nothing host-side. */
export function describeNicState(s: NicState): Record<string, unknown> {
  return {
    now: s.now,
    ctrl: s.ctrl,
    rx: s.rx.map((r) => ({ ...r })),
    tx: s.tx.map((t) => ({
      baseGpa: t.baseGpa,
      lenBytes: t.lenBytes,
      head: t.head,
      tail: t.tail,
      enabled: t.enabled,
      headWb: t.headWb,
      ctx: t.ctx.map((c) => Array.from(c)),
      partial: t.partial === null ? null : { ...t.partial },
    })),
    filters: {
      mac: formatMac(s.filters.mac),
      mcHashes: [...s.filters.mcHashes],
      vlans: hex(s.filters.vlans),
      promiscUc: s.filters.promiscUc,
      promiscMc: s.filters.promiscMc,
    },
    rss: { key: hex(s.rss.key), reta: hex(s.rss.reta), mrqc: s.rss.mrqc },
    irq: { ...s.irq, eitr: [...s.irq.eitr], lastMsi: [...s.irq.lastMsi] },
    stats: Object.fromEntries(STAT_NAMES.map((n) => [n, s.stats[n]])),
    mailbox: {
      ctrl: s.mailbox.ctrl,
      mem: Array.from(s.mailbox.mem),
      inFlight: s.mailbox.inFlight,
      reqTick: s.mailbox.reqTick,
    },
    link: { ...s.link },
  };
}

/** The driver's VF state, for `describeState` in the manifest and the conformance suite. */
export function describeState(driver: SriovNicDriver): Record<string, unknown> {
  return describeNicState(driver.snapshot());
}

/** Rules the state must hold at any time; returns the broken ones (empty when healthy). */
export function nicInvariants(s: NicState): string[] {
  const broken: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) broken.push(what);
  };
  for (const [name, q] of [
    ["rx0", s.rx[0]],
    ["rx1", s.rx[1]],
    ["tx0", s.tx[0]],
    ["tx1", s.tx[1]],
  ] as const) {
    const n = ringDescs(q.lenBytes);
    check(
      n === 0 ? q.head === 0 && q.tail === 0 : q.head < n && q.tail < n,
      `${name}: head/tail outside the ring`,
    );
  }
  for (const t of s.tx)
    check(t.partial === null || t.partial.descs > 0, "partial packet without descriptors");
  const m = s.mailbox;
  check(
    m.inFlight === "vf-to-pf"
      ? (m.ctrl & 1) !== 0
      : m.inFlight === "pf-to-vf"
        ? (m.ctrl & 0x10) !== 0
        : (m.ctrl & 0x11) === 0,
    `mailbox control 0x${m.ctrl.toString(16)} contradicts "${m.inFlight}"`,
  );
  check(
    s.irq.lastMsi.every((t) => t <= s.now),
    "an MSI later than the device clock",
  );
  check(s.filters.mcHashes.length <= 30, "more than 30 multicast entries");
  return broken;
}
