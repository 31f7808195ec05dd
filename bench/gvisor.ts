import type { AirlockConfig } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import type { PairResult } from './namespace.ts';
export async function benchGvisor(_c: AirlockConfig, _i: Image, _n: number): Promise<PairResult> { throw new Error('todo'); }
