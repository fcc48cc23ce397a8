/**
 * What the console needs from the calibration drift watch (src/calibration/drift-watch.ts implements it):
 * the latest check, or null before the first one. Passed in through the app's dependencies; without it the
 * console says "drift watch not configured".
 */
import type { DriftResult } from '../calibration/drift.js';

export interface ConsoleDriftSource {
  status(): { checkedAt: string | null; strata: DriftResult[] } | null;
}
