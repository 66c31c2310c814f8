// The handlers of the commands that talk to netloomd's API, as one lazily imported module: a
// command loads this one chunk (bench/cli-startup.sh counts every module a start loads).
export * as network from './network.js';
export * as sandbox from './sandbox.js';
export * as diagnose from './diagnose.js';
