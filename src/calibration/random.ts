/**
 * Seeded pseudorandom numbers (Mersenne Twister from stdlib): every bootstrap and every synthetic cohort
 * is reproducible from its seed, so a calibration can be re-run and audited to the last digit.
 */
import mt19937 from '@stdlib/random-base-mt19937';
import normal from '@stdlib/random-base-normal';

export interface SeededRandom {
  /** Uniform on [0, 1). */
  uniform(): number;
  /** Uniform integer on [0, n). */
  index(n: number): number;
  /** Normal(mu, sigma). */
  normal(mu: number, sigma: number): number;
}

/** A 32-bit Mersenne Twister (uniforms) and a stdlib normal generator, both seeded from `seed`. */
export function seededRandom(seed: number): SeededRandom {
  if (!Number.isInteger(seed) || seed < 1 || seed > 4294967295) {
    throw new RangeError('seed must be an integer from 1 to 4294967295');
  }
  const uint32 = mt19937.factory({ seed });
  // A separate stream for normals (seed + 1 wraps within range) so adding normal draws never shifts the
  // uniform stream a bootstrap uses.
  const gauss = normal.factory({ seed: seed === 4294967295 ? 1 : seed + 1 });
  const uniform = (): number => uint32() / 4294967296;
  return {
    uniform,
    index: (n) => Math.floor(uniform() * n),
    normal: (mu, sigma) => gauss(mu, sigma),
  };
}
