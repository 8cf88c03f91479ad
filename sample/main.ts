import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
import { intFromEnv } from './sample.config.js';

async function bootstrap(): Promise<void> {
  // While the app drains, new requests get 503 instead of work that the closed queues would refuse (a dashboard
  // already open keeps its live stream to the end). forceCloseConnections: once drained, sockets that a browser
  // opened ahead of need do not hold the exit (Node's server.close() waits for them otherwise).
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { return503OnClosing: true, forceCloseConnections: true });
  configureApp(app);
  // Without this, SIGTERM or Ctrl+C kills the process at once: no hosted service stops and queued work is lost.
  app.enableShutdownHooks();
  await app.listen(intFromEnv('PORT', 3000));

  const { port } = app.getHttpServer().address() as AddressInfo;
  const logger = new Logger('Sample');
  logger.log(`Listening on http://localhost:${port}`);
  logger.log(
    `Try: curl -i -X POST http://localhost:${port}/emails -H 'content-type: application/json' -d '{"to":"ada@example.com","subject":"Hello","body":"Sent in the background"}'`,
  );
  logger.log(`CPU work on worker threads: curl -i -X POST 'http://localhost:${port}/thumbnails?width=320&height=240' (add --data-binary @photo.jpg -H 'content-type: image/jpeg' to resize your own)`);
  logger.log(`  and: curl -i -X POST http://localhost:${port}/reports -H 'content-type: application/json' -d '{"pages":50}'; then GET /reports/:id and /reports/:id/file`);
  logger.log(`Watch it live at http://localhost:${port}/background (the dashboard), or curl http://localhost:${port}/status and /health`);
  logger.log('Press Ctrl+C while work is pending to watch it drain, in the log and on the dashboard');
}

await bootstrap();
