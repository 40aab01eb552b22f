/** Registry-style error bodies (distribution's `errcode` JSON) and challenges. */
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

export function bearerChallenge(params: {
  realm: string;
  service: string;
  scope?: string;
  error?: string;
}): string {
  let h = `Bearer realm=${quote(params.realm)},service=${quote(params.service)}`;
  if (params.scope) h += `,scope=${quote(params.scope)}`;
  if (params.error) h += `,error=${quote(params.error)}`;
  return h;
}
