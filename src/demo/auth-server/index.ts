/** The demo SMART authorization server (demo mode): launch contexts, patient-scoped tokens, demo sign-in. */
export { createDemoAuthServer, requestDemoLaunchUrl, DEMO_SUPPORTED_SCOPES } from './server.js';
export {
  DEMO_CARE_TEAM_CLIENT_ID,
  DEMO_CLINICIAN_ID,
  DEMO_CONSOLE_CLIENT_ID,
  DEMO_CONSOLE_USERS,
} from './constants.js';
export type { AccessGrant, DemoAuthServer, DemoAuthServerOptions, LaunchContext } from './server.js';
