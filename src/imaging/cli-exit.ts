/**
 * The `vbq` exit codes: one table, printed by `vbq --help` and copied verbatim into the README (a test
 * keeps the two equal).
 */
export const EXIT = { ok: 0, unreadable: 1, refused: 2, writeFailed: 3, usage: 64 } as const;

export const EXIT_CODES: { code: number; meaning: string }[] = [
  { code: EXIT.ok, meaning: 'success: every metric valid (`measure`), listing or sample written' },
  {
    code: EXIT.unreadable,
    meaning:
      'unreadable input: no readable DICOM image, an invalid ROI file, or ROIs not on the images given',
  },
  { code: EXIT.refused, meaning: 'a measurement was refused; the coded reasons are printed' },
  {
    code: EXIT.writeFailed,
    meaning: 'write-back failed: FHIR server unreachable or refusing, or the Patient not found',
  },
  {
    code: EXIT.usage,
    meaning: 'usage or configuration error, e.g. `--write` without `FHIR_WRITE_BASE_URL`',
  },
];

/**
 * The exit code table as Markdown, columns padded the way Prettier formats a README table, so the same
 * text reads well in a terminal and stands verbatim in the README.
 */
export function exitCodeTable(): string {
  const rows = EXIT_CODES.map((e) => [String(e.code), e.meaning] as const);
  const w0 = Math.max('exit'.length, ...rows.map((r) => r[0].length));
  const w1 = Math.max('meaning'.length, ...rows.map((r) => r[1].length));
  const line = (a: string, b: string) => `| ${a.padEnd(w0)} | ${b.padEnd(w1)} |`;
  const rule = `| ${'-'.repeat(w0)} | ${'-'.repeat(w1)} |`;
  return [line('exit', 'meaning'), rule, ...rows.map(([a, b]) => line(a, b))].join('\n');
}
