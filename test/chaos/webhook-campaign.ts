/**
 * The webhook fuzz at full scale (`npm run chaos:webhook -- --reviews 100000`): fuzzed AdmissionReviews
 * through the webhook's HTTP application. Last line `RESULT crashes=0 invalid=0 hangs=0 reviews=N`
 * (invalid: an answer that is no valid AdmissionReview, or no Status for a body that is none); exit 1
 * on any problem.
 */
import { parseArgs } from 'node:util';
import { Random } from './random.ts';
import { fuzzWebhook } from './webhook-fuzz.ts';

const { values } = parseArgs({
  options: {
    reviews: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  },
});
const reviews = Number(values.reviews);
if (!Number.isInteger(reviews) || reviews < 0)
  throw new Error(`--reviews must be a whole number, got ${values.reviews}`);
const start = performance.now();
const result = await fuzzWebhook(new Random(Number(values.seed)), reviews);
console.log(
  `webhook fuzz --seed ${values.seed}: ${((performance.now() - start) / 1000).toFixed(1)} s, answers ${JSON.stringify(result.verdicts)}`,
);
for (const problem of result.problems) console.log(`  ${problem}`);
console.log(
  `RESULT crashes=${result.crashes} invalid=${result.invalid} hangs=${result.hangs} reviews=${result.requests}`,
);
process.exitCode = result.crashes + result.invalid + result.hangs > 0 ? 1 : 0;
