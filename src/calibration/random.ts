/**
 * Reproducible pseudorandom numbers (Mersenne Twister from stdlib): every bootstrap and every synthetic
 * cohort is reproducible from its starting value, so a calibration can be re-run and audited to the digit.
 */
import mt19937 from '@stdlib/random-base-mt19937';
import normal from '@stdlib/random-base-normal';

export interface ReproducibleRandom {
  /** Uniform on [0, 1). */
  uniform(): number;
  /** Uniform integer on [0, n). */
  index(n: number): number;
  /** Normal(mu, sigma). */
  normal(mu: number, sigma: number): number;
}

/** A 32-bit Mersenne Twister (uniforms) and a stdlib normal generator, both started from `start`. */
export function reproducibleRandom(start: number): ReproducibleRandom {
  if (!Number.isInteger(start) || start < 1 || start > 4294967295) {
    throw new RangeError('the random start value (--seed) must be an integer from 1 to 4294967295');
  }
  const uint32 = mt19937.factory({ seed: start });
  // A separate stream for normals (start + 1 wraps within range) so adding normal draws never shifts the
  // uniform stream a bootstrap uses.
  const gauss = normal.factory({ seed: start === 4294967295 ? 1 : start + 1 });
  const uniform = (): number => uint32() / 4294967296;
  return {
    uniform,
    index: (n) => Math.floor(uniform() * n),
    normal: (mu, sigma) => gauss(mu, sigma),
  };
}
