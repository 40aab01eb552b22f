// Prometheus metrics (prom-client, this package's own registry) and the /metrics + /healthz
// listener. Label values are bounded sets (results, reasons, resources), never names.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly refreshes = new Counter({
    name: 'purser_kube_refreshes_total',
    help: 'Pull secrets written with a new token.',
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'purser_kube_failures_total',
    help: 'Reconciles of a ServiceAccount that failed, by step.',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });
  readonly cleanups = new Counter({
    name: 'purser_kube_cleanups_total',
    help: 'Pull secrets removed after an opt-out.',
    registers: [this.registry],
  });
  readonly managed = new Gauge({
    name: 'purser_kube_managed_service_accounts',
    help: 'ServiceAccounts with a scheduled refresh.',
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'purser_kube_leader',
    help: '1 while this replica holds the Lease.',
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'purser_kube_watch_restarts_total',
    help: 'Watches restarted, after an error or for the periodic relist.',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });
  readonly queueDropped = new Gauge({
    name: 'purser_kube_queue_dropped',
    help: 'Work refused because the queue was full.',
    registers: [this.registry],
  });
  readonly tokenLifetime = new Gauge({
    name: 'purser_kube_last_token_lifetime_seconds',
    help: 'Lifetime the API server granted the last token.',
    registers: [this.registry],
  });
}

export async function serveMetrics(
  m: ControllerMetrics,
  port: number,
  address: string,
  healthy: () => boolean,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      m.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': m.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (path === '/healthz' || path === '/readyz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unhealthy\n');
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return server;
}
