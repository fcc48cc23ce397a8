/**
 * `npm run demo -- <patientId> [<CPT>]`: signs an order-sign call as the demo EHR against a running
 * service in demo mode and prints the cards for a terminal (wrapped, Markdown rendered, the indicator in
 * colour when the terminal supports it), then the care-team view's URL for the patient: a SMART EHR
 * launch through the demo authorization server that opens in a browser with no login step.
 */
import path from 'node:path';
import { requestDemoLaunchUrl } from '../src/demo/auth-server/index.js';
import { DemoError, runDemoOrderSign } from './ehr-simulator.js';
import { renderCard, terminalOptions } from './terminal-cards.js';

const [patientId, cpt] = process.argv.slice(2);
const port = process.env.PORT ?? '3000';
const base = process.env.DEMO_BASE_URL ?? process.env.PUBLIC_BASE_URL ?? `http://localhost:${port}`;
const dataDir = path.resolve(process.env.DATA_DIR ?? './data');

async function main(): Promise<void> {
  if (!patientId) {
    console.error(
      'usage: npm run demo -- <patientId> [<CPT code>]   (patients: see README, "Demo patients")',
    );
    process.exit(2);
  }
  const run = await runDemoOrderSign({ base, dataDir, patientId, cpt });
  const options = terminalOptions();
  console.log(
    `order-sign for patient ${patientId}, orders ${run.orderCodes.join(', ')}: ${run.cards.length} card(s)`,
  );
  if (run.cards.length === 0) {
    console.log('\n(no advice: bone quality adequate, already addressed, or not a spine-surgery order)');
  }
  run.cards.forEach((card, i) => console.log(renderCard(card, i, options)));
  // The view opens on what the first card was about (its SMART link's appContext), else on the patient.
  const appContext = run.cards.flatMap((c) => c.links ?? []).find((l) => l.type === 'smart')?.appContext;
  try {
    const url = await requestDemoLaunchUrl({ serviceBaseUrl: base, patientId, appContext });
    console.log(`\nCare-team view for ${patientId} (open in a browser):\n  ${url}`);
  } catch (err) {
    console.log(`\n(care-team view launch not available: ${(err as Error).message})`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof DemoError ? err.message : `demo failed: ${(err as Error).message}`);
  process.exit(1);
});
