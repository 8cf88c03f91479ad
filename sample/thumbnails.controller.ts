import { Body, Controller, Get, Headers, HttpCode, HttpStatus, NotFoundException, Param, Post, Query, StreamableFile, UnsupportedMediaTypeException } from '@nestjs/common';
import type { FileJobView } from './file-jobs.js';
import { enqueueOr503, fileResponse } from './http-helpers.js';
import { parseThumbnailQuery } from './thumbnail-request.js';
import { ThumbnailsService } from './thumbnails.service.js';

/**
 * `POST /thumbnails?width=320&height=240` resizes the image sent as the raw body (`content-type: image/*`, up to the
 * limit set in app.setup.ts), or the bundled sample image when there is no body.
 */
@Controller('thumbnails')
export class ThumbnailsController {
  constructor(private readonly thumbnails: ThumbnailsService) {}

  /** 202 Accepted: the resize is queued; poll `GET /thumbnails/:id`, then fetch `GET /thumbnails/:id/file`. */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async create(
    @Query() query: Record<string, unknown>,
    @Body() body: unknown,
    @Headers() headers: Record<string, string | undefined>,
  ): Promise<{ id: string; state: string }> {
    const request = parseThumbnailQuery(query);
    let image: Buffer | undefined;
    if (Buffer.isBuffer(body)) {
      image = body;
      await this.thumbnails.check(image);
    } else if (headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0') {
      // A body that the raw parser did not take: not image/*, or app.setup.ts was not applied to this app.
      throw new UnsupportedMediaTypeException('Send the image as the raw request body with an image/* content type, or no body for the bundled sample image');
    }
    const item = enqueueOr503(() => this.thumbnails.enqueue(request, image));
    return { id: item.id, state: item.state };
  }

  @Get(':id')
  find(@Param('id') id: string): FileJobView {
    const view = this.thumbnails.view(id);
    if (view === undefined) throw new NotFoundException(`No recent thumbnail #${id}`);
    return view;
  }

  @Get(':id/file')
  file(@Param('id') id: string): StreamableFile {
    const found = this.thumbnails.file(id);
    const extension = found.file?.contentType.replace('image/', '').replace('jpeg', 'jpg');
    return fileResponse('thumbnail', id, found, `thumbnail-${id}.${extension}`);
  }
}
