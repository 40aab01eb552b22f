// The action's post step (always run, at the end of the job): undoes the main step's login.
import { type LoginState, uninstall } from './install.js';
import { STATE_NAME } from './main.js';
import { type ActionIo, escapeData } from './runner.js';

export function runPost(io: ActionIo): number {
  const raw = io.env[`STATE_${STATE_NAME}`];
  if (!raw) {
    io.stdout('purser login: nothing to clean up\n');
    return 0;
  }
  try {
    const notes = uninstall(JSON.parse(raw) as LoginState);
    for (const n of notes) io.stdout(`::warning::${escapeData(n)}\n`);
    io.stdout('purser login: removed the login\n');
  } catch (e) {
    io.stdout(`::warning::purser login cleanup: ${escapeData(e instanceof Error ? e.message : String(e))}\n`);
  }
  return 0;
}
