import { Module } from '@nestjs/common';
import { BackgroundWorkModule } from 'nestjs-background-work';
import { AppController } from './app.controller.js';
import { AppService } from './app.service.js';
import { WorkController } from './work.controller.js';

@Module({
  imports: [BackgroundWorkModule.forRoot({ shutdownTimeout: 10_000, threads: { maxThreads: 1 } })],
  controllers: [AppController, WorkController],
  providers: [AppService],
})
export class AppModule {}
