import { Body, Controller, Get, HttpCode, HttpStatus, NotFoundException, Param, Post, StreamableFile } from '@nestjs/common';
import type { FileJobView } from './file-jobs.js';
import { enqueueOr503, fileResponse } from './http-helpers.js';
import { parseReportRequest } from './report-request.js';
import { ReportsService } from './reports.service.js';

@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  /** 202 Accepted: the PDF is queued; `GET /reports/:id` shows its progress (pages done), then `GET /reports/:id/file`. */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  create(@Body() body: unknown): { id: string; state: string } {
    const request = parseReportRequest(body);
    const item = enqueueOr503(() => this.reports.enqueue(request));
    return { id: item.id, state: item.state };
  }

  @Get(':id')
  find(@Param('id') id: string): FileJobView {
    const view = this.reports.view(id);
    if (view === undefined) throw new NotFoundException(`No recent report #${id}`);
    return view;
  }

  @Get(':id/file')
  file(@Param('id') id: string): StreamableFile {
    return fileResponse('report', id, this.reports.file(id), `report-${id}.pdf`);
  }
}
