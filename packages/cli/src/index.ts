export { MDEVKIT_BIN, MdevkitChild } from "./child.js";
export { defaultVmConfig, seedVmConfig } from "./default-vm.js";
export { type ChildEvent, childEventSchema } from "./events.js";
export { type LoadPluginsOptions, loadPlugins } from "./load-plugins.js";
export { BUILTIN_PLUGINS } from "./plugins.js";
export { buildProgram } from "./program.js";
export { type ReportContext, renderHtmlReport } from "./report/html-report.js";
export {
  type BarSeries,
  barChart,
  type LineSeries,
  lineChart,
  multiLineChart,
  stackedBar,
} from "./report/svg-chart.js";
export { parseBandwidth, parseDuration } from "./units.js";
