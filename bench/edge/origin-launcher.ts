/** Child-process entry: starts the BenchOrigin with the JSON options in argv[2] and reports its port. */
import { BenchOrigin, type BenchOriginOptions } from './bench-origin.js';
import { reportReady } from './children.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Partial<BenchOriginOptions>;
const origin = new BenchOrigin(options);
const port = await origin.start();
reportReady(port, () => origin.close());
