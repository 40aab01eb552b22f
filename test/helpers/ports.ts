// A free TCP port on 127.0.0.1 (the kernel picks it; we close and hand it out).
import { createServer } from 'node:net';

export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not get a port'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}
