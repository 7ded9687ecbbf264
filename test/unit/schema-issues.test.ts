/** schema-issues.ts: what a failed validation says, on the wire and in complaints about files. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { describeIssues, issueKey, issuePath, isUnknownKey } from '../../src/util/schema-issues.js';

const schema = v.strictObject({
  id: v.pipe(v.string(), v.minLength(8)),
  slots: v.pipe(v.number(), v.integer(), v.maxValue(64)),
  headers: v.optional(v.record(v.string(), v.pipe(v.string(), v.maxLength(4)))),
});

function issuesOf(input: unknown) {
  const parsed = v.safeParse(schema, input);
  assert.equal(parsed.success, false);
  return parsed.issues!;
}

describe('schema issues', () => {
  it('say each problem with its dotted path, in the words peers have always sent', () => {
    const issues = issuesOf({ id: 'short', slots: 1.5, headers: { Range: 'bytes=0-' } });
    assert.equal(
      describeIssues(issues),
      'id: Too small: expected >=8; slots: Invalid input: expected an integer, received 1.5; headers.Range: Too big: expected <=4',
    );
    assert.equal(issueKey(issues[2]!), 'headers');
    assert.equal(issuePath(issues[2]!), 'headers.Range');
  });

  it('name a key the object does not have, and one that is missing', () => {
    const [unknown] = issuesOf({ id: 'long enough', slots: 2, colour: 'red' });
    assert.ok(isUnknownKey(unknown!));
    assert.equal(describeIssues([unknown!]), 'colour: Unrecognized key: colour');
    const [missing] = issuesOf({ slots: 2 });
    assert.equal(isUnknownKey(missing!), false);
    assert.equal(describeIssues([missing!]), 'id: Required');
  });

  it('say a wrong type, keep a custom message, and stop at `max` issues', () => {
    const issues = issuesOf({ id: 7, slots: 'many' });
    assert.equal(describeIssues(issues, 1), 'id: Invalid input: expected string, received 7');
    const custom = v.safeParse(
      v.pipe(
        v.string(),
        v.check(() => false, 'only http and https URLs'),
      ),
      'ftp:',
    );
    assert.equal(describeIssues(custom.issues!, 3, 'url'), 'url: only http and https URLs');
  });
});
