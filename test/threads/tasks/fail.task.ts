class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export default function fail(input: { kind: 'custom' | 'range' | 'string' }): never {
  if (input.kind === 'custom') throw new ValidationError('width must be positive', 'E_WIDTH');
  if (input.kind === 'range') throw new RangeError('out of range');
  throw 'a plain string';
}
