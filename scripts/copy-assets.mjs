// Copies the data files the compiled service reads at run time (not imported, so tsc does not emit
// them) next to the compiled code.
import fs from 'node:fs';

fs.mkdirSync('dist/src/fhir/demo-seed', { recursive: true });
for (const f of fs.readdirSync('src/fhir/demo-seed').filter((n) => n.endsWith('.json'))) {
  fs.copyFileSync(`src/fhir/demo-seed/${f}`, `dist/src/fhir/demo-seed/${f}`);
}
