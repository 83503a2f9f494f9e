// The large view of one image: a modal dialog that takes focus, keeps Tab inside,
// closes on Esc, the Close button or a click outside, and gives focus back.

import { useLayoutEffect, useRef } from 'preact/hooks';

export interface DialogImage {
  url: string;
  title: string;
  caption?: string | undefined;
  filename: string;
}

interface Props {
  image: DialogImage;
  onClose: () => void;
  onDownload: (image: DialogImage) => void;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input, select, textarea, [tabindex]:not([tabindex="-1"])';

export function ImageDialog({ image, onClose, onDownload }: Props) {
  const dialog = useRef<HTMLDivElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);

  // A layout effect: focus must be back on the opener as soon as the dialog is gone.
  useLayoutEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeButton.current?.focus();
    const root = document.getElementById('app-shell');
    root?.setAttribute('inert', '');
    return () => {
      root?.removeAttribute('inert');
      opener?.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      onClose();
      return;
    }
    if (event.key !== 'Tab' || !dialog.current) return;
    const items = Array.from(dialog.current.querySelectorAll<HTMLElement>(FOCUSABLE));
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <div class="backdrop" onClick={(event) => event.target === event.currentTarget && onClose()}>
      <div
        ref={dialog}
        class="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="dialog-title"
        onKeyDown={onKeyDown}
      >
        <div class="dialog-head">
          <h2 id="dialog-title">{image.title}</h2>
          <button ref={closeButton} type="button" class="button secondary" onClick={onClose}>
            Close
          </button>
        </div>
        <img class="dialog-image" src={image.url} alt={`Image by ${image.title}`} />
        <div class="dialog-foot">
          {image.caption && <p class="muted">{image.caption}</p>}
          <button type="button" class="button" onClick={() => onDownload(image)}>
            Download
          </button>
        </div>
      </div>
    </div>
  );
}
