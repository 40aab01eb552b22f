// Last-resort cleanup when a test process exits or is interrupted: synchronous callbacks only.

const callbacks = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const cb of [...callbacks]) {
    try {
      cb();
    } catch {
      // keep going
    }
  }
  callbacks.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  // An interrupted run must not leave servers or temp dirs behind; then die by the same signal.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      runAll();
      process.kill(process.pid, sig);
    });
  }
}

/** Registers a synchronous callback; returns a function that unregisters it. */
export function onExit(cb: () => void): () => void {
  install();
  callbacks.add(cb);
  return () => {
    callbacks.delete(cb);
  };
}
