/**
 * The pieces of the feedback metrics that a single HTTP test cannot reach cheaply: the shown-card cache stays
 * bounded (least recently shown evicted first) and feedback for a card of another service is not credited
 * to that card's topic.
 */
import { describe, expect, it } from 'vitest';
import { countFeedback, createMetrics, rememberShownCards, ShownCardCache } from '../../src/http/metrics.js';

describe('ShownCardCache', () => {
  it('keeps at most maxEntries cards, evicting the least recently shown', () => {
    const cache = new ShownCardCache(3);
    const card = (topic: string) => ({ service: 's', topic, overrideReasons: new Set<string>() });
    cache.remember('a', card('A'));
    cache.remember('b', card('B'));
    cache.remember('c', card('C'));
    cache.remember('a', card('A')); // shown again: now the youngest
    cache.remember('d', card('D'));
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.topic).toBe('A');
    expect(cache.get('d')?.topic).toBe('D');
  });
});

describe('countFeedback', () => {
  it('credits a topic only for feedback sent to the service that showed the card', async () => {
    const metrics = createMetrics();
    rememberShownCards(metrics, 'svc-a', [
      {
        uuid: 'u1',
        source: { topic: { code: 'low-vbq' } },
        overrideReasons: [{ code: 'already-addressed' }],
      },
    ]);
    countFeedback(metrics, 'svc-b', [
      { card: 'u1', outcome: 'overridden', overrideReason: { reason: { code: 'already-addressed' } } },
    ]);
    countFeedback(metrics, 'svc-a', [
      { card: 'u1', outcome: 'overridden', overrideReason: { reason: { code: 'already-addressed' } } },
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'cds_feedback_total{service="svc-b",topic="unknown",outcome="overridden",reason="other"} 1',
    );
    expect(text).toContain(
      'cds_feedback_total{service="svc-a",topic="low-vbq",outcome="overridden",reason="already-addressed"} 1',
    );
  });
});
