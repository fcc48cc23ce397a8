// Copies the data files the compiled service reads at run time (not imported, so tsc does not emit
// them) next to the compiled code, and makes the package.json "bin" commands (vbq) executable.
import fs from 'node:fs';

fs.mkdirSync('dist/src/demo/seed', { recursive: true });
for (const f of fs.readdirSync('src/demo/seed').filter((n) => n.endsWith('.json'))) {
  fs.copyFileSync(`src/demo/seed/${f}`, `dist/src/demo/seed/${f}`);
}

// `npm link` / `npm install -g .` link these files onto the PATH: they must exist after the build, start
// with a shebang and be executable.
const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
for (const file of Object.values(pkg.bin ?? {})) {
  if (!fs.existsSync(file)) throw new Error(`package.json bin ${file} was not built`);
  if (!fs.readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n')) {
    throw new Error(`package.json bin ${file} does not start with #!/usr/bin/env node`);
  }
  fs.chmodSync(file, 0o755);
}
