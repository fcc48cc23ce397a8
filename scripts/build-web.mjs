// Bundles the care-team view (browser app) with esbuild next to the compiled service, so
// `node dist/src/index.js` serves it without esbuild installed (run after tsc: it uses the compiled code).
import { writeCareTeamAssets } from '../dist/src/web/assets.js';

await writeCareTeamAssets();
