/** The one demo user, signed in without a form. */
export const DEMO_CLINICIAN_ID = 'demo-clinician';
/** Client id of the care-team view registered with the demo authorization server. */
export const DEMO_CARE_TEAM_CLIENT_ID = 'care-team-demo';
