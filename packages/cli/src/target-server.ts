import {
  type ChannelListener,
  MdevError,
  type MigrationTarget,
  type TargetChannel,
  type TargetResult,
} from "@mdevkit/core";

/** What {@link serveTargets} does with each connection and its outcome. */
export interface TargetServerHooks {
  /** Serve exactly one migration (the first this target accepts), then return. */
  readonly once: boolean;
  /** The target for one accepted connection. */
  target(channel: TargetChannel): MigrationTarget;
  /** A VM arrived and runs here. */
  received(result: TargetResult): Promise<void>;
  /** A migration this target had accepted failed (its VM was discarded, never ran). */
  failed(err: unknown): void;
  /**
   * A connection never became a migration here: no HANDSHAKE in time, not a stream, the
   * peer left before its VM was accepted, or the VM was refused (REJECT sent).
   */
  dropped(peer: string, err: unknown): void;
}

/**
 * Serves every connection of `listener` at once, each its own {@link MigrationTarget}: a
 * connection that sends nothing (dropped at its handshake deadline), garbage or an HTTP
 * request never delays another. Which VM loads is the targets' shared capacity's call
 * (one at a time; the next is refused EBUSY, not queued).
 *
 * With `once`, the first connection whose HANDSHAKE this target accepted (its VM built,
 * ACCEPT on its way) is the one migration served: connections after it are closed, and
 * the call returns when that migration ran — or rejects with its failure. Connections
 * dropped before that point do not count.
 */
export async function serveTargets(
  listener: ChannelListener,
  hooks: TargetServerHooks,
): Promise<void> {
  const open = new Set<TargetChannel>();
  let taken = false;
  let done = false;
  let settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const end = (err?: unknown): void => {
    if (done) return;
    done = true;
    if (err === undefined) settle?.resolve();
    else settle?.reject(err);
  };

  const serve = async (channel: TargetChannel): Promise<void> => {
    const target = hooks.target(channel);
    let accepted = false;
    target.once("accepted", () => {
      accepted = true;
      if (hooks.once) taken = true;
    });
    try {
      const result = await target.receive();
      await hooks.received(result);
      if (hooks.once) end();
    } catch (err) {
      if (done) return;
      if (!accepted) {
        hooks.dropped(channel.peer, err);
        return;
      }
      hooks.failed(err);
      if (hooks.once) end(err);
    }
  };

  void (async () => {
    for (;;) {
      let channel: TargetChannel;
      try {
        channel = await listener.accept();
      } catch (err) {
        end(err);
        return;
      }
      if (done) {
        channel.destroy();
        return;
      }
      if (taken) {
        // --once: the one migration is under way; nothing else is received here.
        channel.destroy();
        hooks.dropped(
          channel.peer,
          new MdevError("EBUSY", "this listener (--once) is receiving its one migration"),
        );
        continue;
      }
      open.add(channel);
      void serve(channel).finally(() => open.delete(channel));
    }
  })();

  try {
    await finished;
  } finally {
    for (const channel of open) channel.destroy();
  }
}
