/**
 * Reads CHANGELOG.md (Keep a Changelog) into releases, so that the .deb's Debian changelog and
 * the man page's date come from the same file as the users' changelog.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export interface Release {
  version: string;
  /** YYYY-MM-DD */
  date: string;
  /** The release's list items, headed by their section ("Added: ..."). */
  changes: string[];
}

const RELEASE_HEADING = /^## \[(\d+\.\d+\.\d+[^\]]*)\] - (\d{4}-\d{2}-\d{2})\s*$/;

export function readReleases(path = join(ROOT, 'CHANGELOG.md')): Release[] {
  const releases: Release[] = [];
  let section = '';
  let current: Release | undefined;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const heading = RELEASE_HEADING.exec(line);
    if (heading) {
      current = { version: heading[1]!, date: heading[2]!, changes: [] };
      releases.push(current);
    } else if (line.startsWith('## ')) {
      current = undefined; // Unreleased: not in any package
    } else if (line.startsWith('### ')) {
      section = line.slice(4).trim();
    } else if (current && line.startsWith('- ')) {
      current.changes.push(`${section}: ${line.slice(2).trim()}`);
    } else if (current && /^\s+\S/.test(line) && current.changes.length > 0) {
      current.changes[current.changes.length - 1] += ` ${line.trim()}`;
    }
  }
  return releases;
}

/** The release of `version`; a version without a CHANGELOG entry is not ready to ship. */
export function releaseOf(version: string, releases = readReleases()): Release {
  const release = releases.find((each) => each.version === version);
  if (!release) throw new Error(`CHANGELOG.md has no "## [${version}] - YYYY-MM-DD" section`);
  return release;
}
