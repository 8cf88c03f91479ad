// @ts-expect-error -- there is no such file: the task fails with an error that names the import and this file.
import { nothing } from './nowhere';

export default function missing(): unknown {
  return nothing;
}
