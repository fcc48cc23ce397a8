/** The cohort CSV: any column order, extras ignored, and every invalid cell named by row and column. */
import { describe, expect, it } from 'vitest';
import { CohortError, parseCohortCsv } from '../../src/calibration/cohort.js';

const HEADER = 'outcome_on,event,outcome,measured_on,scanner,field_strength_t,value,metric,patient,comment';

function problems(text: string): string[] {
  try {
    parseCohortCsv(text);
  } catch (err) {
    expect(err).toBeInstanceOf(CohortError);
    return [(err as CohortError).message, ...(err as CohortError).problems];
  }
  throw new Error('expected a CohortError');
}

describe('cohort CSV', () => {
  it('reads columns in any order, ignores extras, keeps empty field strength and scanner as unknown', () => {
    const rows = parseCohortCsv(
      `\uFEFF${HEADER}\n2024-03-01,1,osteoporosis-dxa,2024-02-01,"Siemens, Aera",1.5,3.91,vbq-l1-l4,P1,"free, text"\n` +
        `\n2024-05-01,0,osteoporosis-dxa,2024-04-20,,,2.61,vbq-l1-l4,P2,\n`,
    );
    expect(rows).toEqual([
      {
        row: 2,
        patient: 'P1',
        metric: 'vbq-l1-l4',
        value: 3.91,
        fieldStrengthT: 1.5,
        scanner: 'Siemens, Aera',
        measuredOn: '2024-02-01',
        outcome: 'osteoporosis-dxa',
        event: true,
        outcomeOn: '2024-03-01',
      },
      expect.objectContaining({ row: 4, patient: 'P2', fieldStrengthT: null, scanner: null, event: false }),
    ]);
  });

  it('names row and column of every invalid cell, without echoing cell contents', () => {
    const out = problems(
      `${HEADER}\n` +
        `2024-02-30,2,Osteo Porosis,2024-13-01,,abc,-1,vbq,SECRET-ID,\n` +
        `2024-03-01,1,osteoporosis-dxa,2024-02-01,,3,3.1,vbq-l1-l4,,\n`,
    );
    expect(out[0]).toBe('8 invalid cells in the CSV');
    expect(out.slice(1)).toEqual([
      'row 2, column metric: must be one of vbq-l1-l4, ebq, vbq-s1, c-vbq',
      'row 2, column value: must be a positive number',
      'row 2, column field_strength_t: must be a field strength in tesla (e.g. 1.5 or 3) or empty',
      'row 2, column measured_on: must be a date YYYY-MM-DD',
      'row 2, column outcome: must be an outcome name such as osteoporosis-dxa',
      'row 2, column event: must be 1 (event) or 0 (no event)',
      'row 2, column outcome_on: must be a date YYYY-MM-DD (when the reference standard was established)',
      'row 3, column patient: is empty',
    ]);
    expect(out.join('\n')).not.toContain('SECRET-ID');
  });

  it('refuses a second row for the same patient, metric and outcome', () => {
    const row = '2024-03-01,1,osteoporosis-dxa,2024-02-01,,3,3.1,vbq-l1-l4,P1,';
    expect(problems(`${HEADER}\n${row}\n${row}\n`)).toEqual([
      '1 invalid cell in the CSV',
      'row 3, column patient: the same patient, metric and outcome as row 2: one row per patient',
    ]);
  });

  it('refuses a header without the required columns, an empty file, a header alone and a ragged row', () => {
    expect(problems('patient,metric,value\nP1,vbq-l1-l4,3\n')[0]).toBe(
      'row 1: the header lacks columns field_strength_t, scanner, measured_on, outcome, event, outcome_on',
    );
    expect(problems('')[0]).toBe('the CSV is empty: a header row is required');
    expect(problems(`${HEADER}\n`)[0]).toBe('the CSV has a header but no rows');
    const ragged = problems(`${HEADER}\n2024-03-01,1,osteoporosis-dxa\n`);
    expect(ragged[0]).toBe('the CSV cannot be parsed');
    expect(ragged[1]).toMatch(/^row 2: CSV_RECORD_INCONSISTENT_FIELDS_LENGTH/);
  });
});
