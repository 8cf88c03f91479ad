import { Body, Controller, Get, HttpCode, HttpStatus, NotFoundException, Param, Post } from '@nestjs/common';
import { parseEmailRequest } from './email-request.js';
import { EmailService } from './email.service.js';

interface EmailView {
  id: string;
  state: string;
  attempts: number;
  errors?: string[];
}

@Controller('emails')
export class EmailsController {
  constructor(private readonly emails: EmailService) {}

  /** 202 Accepted once the email is stored (not sent yet); poll `GET /emails/:id` for the outcome. */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async create(@Body() body: unknown): Promise<EmailView> {
    const job = await this.emails.send(parseEmailRequest(body));
    return { id: job.id, state: job.state, attempts: job.attempts };
  }

  @Get(':id')
  async find(@Param('id') id: string): Promise<EmailView> {
    const job = await this.emails.find(id);
    if (job === undefined || job.name !== 'send-email') throw new NotFoundException(`No email ${id}`);
    return { id: job.id, state: job.state, attempts: job.attempts, errors: job.errors.map((e) => `${e.name}: ${e.message}`) };
  }
}
