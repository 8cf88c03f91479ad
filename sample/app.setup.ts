import type { NestExpressApplication } from '@nestjs/platform-express';

/** The largest image `POST /thumbnails` accepts as its body. */
export const MAX_UPLOAD = '10mb';

/**
 * What the app needs beyond its modules; main.ts and the tests both call it. Nest parses JSON and URL-encoded bodies
 * by itself; image uploads come as raw bytes, so express's raw parser takes `image/*` bodies up to MAX_UPLOAD (a
 * larger one gets 413) and hands them to the controller as a Buffer.
 */
export function configureApp(app: NestExpressApplication): NestExpressApplication {
  return app.useBodyParser('raw', { type: 'image/*', limit: MAX_UPLOAD });
}
