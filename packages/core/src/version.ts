/** Version of this mdevkit engine; plugins declare a semver range of engines they support. */
export const ENGINE_VERSION = "0.1.0";
