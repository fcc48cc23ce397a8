/**
 * The catalogue of shown cards (card uuid -> service, topic, indicator, suggestions) that the feedback
 * analytics join on: audit rows and feedback carry only the uuid. Filled from the hook responses through
 * an in-memory queue flushed in one INSERT every `flushMs`, like the audit queue: the hook path pays a
 * Set lookup and an array push. Card uuids are deterministic per patient and finding, so a uuid already
 * recorded by this process is skipped (bounded memory of recent uuids).
 */
import type { ConsoleQueries, ShownCardRecord } from '../store/console-queries.js';

/** The parts of a CDS card the catalogue keeps (no patient data: summary and labels are our wording). */
export interface CatalogueCard {
  uuid?: string;
  summary: string;
  indicator: string;
  source: { topic?: { code?: string } };
  suggestions?: { uuid?: string; label: string }[];
}

export interface CardLog {
  shown(service: string, cards: readonly CatalogueCard[], at: Date): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

const RECENT_MAX = 50_000;

export function createCardLog(
  queries: Pick<ConsoleQueries, 'recordShownCards'>,
  options: { flushMs?: number; onError?: (err: Error) => void } = {},
): CardLog {
  let queue: ShownCardRecord[] = [];
  const recent = new Set<string>();
  let inFlight: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    inFlight = inFlight.then(async () => {
      while (queue.length > 0) {
        const batch = queue.slice(0, 200);
        try {
          await queries.recordShownCards(batch);
          queue = queue.slice(batch.length);
        } catch (err) {
          // Kept for the next flush; uuids may be recorded later, never lost while the process lives.
          options.onError?.(err as Error);
          return;
        }
      }
    });
    return inFlight;
  };
  const timer = setInterval(() => void flush(), options.flushMs ?? 2000);
  timer.unref();
  return {
    shown(service, cards, at) {
      for (const card of cards) {
        if (!card.uuid || recent.has(card.uuid)) continue;
        if (recent.size >= RECENT_MAX) recent.clear();
        recent.add(card.uuid);
        queue.push({
          cardUuid: card.uuid,
          serviceId: service,
          topic: card.source.topic?.code ?? 'unknown',
          indicator: card.indicator,
          summary: card.summary,
          suggestions: (card.suggestions ?? []).flatMap((s) =>
            s.uuid ? [{ uuid: s.uuid, label: s.label }] : [],
          ),
          firstShownAt: at,
        });
      }
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
