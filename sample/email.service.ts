import { Injectable } from '@nestjs/common';
import { BackgroundJobs, type JobRecord } from 'nestjs-background-work';
import type { OutgoingMail } from './mailer.service.js';
import { SendEmail } from './send-email.job.js';

/** Emails are durable jobs: `send` resolves once the email is in the store, and survives a crash from then on. */
@Injectable()
export class EmailService {
  constructor(private readonly jobs: BackgroundJobs) {}

  send(mail: OutgoingMail): Promise<JobRecord<OutgoingMail>> {
    return this.jobs.enqueue(SendEmail, mail);
  }

  find(id: string): Promise<JobRecord | undefined> {
    return this.jobs.get(id);
  }
}
