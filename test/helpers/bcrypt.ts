// bcrypt hashes for test users, made independently of Purser's own `hash` command.
import { bcryptHash as hashWith } from '../../src/authn/bcrypt.js';

/** A cheap (cost 4) bcrypt hash; version 2y by default, as htpasswd -B writes. */
export function bcryptHash(password: string, version: '2a' | '2b' | '2y' = '2y'): Promise<string> {
  return hashWith(password, 4, version);
}
