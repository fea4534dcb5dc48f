/** Child process entry of recommendation training: one TrainingInput in, one TrainingOutput out. */
import { trainAndRank, type TrainingInput } from './recs-training.js';

process.once('message', (input: TrainingInput) => {
  const output = trainAndRank(input);
  process.send!(output, () => process.exit(0));
});
