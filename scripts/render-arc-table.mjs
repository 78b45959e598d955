#!/usr/bin/env node
// Rewrites the arc → hooks table in docs/writing-a-plugin.md from the table the base class
// runs (@mdevkit/core's ARC_STEPS), so the guide cannot drift. Build core first.
import { readFileSync, writeFileSync } from "node:fs";
import { renderArcTable } from "@mdevkit/core";

const START = "<!-- arc-table:start -->";
const END = "<!-- arc-table:end -->";
const path = new URL("../docs/writing-a-plugin.md", import.meta.url);
const text = readFileSync(path, "utf8");
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a < 0 || b < a) throw new Error(`docs/writing-a-plugin.md has no ${START} … ${END} block`);
const next = `${text.slice(0, a + START.length)}\n${renderArcTable()}\n${text.slice(b)}`;
if (next !== text) writeFileSync(path, next);
console.log(next === text ? "arc table up to date" : "arc table rewritten");
