/**
 * Console roles and what each may do. Roles come from a claim of the identity provider's ID token
 * (CONSOLE_ROLE_CLAIM); a user holding several gets the highest.
 *
 * - viewer: every page's aggregates (knowledge, feedback analytics and CSV, audit without patient ids,
 *   the write-back queue without item keys, clients, drift). Enough to watch alert fatigue and health.
 * - analyst: also patient ids in the audit trail and outbox item keys (which may name a patient), and
 *   "Try a patient" (it shows a test patient's cards). Needed to follow a case up.
 * - admin: also the retry of dead write-back items, the only action that changes what the service does.
 */
export const CONSOLE_ROLES = ['viewer', 'analyst', 'admin'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

const RANK: Record<ConsoleRole, number> = { viewer: 1, analyst: 2, admin: 3 };

/** Spellings identity providers use for the same roles (group names are configured per IdP). */
const ALIASES: Record<string, ConsoleRole> = {
  viewer: 'viewer',
  analyst: 'analyst',
  admin: 'admin',
  administrator: 'admin',
};

export type Permission = 'see-patient-ids' | 'try-patient' | 'retry-outbox';

const NEEDS: Record<Permission, ConsoleRole> = {
  'see-patient-ids': 'analyst',
  'try-patient': 'analyst',
  'retry-outbox': 'admin',
};

export function can(role: ConsoleRole, permission: Permission): boolean {
  return RANK[role] >= RANK[NEEDS[permission]];
}

/** Reads `claim` (dots reach nested objects, e.g. `realm_access.roles`) and returns the highest role. */
export function roleFromClaims(claims: Record<string, unknown>, claim: string): ConsoleRole | undefined {
  let value: unknown = claims[claim];
  if (value === undefined && claim.includes('.')) {
    value = claim.split('.').reduce<unknown>((v, key) => {
      return v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
    }, claims);
  }
  const values = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  let best: ConsoleRole | undefined;
  for (const v of values) {
    if (typeof v !== 'string') continue;
    const role = ALIASES[v.toLowerCase()];
    if (role && (best === undefined || RANK[role] > RANK[best])) best = role;
  }
  return best;
}
