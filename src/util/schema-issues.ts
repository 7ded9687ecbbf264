/**
 * What a failed validation (valibot's issues) says, in ddm's words: the dotted path of the value
 * ("headers.Range") and a short text ("Too big: expected <=8192"). Wire errors, control-file
 * and session-file complaints all speak this way.
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
