export { buildCards, cardUuid, citation, fitSummary, SUMMARY_MAX } from './build.js';
export { suggestedOrder, SERVICE_REQUEST_PROFILE } from './service-requests.js';
export type { OrderContext, SuggestedOrderKind } from './service-requests.js';
export { uuidV5, CARD_UUID_NAMESPACE } from './uuid.js';
