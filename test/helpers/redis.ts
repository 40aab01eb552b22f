// A private redis-server for a test: in-memory only, on 127.0.0.1 and a free port. It can
// be killed (an outage) and started again on the same port (Redis back).
import { getFreePort } from './ports.js';
import { type Proc, startProcess } from './proc.js';

export interface RedisServer {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: an outage, not a shutdown). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function launch(port: number): Promise<Proc> {
  const proc = startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { name: 'redis-server' },
  );
  await proc.waitForLine(/Ready to accept connections/, 10_000);
  return proc;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await getFreePort();
  let proc = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
    async restart() {
      proc = await launch(port);
    },
    async stop() {
      await proc.stop(2_000);
    },
  };
}
