/** Reading the files named on the `vbq` command line: directories are walked, dotfiles left out. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface InputFiles {
  files: Uint8Array[];
  fileNames: string[];
}

async function listFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * Reads every file under the given paths in a stable order. A path that does not exist throws (the
 * caller named it); a listed file that cannot be read is reported through `onUnreadable` and left out.
 */
export async function readInputFiles(
  paths: string[],
  onUnreadable: (fileName: string, reason: string) => void,
): Promise<InputFiles> {
  const out: InputFiles = { files: [], fileNames: [] };
  for (const p of paths) {
    for (const f of await listFiles(p)) {
      try {
        out.files.push(await readFile(f));
        out.fileNames.push(f);
      } catch (err) {
        onUnreadable(f, (err as NodeJS.ErrnoException).code ?? 'unreadable');
      }
    }
  }
  return out;
}

/** Counts the files left out of a run: one warning each as they are met, then one summary line. */
export class SkippedFiles {
  private skipped = 0;
  constructor(private readonly warn: (line: string) => void) {}

  skip(message: string): void {
    this.skipped++;
    this.warn(`vbq: skipped: ${message}\n`);
  }

  /** The summary line, when anything was skipped. */
  summary(total: number): void {
    if (this.skipped > 0) {
      this.warn(`vbq: skipped ${this.skipped} of ${total} files that are not readable DICOM\n`);
    }
  }
}
