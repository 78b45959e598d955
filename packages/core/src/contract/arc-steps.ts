import { MigFlags } from "../fsm/mig-flags.js";
import { MigState, migStateName } from "../fsm/mig-state.js";

const { STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P } = MigState;

/** A protected hook of {@link AbstractVendorDriver} that an arc calls. */
export type ArcHook =
  | "_quiesceP2P"
  | "_resumeP2P"
  | "_stopDevice"
  | "_startDevice"
  | "_saveState"
  | "_loadState"
  | "_beginResuming"
  | "_precopyStart"
  | "_precopyEnd";

/** What the base class itself does to the data session at a step. */
export type SessionAction =
  | "open-saving"
  | "open-precopy"
  | "finish-saving"
  | "close-saving"
  | "open-resuming"
  | "close-resuming";

/**
 * One step of an arc: a hook (with the hook that undoes it, if a later step can fail) and
 * what the base class does to the data session with the hook's result.
 */
export interface ArcStep {
  /** Hook called at this step, if any. */
  readonly hook?: ArcHook;
  /** Hook that undoes this step when a later step of the same arc fails. */
  readonly undo?: ArcHook;
  /** Session bookkeeping after the hook returned. */
  readonly session?: SessionAction;
}

/** One direct arc and its ordered steps. */
export interface ArcPlan {
  readonly from: MigState;
  readonly to: MigState;
  /** Flags the arc is direct for: "any", or the one flag set that makes it direct. */
  readonly when: "any" | "no-p2p" | "p2p";
  readonly steps: readonly ArcStep[];
}

const stopDevice: ArcStep = { hook: "_stopDevice", undo: "_startDevice" };
const quiesce: ArcStep = { hook: "_quiesceP2P", undo: "_resumeP2P" };
const finalState: ArcStep = { hook: "_saveState", session: "finish-saving" };

/**
 * Every direct arc of the uAPI and what {@link AbstractVendorDriver} does on it, in order.
 * This table is the implementation: the base class runs it, and the plugin guide shows it
 * (a test checks the two are equal). A failing step undoes the earlier steps that have an
 * undo, in reverse, so a failed arc leaves the device as it was.
 */
export const ARC_STEPS: readonly ArcPlan[] = [
  { from: RUNNING, to: STOP, when: "no-p2p", steps: [quiesce, { hook: "_stopDevice" }] },
  {
    from: STOP,
    to: RUNNING,
    when: "no-p2p",
    steps: [{ hook: "_startDevice", undo: "_stopDevice" }, { hook: "_resumeP2P" }],
  },
  { from: RUNNING, to: RUNNING_P2P, when: "p2p", steps: [{ hook: "_quiesceP2P" }] },
  { from: RUNNING_P2P, to: RUNNING, when: "p2p", steps: [{ hook: "_resumeP2P" }] },
  { from: RUNNING_P2P, to: STOP, when: "p2p", steps: [{ hook: "_stopDevice" }] },
  { from: STOP, to: RUNNING_P2P, when: "p2p", steps: [{ hook: "_startDevice" }] },
  {
    from: STOP,
    to: STOP_COPY,
    when: "any",
    steps: [{ hook: "_saveState", session: "open-saving" }],
  },
  { from: STOP_COPY, to: STOP, when: "any", steps: [{ session: "close-saving" }] },
  {
    from: STOP,
    to: RESUMING,
    when: "any",
    steps: [{ hook: "_beginResuming" }, { session: "open-resuming" }],
  },
  {
    from: RESUMING,
    to: STOP,
    when: "any",
    steps: [{ hook: "_loadState", session: "close-resuming" }],
  },
  {
    from: RUNNING,
    to: PRE_COPY,
    when: "any",
    steps: [{ hook: "_precopyStart", session: "open-precopy" }],
  },
  {
    from: PRE_COPY,
    to: RUNNING,
    when: "any",
    steps: [{ hook: "_precopyEnd" }, { session: "close-saving" }],
  },
  { from: PRE_COPY, to: STOP_COPY, when: "no-p2p", steps: [quiesce, stopDevice, finalState] },
  { from: PRE_COPY, to: PRE_COPY_P2P, when: "p2p", steps: [{ hook: "_quiesceP2P" }] },
  { from: PRE_COPY_P2P, to: PRE_COPY, when: "p2p", steps: [{ hook: "_resumeP2P" }] },
  {
    from: PRE_COPY_P2P,
    to: RUNNING_P2P,
    when: "p2p",
    steps: [{ hook: "_precopyEnd" }, { session: "close-saving" }],
  },
  { from: PRE_COPY_P2P, to: STOP_COPY, when: "p2p", steps: [stopDevice, finalState] },
  {
    from: RUNNING_P2P,
    to: PRE_COPY_P2P,
    when: "p2p",
    steps: [{ hook: "_precopyStart", session: "open-precopy" }],
  },
];

/** The plan of the direct arc `from → to` for a device with `flags`, or undefined. */
export function arcPlan(flags: number, from: MigState, to: MigState): ArcPlan | undefined {
  const p2p = (flags & MigFlags.P2P) !== 0;
  return ARC_STEPS.find(
    (a) => a.from === from && a.to === to && (a.when === "any" || (a.when === "p2p") === p2p),
  );
}

const SESSION_TEXT: Record<SessionAction, string> = {
  "open-saving": "opens the saving stream with those bytes as its whole content",
  "open-precopy": "opens the saving stream with those bytes as the initial precopy data",
  "finish-saving": "appends those bytes to the open stream, whose end becomes permanent",
  "close-saving": "ends the saving session",
  "open-resuming": "opens the resuming stream",
  "close-resuming": "ends the resuming session",
};

const WHEN_TEXT: Record<ArcPlan["when"], string> = {
  any: "any",
  "no-p2p": "without P2P",
  p2p: "with P2P",
};

function describeStep(step: ArcStep): string {
  const parts: string[] = [];
  if (step.hook !== undefined) parts.push(`\`${step.hook}\``);
  if (step.undo !== undefined) parts.push(`(undone by \`${step.undo}\`)`);
  if (step.session !== undefined) {
    const text = SESSION_TEXT[step.session];
    parts.push(step.hook === undefined ? text : `, then ${text}`);
  }
  return parts.join(" ").replace(" , then", ", then");
}

/**
 * The arc table as Markdown, for the plugin guide: one row per arc with the flags it is
 * direct for and its steps in order.
 */
export function renderArcTable(): string {
  const rows = ARC_STEPS.map(
    (a) =>
      `| ${migStateName(a.from)} → ${migStateName(a.to)} | ${WHEN_TEXT[a.when]} | ${a.steps.map(describeStep).join("; ")} |`,
  );
  return ["| arc | flags | steps, in order |", "|---|---|---|", ...rows].join("\n");
}
