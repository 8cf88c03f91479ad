import { Inject, Logger } from '@nestjs/common';
import type { AddressInfo, Server } from 'node:net';
import { text } from 'node:stream/consumers';
import { HostedService } from 'nestjs-background-work';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { readSubject } from './mail-headers.js';
import { SAMPLE_CONFIG, type SampleConfig } from './sample.config.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  receivedAt: Date;
}

/** The sink keeps this many messages; older ones are dropped so that a long run does not grow without bound. */
const KEEP = 100;

/**
 * An SMTP server on loopback that accepts every message and keeps it in memory: the sample sends real mail with no
 * external service. `order: -10` starts it before the services that may send mail.
 */
@HostedService({ order: -10 })
export class SmtpSinkService implements HostedService {
  private readonly logger = new Logger(SmtpSinkService.name);
  private readonly smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'], // loopback only: no self-signed certificate to trust
    logger: false,
    closeTimeout: 2_000,
    onData: (stream, session, callback) => {
      this.receive(stream, session).then(() => callback(), callback);
    },
  });
  private listening: Server | undefined;
  private boundPort = 0;
  readonly received: ReceivedMail[] = [];

  constructor(@Inject(SAMPLE_CONFIG) private readonly config: SampleConfig) {
    // Without a listener, a socket error would be thrown as an uncaught 'error' event.
    this.smtp.on('error', (error) => this.logger.warn(`SMTP error: ${error.message}`));
  }

  /** The port the sink is bound to, which the mailer connects to. */
  get port(): number {
    if (this.boundPort === 0) throw new Error('The SMTP sink has not started');
    return this.boundPort;
  }

  async start(): Promise<void> {
    this.listening = await new Promise<Server>((resolve, reject) => {
      const server = this.smtp.listen(this.config.smtpPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(server);
      });
      server.once('error', reject); // EADDRINUSE fails bootstrap with this service's name
    });
    this.boundPort = (this.listening.address() as AddressInfo).port;
    this.logger.log(`SMTP sink listening on 127.0.0.1:${this.boundPort}`);
  }

  /**
   * Nothing to do here: the library stops hosted services *before* it drains the queues, and the emails still
   * queued at that point need the sink. The sink closes in stopped(), which runs after the drain.
   */
  stop(): void {}

  async stopped(): Promise<void> {
    if (this.listening === undefined) return;
    await new Promise<void>((resolve) => this.smtp.close(resolve));
    this.listening = undefined;
    this.logger.log(`SMTP sink closed after receiving ${this.received.length} messages`);
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const raw = await text(stream);
    const { mailFrom, rcptTo } = session.envelope;
    const mail: ReceivedMail = {
      from: mailFrom ? mailFrom.address : '',
      to: rcptTo.map((r) => r.address),
      subject: readSubject(raw),
      receivedAt: new Date(),
    };
    this.received.push(mail);
    if (this.received.length > KEEP) this.received.shift();
    this.logger.log(`Received mail for ${mail.to.join(', ')}: "${mail.subject}"`);
  }
}
