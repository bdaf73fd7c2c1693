import { Injectable } from '@nestjs/common';
import type { Principal, TokenVerifier } from 'nest-ws-gateway';

/** Where API keys live; a real app would ask its database. */
@Injectable()
export class ApiKeyStore {
  private readonly keys = new Map<string, Principal>([
    ['demo-key-alice', { subject: 'alice', scopes: ['chat'] }],
    ['demo-key-bob', { subject: 'bob', scopes: ['chat', 'moderate'] }],
  ]);

  /** The key's principal, or null for a key it does not know. */
  async find(key: string) {
    return this.keys.get(key) ?? null;
  }
}

/** Accepts the API keys of the store: the gateway calls it at every handshake. */
export class ApiKeyVerifier implements TokenVerifier {
  constructor(private readonly store: ApiKeyStore) {}

  verify(token: string) {
    return this.store.find(token);
  }
}
