/** fast-check run count: ~200 by default, more with `MDEVKIT_FC_RUNS=n`. */
export const FC_RUNS = Number.parseInt(process.env["MDEVKIT_FC_RUNS"] ?? "", 10) || 200;
