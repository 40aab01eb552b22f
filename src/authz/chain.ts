import { andThen } from '../util/maybe-promise.js';
import type {
  AccessRequest,
  Authorizer,
  DecidingAuthorizer,
  ScopeAnswer,
  ScopeDecision,
} from './authorizer.js';
import { askClamped, finalDecision, markDeciding } from './clamp.js';

/**
 * Authorizers asked in order: for each scope, the first that decides (answers a `granted`
 * list, empty included) wins; a later one is asked only about the scopes still undecided.
 * A scope nobody decides gets nothing. Every member's answer is clamped on its own, so no
 * member can grant more than was requested, whatever the others said.
 */
export function chainAuthorizers(authorizers: readonly Authorizer[]): DecidingAuthorizer {
  const members = [...authorizers];
  const [only] = members;
  // One member (the ACL of most configs): its clamped answer, with undecided scopes closed.
  if (members.length === 1 && only)
    return markDeciding({
      authorize: (req: AccessRequest) => andThen(askClamped(only, req), (a) => a.map(finalDecision)),
    });
  return markDeciding({
    async authorize(req: AccessRequest): Promise<ScopeDecision[]> {
      const answers: ScopeAnswer[] = req.scopes.map((s) => ({
        requested: { ...s, actions: [...s.actions] },
        granted: undefined,
      }));
      for (const member of members) {
        const open = answers.flatMap((a, i) => (a.granted === undefined ? [i] : []));
        // With no scope at all, every member is still asked: each may refuse the caller (Denied).
        if (open.length === 0 && req.scopes.length > 0) break;
        const got = await askClamped(member, { ...req, scopes: open.map((i) => req.scopes[i]!) });
        open.forEach((i, j) => {
          const a = got[j]!;
          // An undecided scope keeps the latest reason, for the log of a scope nobody decides.
          if (a.granted !== undefined || a.explanation) answers[i] = a;
        });
      }
      return answers.map(finalDecision);
    },
  });
}
