import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';

interface Props {
  testId: string;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}

/** A modal <dialog>: the browser gives it focus handling, Escape and the backdrop. */
export function Dialog({ testId, title, onClose, children }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  useLayoutEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog"
      data-testid={testId}
      aria-label={title}
      onClose={onClose}
    >
      <h3>{title}</h3>
      {children}
    </dialog>
  );
}
