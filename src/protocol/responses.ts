/** Registry-style error bodies (distribution's `errcode` JSON) and challenges. */
import { formatScope, type Scope } from './scope.js';

export interface RegistryError {
  code: string;
  message: string;
  detail?: unknown;
}

export function errorBody(code: string, message: string, detail?: unknown): string {
  const e: RegistryError = detail === undefined ? { code, message } : { code, message, detail };
  return JSON.stringify({ errors: [e] });
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;

export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)}`;
}

/** A Bearer challenge; `scopes` are the access the request needs, space-joined as clients expect. */
export function bearerChallenge(params: {
  realm: string;
  service: string;
  scopes?: readonly Scope[];
  error?: string | undefined;
}): string {
  let h = `Bearer realm=${quote(params.realm)},service=${quote(params.service)}`;
  if (params.scopes?.length) h += `,scope=${quote(params.scopes.map(formatScope).join(' '))}`;
  if (params.error) h += `,error=${quote(params.error)}`;
  return h;
}
