/** The demo SMART authorization server (demo mode): launch contexts, patient-scoped tokens, demo sign-in. */
export {
  createDemoAuthServer,
  requestDemoLaunchUrl,
  DEMO_CARE_TEAM_CLIENT_ID,
  DEMO_CLINICIAN_ID,
  DEMO_SUPPORTED_SCOPES,
} from './server.js';
export type { AccessGrant, DemoAuthServer, DemoAuthServerOptions, LaunchContext } from './server.js';
