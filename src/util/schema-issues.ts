/**
 * What a failed validation (valibot's issues) says, in ddm's words: the dotted path of the value
 * ("headers.Range") and a short text ("Too big: expected <=8192"), as wire errors, control-file
 * and session-file complaints say it; or what an option must be ("must be at most 64"), as
 * download requests and daemon settings say it after the key's name.
 */
import type { BaseIssue } from 'valibot';

export type SchemaIssue = BaseIssue<unknown>;

/** The keys from the message's top to the value, dotted; '' for the message itself. */
export function issuePath(issue: SchemaIssue): string {
  return (issue.path ?? []).map((item) => String(item.key)).join('.');
}

/** The first key of the path: the option or setting a flat object's issue is about. */
export function issueKey(issue: SchemaIssue): string | undefined {
  const first = issue.path?.[0]?.key;
  return first === undefined ? undefined : String(first);
}

/** Whether the issue is a key the object does not have (a strict object's). */
export function isUnknownKey(issue: SchemaIssue): boolean {
  return issue.kind === 'schema' && issue.type.startsWith('strict_') && issue.expected === 'never';
}

/** A short text for the issue, without its path. */
export function issueText(issue: SchemaIssue): string {
  if (isUnknownKey(issue)) return `Unrecognized key: ${String(issue.input)}`;
  switch (issue.type) {
    case 'max_length':
    case 'max_value':
    case 'max_size':
      return `Too big: expected ${issue.expected ?? ''}`;
    case 'min_length':
    case 'min_value':
    case 'gt_value':
    case 'non_empty':
      return `Too small: expected ${issue.expected ?? ''}`;
    case 'integer':
    case 'safe_integer':
      return `Invalid input: expected an integer, received ${issue.received}`;
    default:
      if (issue.kind === 'schema' && issue.input === undefined && issue.path !== undefined) return 'Required';
      if (issue.kind === 'schema')
        return `Invalid input: expected ${issue.expected ?? issue.type}, received ${issue.received}`;
      return issue.message;
  }
}

/** Each issue as "path: text", the first `max` of them, joined with "; ". */
export function describeIssues(issues: readonly SchemaIssue[], max = issues.length, top = 'body'): string {
  return issues
    .slice(0, max)
    .map((issue) => `${issuePath(issue) || top}: ${issueText(issue)}`)
    .join('; ');
}

/** What the value must be, in words that follow its key's name: "must be at most 64". */
export function requirementText(issue: SchemaIssue): string {
  switch (issue.type) {
    case 'max_value':
    case 'max_length':
      return `must be at most ${String(issue.requirement)}`;
    case 'min_length':
      return 'must not be empty';
    case 'min_value':
      return `must be at least ${String(issue.requirement)}`;
    case 'gt_value':
      return `must be more than ${String(issue.requirement)}`;
    case 'integer':
    case 'safe_integer':
      return 'must be a whole number';
    case 'picklist':
      // valibot's expects for a picklist: ("auto" | "ask" | "never").
      return `must be one of ${(issue.expected ?? '').replace(/[()"]/g, '').split(' | ').join(', ')}`;
    default:
      // A strict object's issue at a key with no value: the key is missing.
      if (issue.type.startsWith('strict_') && issue.input === undefined && issue.path !== undefined)
        return 'is missing';
      return issue.kind === 'schema' ? `must be ${article(issue.expected)}` : issue.message;
  }
}

/** "a string", "an array", "a number or a string": valibot's expects (`string`, `Array`, `(number | string)`) in words. */
function article(expected: string | null): string {
  const words = (expected ?? 'value').replace(/[()]/g, '').toLowerCase().split(' | ');
  return words.map((word) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`)).join(' or ');
}
