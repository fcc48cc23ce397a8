import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryState, type MemoryState } from '../../src/store/memory-state.js';

describe('in-memory replay cache and card claims (single instance)', () => {
  let clock = new Date('2026-12-01T10:00:00.000Z');
  let state: MemoryState;
  const at = (ms: number) => new Date(clock.getTime() + ms);
  afterEach(() => state.close());

  it('refuses a jti seen before until it expires, per issuer, and sweeps it after', async () => {
    clock = new Date('2026-12-01T10:00:00.000Z');
    state = createMemoryState({ now: () => clock });
    expect(await state.claimJti('https://ehr-a', 'jti-1', at(60_500))).toBe(true);
    expect(await state.claimJti('https://ehr-a', 'jti-1', at(60_500))).toBe(false);
    // The same jti from another issuer is another token.
    expect(await state.claimJti('https://ehr-b', 'jti-1', at(600_000))).toBe(true);
    expect(state.size().jti).toBe(2);
    // Expiry is kept in whole seconds, rounded up: still refused half a second after the exact time.
    clock = at(60_900);
    expect(await state.claimJti('https://ehr-a', 'jti-1', at(60_000))).toBe(false);
    clock = at(200);
    state.sweep();
    expect(state.size().jti).toBe(1);
    expect(await state.claimJti('https://ehr-a', 'jti-1', at(60_000))).toBe(true);
  });

  it('suppresses a card another hook of the same instance showed, not the same hook again', async () => {
    clock = new Date('2026-12-01T10:00:00.000Z');
    state = createMemoryState({ now: () => clock });
    const day = at(24 * 3600_000);
    expect(await state.claimCards('hi-1', 'order-select', ['c-1', 'c-2'], day)).toEqual(new Set());
    expect(await state.claimCards('hi-1', 'order-select', ['c-1'], day)).toEqual(new Set());
    expect(await state.claimCards('hi-1', 'order-sign', ['c-1', 'c-3'], day)).toEqual(new Set(['c-1']));
    // Another hook instance is another ordering session.
    expect(await state.claimCards('hi-2', 'order-sign', ['c-1'], day)).toEqual(new Set());
    expect(state.size().cards).toBe(4);
    clock = at(24 * 3600_000 + 1000);
    state.sweep();
    expect(state.size().cards).toBe(0);
    expect(await state.claimCards('hi-1', 'order-sign', ['c-1'], at(1000))).toEqual(new Set());
  });
});
