/**
 * oidc-provider storage for the demo: one bounded in-memory store per authorization server (the library's
 * own memory adapter is one store shared by the whole process and warns on every start). Demo tokens are
 * meant to die with the process.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

const MAX_ENTRIES = 20_000;

export function memoryAdapterFactory(now: () => number = Date.now): (name: string) => Adapter {
  const store = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();

  const live = (key: string): Entry | undefined => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  };

  return (name: string): Adapter => {
    const key = (id: string) => `${name}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        if (store.size >= MAX_ENTRIES) {
          const oldest = store.keys().next().value;
          if (oldest !== undefined) store.delete(oldest);
        }
        store.set(key(id), {
          payload,
          expiresAt: expiresIn === undefined ? Infinity : now() + expiresIn * 1000,
        });
        if (payload.grantId) {
          const members = byGrant.get(payload.grantId) ?? new Set<string>();
          members.add(key(id));
          byGrant.set(payload.grantId, members);
        }
      },
      async find(id) {
        return live(key(id))?.payload;
      },
      async findByUserCode(userCode) {
        for (const [k, e] of store) {
          if (k.startsWith(`${name}:`) && e.payload.userCode === userCode) return live(k)?.payload;
        }
        return undefined;
      },
      async findByUid(uid) {
        for (const [k, e] of store) {
          if (k.startsWith(`${name}:`) && e.payload.uid === uid) return live(k)?.payload;
        }
        return undefined;
      },
      async consume(id) {
        const entry = live(key(id));
        if (entry) entry.payload.consumed = Math.floor(now() / 1000);
      },
      async destroy(id) {
        store.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const k of byGrant.get(grantId) ?? []) store.delete(k);
        byGrant.delete(grantId);
      },
    };
  };
}
