/** The informaticist's console (/console): login, pages, analytics, CSRF, last client authentication. */
export { createConsole, CONSOLE_TRY_ISS, tryRequest } from './router.js';
export type { ConsoleHookEndpoint, ConsoleMount, ConsoleOptions } from './router.js';
export type { ConsoleDriftSource } from './drift.js';
export { CONSOLE_ROLES, can, roleFromClaims, type ConsoleRole } from './roles.js';
export { analyticsCsv, computeFeedbackAnalytics, type FeedbackAnalytics } from './analytics.js';
export type { ConsoleRadiologySource } from './radiology.js';
