/**
 * The console's view of the radiology loop (issue 17): the worklist of spine MR studies waiting for a VBQ
 * (requested ones first) and the ROI reports the PACS watcher skipped, refused or could not measure, with
 * the reason. The radiology loop (src/pacs-watch/) implements the source; the console only reads it.
 */
import { esc, raw, table, when } from './html.js';

export interface ConsoleWorklistEntry {
  studyInstanceUID: string;
  studyDate?: string;
  studyDescription?: string;
  series: { description?: string; region: string };
  requested?: { task: string; plannedSurgeryDate?: string };
  viewerUrl?: string;
}

export interface ConsoleWatchReport {
  sopInstanceUID: string;
  status: string;
  attempts: number;
  reason?: string;
  updatedAt: Date;
}

export interface ConsoleRadiologySource {
  /** Undefined when no PACS is configured (DICOMWEB_BASE_URL). */
  worklist?: () => Promise<{ entries: ConsoleWorklistEntry[] }>;
  /** The watcher's reports by status, newest first. */
  reports(options: { statuses?: string[]; limit?: number }): Promise<ConsoleWatchReport[]>;
}

/** Reports a person should look at: never measured, with the reason. */
export const REPORT_PROBLEM_STATUSES = ['malformed', 'refused', 'failed', 'ignored', 'superseded'];

export function radiologyPage(data: {
  configured: boolean;
  worklist: ConsoleWorklistEntry[] | { error: string } | undefined;
  reports: ConsoleWatchReport[];
  /** Study and SOP instance UIDs identify a patient's images: shown to roles that may see patient ids. */
  showIds: boolean;
}): string {
  if (!data.configured) {
    return '<p class="empty">The radiology loop is not configured on this service (PACS_WATCH, DICOMWEB_BASE_URL).</p>';
  }
  let worklist: string;
  if (data.worklist === undefined) {
    worklist = '<p class="empty">No PACS is configured (DICOMWEB_BASE_URL): no worklist.</p>';
  } else if ('error' in data.worklist) {
    worklist = `<p class="badge bad" role="status">The PACS could not be read: ${esc(data.worklist.error)}</p>`;
  } else {
    const columns = ['Study date', 'Study', 'Series', 'Region', 'Requested (planned surgery)', 'Viewer'];
    if (data.showIds) columns.splice(2, 0, 'Study Instance UID');
    const rows = data.worklist.map((e) => {
      const row: unknown[] = [
        e.studyDate ?? '—',
        e.studyDescription ?? '—',
        e.series.description ?? '—',
        e.series.region,
        // The day of the surgery (a dateTime keeps its own local date); the order may not state one.
        e.requested ? `yes (${e.requested.plannedSurgeryDate?.slice(0, 10) ?? 'date not stated'})` : 'no',
        e.viewerUrl ? raw(`<a href="${esc(e.viewerUrl)}">Open in the viewer</a>`) : '—',
      ];
      if (data.showIds) row.splice(2, 0, raw(`<code>${esc(e.studyInstanceUID)}</code>`));
      return row;
    });
    worklist = table({
      caption: 'Spine MR studies with a measurable sagittal T1 series and no VBQ yet (requested first)',
      columns,
      rows,
      id: 'worklist',
      empty: 'No spine MR study is waiting for a VBQ.',
    });
  }
  const columns = ['Status', 'Reason', 'Attempts', 'Updated (UTC)'];
  if (data.showIds) columns.unshift('SR SOP Instance UID');
  const reports = table({
    caption: 'ROI reports the watcher did not measure (malformed, refused, failed, ignored, superseded)',
    columns,
    rows: data.reports.map((r) => {
      const row: unknown[] = [r.status, r.reason ?? '—', r.attempts, when(r.updatedAt)];
      if (data.showIds) row.unshift(raw(`<code>${esc(r.sopInstanceUID)}</code>`));
      return row;
    }),
    id: 'watch-reports',
    numeric: [data.showIds ? 3 : 2],
    empty: 'No ROI report was skipped.',
  });
  return `<h2>Worklist</h2>\n${worklist}\n<h2>ROI reports not measured</h2>\n${reports}`;
}
