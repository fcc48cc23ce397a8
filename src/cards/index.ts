export {
  buildCards,
  cardUuid,
  DETAIL_MAX_CHARS,
  DETAIL_MAX_LINES,
  fitDetail,
  fitSummary,
  SUMMARY_MAX,
} from './build.js';
export { citationLinks, referenceUrl } from './citations.js';
export { humanDate } from './format.js';
export { suggestedOrder, SERVICE_REQUEST_PROFILE } from './service-requests.js';
export type { OrderContext, SuggestedOrderKind } from './service-requests.js';
export { uuidV5, CARD_UUID_NAMESPACE } from './uuid.js';
