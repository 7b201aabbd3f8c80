import { defaultStaleAfterSeconds, heartbeatOf, isEligible } from './node-state.ts';

describe('node eligibility (one rule for the controller and the webhook)', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const at = (time: string | undefined): number =>
    heartbeatOf({ status: time === undefined ? undefined : ({ heartbeatTime: time } as never) });
  const staleAfterMs = defaultStaleAfterSeconds * 1000;

  it('counts a node whose agent reported within --stale-after', () => {
    expect(isEligible(at('2026-01-01T00:07:00Z'), now, staleAfterMs)).toBe(true);
    expect(isEligible(at('2026-01-01T00:06:59Z'), now, staleAfterMs)).toBe(false);
  });

  it('never counts a report without a usable heartbeat', () => {
    expect(isEligible(at('yesterday'), now, staleAfterMs)).toBe(false);
    expect(isEligible(at(undefined), now, staleAfterMs)).toBe(false);
  });
});
