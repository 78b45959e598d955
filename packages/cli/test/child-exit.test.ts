import { afterEach, expect, test } from "vitest";
import { MdevkitChild } from "../src/child.js";

// A child whose last line reaches the pipe after the process itself is gone: what a loaded
// machine can do to any child (Node may emit "exit" before it read the child's last
// output). Here the line comes from a background shell that outlives the wrapper, so the
// order is certain rather than a matter of luck.
const LATE_LINE = '{"event":"listening","url":"tcp://127.0.0.1:1"}';
const EXITS_BEFORE_ITS_LAST_LINE = [
  "sh",
  "-c",
  `(sleep 0.3; printf '%s\\n' '${LATE_LINE}') & exit 0`,
  "sh",
];

const children: MdevkitChild[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill();
    await child.exited;
  }
});

function lateChild(): MdevkitChild {
  const child = new MdevkitChild([], EXITS_BEFORE_ITS_LAST_LINE);
  children.push(child);
  return child;
}

test("exited settles only after every line the child printed was read", async () => {
  const child = lateChild();
  expect(await child.exited).toBe(0);
  expect(child.events).toEqual([{ event: "listening", url: "tcp://127.0.0.1:1" }]);
});

test("waitFor finds an event printed just before the child exited", async () => {
  const child = lateChild();
  await expect(child.waitFor("listening", 5000)).resolves.toMatchObject({
    url: "tcp://127.0.0.1:1",
  });
});
