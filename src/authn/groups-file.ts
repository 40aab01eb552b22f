import { ConfigError } from '../core/errors.js';
import { colonLines, readListFile } from './colon-file.js';

/** Bounds on a groups file, so a wrong path (a log, say) is refused rather than loaded. */
const MAX_BYTES = 4 * 1024 * 1024;
const MAX_GROUP_NAME = 256;

/** Reads a groups file (`groupsFile`): user name → its groups, in file order. */
export function readGroupsFile(file: string): Map<string, string[]> {
  const text = readListFile(file, 'groups file');
  if (text.length > MAX_BYTES) throw new ConfigError(file, '', 'groups file over 4 MiB');
  return parseGroupsFile(text, file);
}

/**
 * Apache's AuthGroupFile format: one `group: user1 user2 …` per line (spaces or tabs
 * between users), `#` comments and blank lines ignored. A group may span several lines
 * (Apache's own files split long groups so); its members add up.
 */
export function parseGroupsFile(text: string, file: string): Map<string, string[]> {
  const byUser = new Map<string, string[]>();
  for (const { name, rest, where } of colonLines(text, file, 'expected group: user1 user2 …')) {
    const group = name.trim();
    if (/\s/.test(group) || group.length > MAX_GROUP_NAME)
      throw new ConfigError(file, where, 'a group name is one word of at most 256 characters');
    for (const user of rest.trim().split(/\s+/)) {
      if (user === '') continue;
      const groups = byUser.get(user) ?? [];
      if (!groups.includes(group)) groups.push(group);
      byUser.set(user, groups);
    }
  }
  return byUser;
}
