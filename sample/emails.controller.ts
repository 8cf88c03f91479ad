import { Body, Controller, Get, HttpCode, HttpStatus, NotFoundException, Param, Post, ServiceUnavailableException } from '@nestjs/common';
import { QueueClosedError, QueueFullError } from 'nestjs-background-work';
import { parseEmailRequest } from './email-request.js';
import { EmailService } from './email.service.js';

@Controller('emails')
export class EmailsController {
  constructor(private readonly emails: EmailService) {}

  /** 202 Accepted: the email is queued, not sent yet; poll `GET /emails/:id` for the outcome. */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  create(@Body() body: unknown): { id: string; state: string } {
    const mail = parseEmailRequest(body);
    try {
      const item = this.emails.enqueue(mail);
      return { id: item.id, state: item.state };
    } catch (error) {
      // Both are "try again later": the queue is full, or the app is draining before it exits.
      if (error instanceof QueueFullError || error instanceof QueueClosedError) throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }

  @Get(':id')
  find(@Param('id') id: string): { id: string; name?: string; state: string; attempt: number } {
    const item = this.emails.find(id);
    if (item === undefined) throw new NotFoundException(`No recent email #${id}`);
    return { id: item.id, name: item.name, state: item.state, attempt: item.attempt };
  }
}
