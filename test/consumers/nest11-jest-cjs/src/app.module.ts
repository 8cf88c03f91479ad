import { Module } from '@nestjs/common';
import { BackgroundWorkModule } from 'nestjs-background-work';
import { WorkController } from './work.controller';

@Module({
  imports: [BackgroundWorkModule.forRoot({ shutdownTimeout: 10_000, threads: { maxThreads: 1 } })],
  controllers: [WorkController],
})
export class AppModule {}
