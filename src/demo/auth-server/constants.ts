/** The one demo user, signed in without a form. */
export const DEMO_CLINICIAN_ID = 'demo-clinician';
/** Client id of the care-team view registered with the demo authorization server. */
export const DEMO_CARE_TEAM_CLIENT_ID = 'care-team-demo';
/** Client id of the informaticist's console registered with the demo authorization server. */
export const DEMO_CONSOLE_CLIENT_ID = 'console-demo';
/**
 * The demo console users, one per role, with their (documented, demo-only) passwords. They exist only in
 * the demo authorization server, which runs only in demo mode.
 */
export const DEMO_CONSOLE_USERS = [
  { username: 'demo-viewer', password: 'viewer-demo-password', role: 'viewer', name: 'Demo Viewer' },
  { username: 'demo-analyst', password: 'analyst-demo-password', role: 'analyst', name: 'Demo Analyst' },
  { username: 'demo-admin', password: 'admin-demo-password', role: 'admin', name: 'Demo Administrator' },
] as const;
