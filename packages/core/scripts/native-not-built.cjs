// Runs when `node-gyp rebuild` failed at install (no C compiler, Python or Node headers).
// mdevkit still works without the addon, on its JavaScript page routines, only more slowly;
// core's own tests report the missing build.
console.warn(
  "@mdevkit/core: the C addon of its page routines did not build (see node-gyp's output above); mdevkit falls back to its JavaScript page routines, which move guest RAM more slowly. Install python3, make and a C compiler, then run `npm rebuild @mdevkit/core`.",
);
