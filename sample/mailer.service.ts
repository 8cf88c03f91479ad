import { Injectable } from '@nestjs/common';
import { createTransport, type SMTPSentMessageInfo, type Transporter } from 'nodemailer';
import { SmtpSinkService } from './smtp-sink.service.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}

const FROM = 'Background work sample <noreply@sample.test>';

/** Sends mail over SMTP with nodemailer. Here the server is the embedded sink; in production, your provider. */
@Injectable()
export class MailerService {
  private transport: Transporter<SMTPSentMessageInfo> | undefined;

  constructor(private readonly sink: SmtpSinkService) {}

  /** `signal` cancels the send (nodemailer >= 10.5 closes the connection) when the work item times out or is cancelled. */
  send(mail: OutgoingMail, signal: AbortSignal): Promise<SMTPSentMessageInfo> {
    // Made on first use: the sink's port is known only once it has started.
    this.transport ??= createTransport({
      host: '127.0.0.1',
      port: this.sink.port,
      ignoreTLS: true,
      connectionTimeout: 5_000,
    });
    return this.transport.sendMail({ from: FROM, ...mail, signal });
  }
}
