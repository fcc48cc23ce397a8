/**
 * `npm run demo -- <patientId> [<CPT>]`: signs an order-sign call as the demo EHR against a running
 * service in demo mode and prints the cards readably. Without a CPT code the demo patient's own draft
 * orders are signed (each demo patient then shows the cards the README lists).
 */
import path from 'node:path';
import { DemoError, formatCard, runDemoOrderSign } from './ehr-simulator.js';

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
  console.log(
    `order-sign for patient ${patientId}, orders ${run.orderCodes.join(', ')}: ${run.cards.length} card(s)`,
  );
  if (run.cards.length === 0) {
    console.log('\n(no advice: bone quality adequate, already addressed, or not a spine-surgery order)');
  }
  run.cards.forEach((card, i) => console.log(formatCard(card, i)));
}

main().catch((err: unknown) => {
  console.error(err instanceof DemoError ? err.message : `demo failed: ${(err as Error).message}`);
  process.exit(1);
});
