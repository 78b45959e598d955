import { MdevError } from "./mdev-error.js";

/** A plugin manifest was refused by the registry; `problems` lists every reason. */
export class PluginRegistrationError extends MdevError {
  /** Name the plugin declared, or `"<unnamed>"` when even that was invalid. */
  readonly pluginName: string;
  /** One human-readable line per problem, e.g. `migrationFlags: 2 is not a legal flag set`. */
  readonly problems: readonly string[];

  constructor(
    pluginName: string,
    problems: readonly string[],
    code: "EINVAL" | "EEXIST" = "EINVAL",
  ) {
    super(code, `plugin "${pluginName}" refused: ${problems.join("; ")}`);
    this.pluginName = pluginName;
    this.problems = problems;
  }
}
