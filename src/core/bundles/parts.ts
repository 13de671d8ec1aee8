// Cuts a byte stream into equal multipart parts for R2 (all the same size but the last), holding one part in memory.

export class PartUploader {
  private readonly buffer: Uint8Array;
  private filled = 0;

  /**
   * @param parts parts already uploaded (from a checkpoint); numbering continues after them
   * @param tail bytes written after the last uploaded part (from a checkpoint); fewer than `partSize`
   */
  constructor(
    private readonly upload: R2MultipartUpload,
    readonly partSize: number,
    readonly parts: R2UploadedPart[],
    tail: Uint8Array = new Uint8Array(),
  ) {
    if (tail.length >= partSize) throw new Error("a checkpoint tail must be shorter than one part");
    this.buffer = new Uint8Array(partSize);
    this.buffer.set(tail);
    this.filled = tail.length;
  }

  /** Appends bytes, uploading each part as soon as it is full (awaiting it: that is the backpressure). */
  async write(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(this.partSize - this.filled, chunk.length - at);
      this.buffer.set(chunk.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.partSize) await this.uploadBuffered();
    }
  }

  /** Bytes not uploaded yet: what a checkpoint must keep. */
  get tail(): Uint8Array {
    return this.buffer.subarray(0, this.filled);
  }

  /** Uploads the remaining bytes as the last (possibly short) part and returns every part, for `complete`. */
  async finish(): Promise<R2UploadedPart[]> {
    if (this.filled > 0 || this.parts.length === 0) await this.uploadBuffered();
    return this.parts;
  }

  private async uploadBuffered(): Promise<void> {
    const part = await this.upload.uploadPart(this.parts.length + 1, this.buffer.subarray(0, this.filled));
    this.parts.push({ partNumber: part.partNumber, etag: part.etag });
    this.filled = 0;
  }
}
