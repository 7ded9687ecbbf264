/** Issue 14's targets, printed as PASS/FAIL lines under the tables that measure them. */

export interface TargetCheck {
  /** What is compared, e.g. "ddm get -c4 CPU / curl CPU". */
  readonly what: string;
  readonly value: number;
  readonly limit: number;
  /** 'max': value must be at most limit; 'min': at least. */
  readonly kind: 'max' | 'min';
  readonly unit?: string;
}

export function passes(check: TargetCheck): boolean {
  return check.kind === 'max' ? check.value <= check.limit : check.value >= check.limit;
}

/** Prints one line per check; returns whether all passed. */
export function printTargets(checks: readonly TargetCheck[]): boolean {
  const lines = checks.map((check) => {
    const unit = check.unit ?? 'x';
    const sign = check.kind === 'max' ? '<=' : '>=';
    return `${check.what} = ${check.value.toFixed(2)}${unit} (target ${sign} ${check.limit}${unit}): ${passes(check) ? 'PASS' : 'FAIL'}`;
  });
  process.stdout.write(`\ntargets (issue 14):\n${lines.map((line) => `  ${line}`).join('\n')}\n`);
  return checks.every(passes);
}
