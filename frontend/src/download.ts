// Saving images: fetch the bytes and save them under a readable name (a plain
// `<a download>` is ignored for images on another origin, such as CloudFront).

/** `pixel-prompt-dall-e-3.png` from the image URL's extension and the model's name. */
export function downloadName(url: string, model: string | undefined, index: number): string {
  const extension = /\.(png|jpe?g|webp)(?:$|[?#])/i.exec(url)?.[1]?.toLowerCase() ?? 'png';
  const slug = (model ?? `image-${index + 1}`)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `pixel-prompt-${slug || `image-${index + 1}`}.${extension}`;
}

function save(href: string, filename: string): void {
  const link = document.createElement('a');
  link.href = href;
  link.download = filename;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
}

/** Saves one image; when its host allows no cross-origin read, opens it in a new tab instead. */
export async function downloadImage(url: string, filename: string): Promise<void> {
  try {
    const response = await fetch(url, { mode: 'cors' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const objectUrl = URL.createObjectURL(await response.blob());
    save(objectUrl, filename);
    setTimeout(() => URL.revokeObjectURL(objectUrl), 10_000);
  } catch {
    window.open(url, '_blank', 'noopener');
  }
}

/** Saves each image in turn (the browser may ask once to allow several downloads). */
export async function downloadAll(images: { url: string; filename: string }[]): Promise<void> {
  for (const image of images) await downloadImage(image.url, image.filename);
}
