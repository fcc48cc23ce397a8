/**
 * `npm run demo:radiology`: the radiology loop on one machine. Starts Orthanc (Debian package `orthanc`
 * with `orthanc-dicomweb`, when installed) with a synthetic lumbar MR study, the service in demo mode
 * with the PACS watcher on, and the OHIF viewer (`@ohif/app`, fetched once into .cache/ohif) against
 * Orthanc; prints the URLs. Draw ellipses on L1-L4 and the CSF in the viewer, label them ("L1" ... "CSF L3"),
 * "Create SR": within PACS_WATCH_INTERVAL_MS the VBQ Observation appears on the demo FHIR server.
 * Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { ensureOhifDist, startOhifServer } from '../src/demo/ohif/index.js';
import { storeInstances } from '../src/dicomweb/client.js';
import { createLogger } from '../src/http/logger.js';
import { makePhantom } from '../src/imaging/phantom.js';
import { createRuntime } from '../src/server.js';

const ORTHANC_PORT = Number(process.env.DEMO_ORTHANC_PORT ?? 8042);
const SERVICE_PORT = Number(process.env.PORT ?? 3000);
const VIEWER_PORT = Number(process.env.DEMO_VIEWER_PORT ?? 3001);
const PID_SYSTEM = 'urn:dicom:patient-id';

function findOrthanc(): string | undefined {
  return ['/usr/sbin/Orthanc', '/usr/bin/Orthanc', '/usr/local/bin/Orthanc'].find((p) => existsSync(p));
}

async function startOrthanc(dir: string): Promise<ChildProcess> {
  const bin = findOrthanc();
  if (!bin)
    throw new Error('Orthanc is not installed (apt-get install orthanc orthanc-dicomweb orthanc-gdcm)');
  const plugins = ['/usr/share/orthanc/plugins', '/usr/lib/orthanc/plugins']
    .flatMap((d) => ['libOrthancDicomWeb.so', 'libOrthancGdcm.so'].map((f) => path.join(d, f)))
    .filter((p) => existsSync(p));
  const config = {
    Name: 'radiology-demo',
    HttpPort: ORTHANC_PORT,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    Plugins: plugins,
    DicomWeb: { Enable: true, Root: '/dicom-web/', StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
  };
  await writeFile(path.join(dir, 'orthanc.json'), JSON.stringify(config));
  const proc = spawn(bin, [path.join(dir, 'orthanc.json')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${ORTHANC_PORT}/system`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return proc;
    await new Promise((r) => setTimeout(r, 200));
  }
  proc.kill();
  throw new Error(`Orthanc did not start on port ${ORTHANC_PORT}`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'radiology-demo-'));
  const orthanc = await startOrthanc(dir);
  const dicomweb = `http://127.0.0.1:${ORTHANC_PORT}/dicom-web`;
  const phantom = await makePhantom({ slices: 3, noise: 10, noiseStart: 7 });
  await storeInstances({ baseUrl: dicomweb }, phantom.files);

  const dist = await ensureOhifDist(path.resolve('.cache/ohif'));
  const viewer = await startOhifServer({ dist, dicomwebBaseUrl: dicomweb, port: VIEWER_PORT });

  const base = `http://127.0.0.1:${SERVICE_PORT}`;
  const config = loadConfig({
    ...process.env,
    PORT: String(SERVICE_PORT),
    PUBLIC_BASE_URL: base,
    DEMO_MODE: 'on',
    DATA_DIR: path.join(dir, 'data'),
    DICOMWEB_BASE_URL: dicomweb,
    FHIR_WRITE_BASE_URL: `${base}/demo-fhir`,
    DICOM_PATIENT_IDENTIFIER_SYSTEM: PID_SYSTEM,
    PACS_WATCH: 'on',
    PACS_WATCH_INTERVAL_MS: process.env.PACS_WATCH_INTERVAL_MS ?? '5000',
    PACS_WATCH_ORTHANC: 'on',
    VIEWER_URL_TEMPLATE: `${viewer.url}/viewer?StudyInstanceUIDs={StudyInstanceUID}`,
  });
  const runtime = await createRuntime(config, { logger: createLogger(process.env.LOG_LEVEL ?? 'info') });
  const server = http.createServer(runtime.app);
  await new Promise<void>((r) => server.listen(SERVICE_PORT, '127.0.0.1', r));
  // The phantom's patient, so the Observation has someone to belong to.
  await fetch(`${base}/demo-fhir/Patient`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify({
      resourceType: 'Patient',
      identifier: [{ system: PID_SYSTEM, value: 'PHANTOM-001' }],
      name: [{ family: 'Phantom', given: ['Lumbar'] }],
    }),
  }).catch(() => undefined);

  console.log(`
Radiology demo running:
  viewer (OHIF ${path.basename(path.dirname(dist))}): ${viewer.studyUrl(phantom.studyInstanceUID)}
  PACS (Orthanc):          http://127.0.0.1:${ORTHANC_PORT}/app/explorer.html  (DICOMweb ${dicomweb})
  service:                 ${base}  (worklist: GET ${base}/imaging/worklist, client JWT)
  FHIR (demo):             ${base}/demo-fhir/Observation?code=vbq-l1-l4
In the viewer: Ellipse tool on L1-L4 and the CSF band, label them L1 ... L4 and "CSF L3" (Rename), Create SR.
The watcher (every ${config.pacsWatch?.intervalMs} ms) measures the report and writes the Observation.
Ctrl-C stops everything.`);

  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    server.close();
    await runtime.close();
    await viewer.close();
    orthanc.kill();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(`radiology demo failed: ${(err as Error).message}`);
  process.exit(1);
});
