/**
 * The Kubernetes Events a NAD status change deserves: one per condition transition, so that
 * `kubectl describe net-attach-def` tells the story (config rejected, accepted again, ready, unusable
 * on some nodes, recovered). A NAD's first status produces Events only for bad news (an invalid config,
 * a degraded network): a controller starting on a healthy cluster does not write one Event per NAD.
 */
import type { EventType } from '../platform/kube/events.ts';
import { findCondition, type Condition, type NadStatus } from './nad-status.ts';

export interface StatusEvent {
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
}

export function statusEvents(previous: unknown, next: NadStatus): StatusEvent[] {
  const events: StatusEvent[] = [];
  const cond = (type: string): { before: Condition | undefined; after: Condition | undefined } => ({
    before: findCondition(previous, type),
    after: findCondition(next, type),
  });

  const accepted = cond('Accepted');
  if (accepted.after?.status === 'False') {
    if (accepted.before?.status !== 'False' || accepted.before.message !== accepted.after.message)
      events.push({ type: 'Warning', reason: 'InvalidConfig', message: accepted.after.message });
  } else if (accepted.after?.status === 'True' && accepted.before?.status === 'False') {
    events.push({ type: 'Normal', reason: 'ConfigAccepted', message: accepted.after.message });
  }

  const ready = cond('Ready');
  if (ready.after && ready.before && ready.before.status !== ready.after.status) {
    if (ready.after.status === 'True') {
      events.push({ type: 'Normal', reason: 'Ready', message: ready.after.message });
    } else if (ready.after.reason !== 'InvalidConfig') {
      // An invalid config already has its InvalidConfig Event; a spec change propagating is routine.
      events.push({
        type: ready.after.reason === 'Propagating' ? 'Normal' : 'Warning',
        reason: ready.after.reason === 'Propagating' ? 'Propagating' : 'NotReady',
        message: ready.after.message,
      });
    }
  }

  const degraded = cond('Degraded');
  if (degraded.after?.status === 'True') {
    if (degraded.before?.status !== 'True' || degraded.before.message !== degraded.after.message)
      events.push({ type: 'Warning', reason: degraded.after.reason, message: degraded.after.message });
  } else if (degraded.after?.reason === 'AsExpected' && degraded.before?.status === 'True') {
    events.push({ type: 'Normal', reason: 'Recovered', message: 'no node reports a problem any more' });
  }
  return events;
}
