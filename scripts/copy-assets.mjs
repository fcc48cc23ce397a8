// Copies the data files the compiled service reads at run time (not imported, so tsc does not emit
// them) next to the compiled code.
import fs from 'node:fs';

fs.mkdirSync('dist/src/demo/seed', { recursive: true });
for (const f of fs.readdirSync('src/demo/seed').filter((n) => n.endsWith('.json'))) {
  fs.copyFileSync(`src/demo/seed/${f}`, `dist/src/demo/seed/${f}`);
}
