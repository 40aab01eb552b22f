// Kubernetes Events on a ServiceAccount (core/v1, what `kubectl describe sa` shows). Best
// effort: a failure to record one is logged, never fails the work it reports on. Messages
// never carry a token.
import type { CoreV1Api, V1ServiceAccount } from '@kubernetes/client-node';
import { describeApiError } from './errors.js';
import type { Logger } from './log.js';
import { MANAGED_BY } from './pull-secret.js';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  constructor(
    private readonly core: CoreV1Api,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  async record(sa: V1ServiceAccount, type: EventType, reason: string, message: string): Promise<void> {
    const ns = sa.metadata?.namespace ?? 'default';
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: ns,
        body: {
          metadata: { generateName: `${sa.metadata?.name}.`, namespace: ns },
          involvedObject: {
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            namespace: ns,
            name: sa.metadata?.name,
            uid: sa.metadata?.uid,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: MANAGED_BY },
          reportingComponent: MANAGED_BY,
          reportingInstance: this.instance.slice(0, 128),
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.log('warn', 'recording an event failed', { reason, error: describeApiError('create event', err) });
    }
  }
}
