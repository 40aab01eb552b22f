/**
 * A manifest route's reference as distribution 2.8 reads it (manifestDispatcher): a digest
 * when go-digest's `Parse` accepts it (a known algorithm and an encoding of its exact
 * length), otherwise a tag. `sha256:abc` or `foo:bar` are routed, read as tags and then
 * fail in the tag store (HTTP 500): such a reference is `invalid` here.
 */
export type ManifestReference = { kind: 'tag'; tag: string } | { kind: 'digest' } | { kind: 'invalid' };

const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
// Tags have no ':' (the route lets digests' shape through, with a ':').
const TAG = /^[\w][\w.-]{0,127}$/;

export function manifestReference(ref: string): ManifestReference {
  if (DIGEST.test(ref)) return { kind: 'digest' };
  if (TAG.test(ref)) return { kind: 'tag', tag: ref };
  return { kind: 'invalid' };
}
