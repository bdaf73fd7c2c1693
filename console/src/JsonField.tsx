/**
 * The "Data (JSON)" field of an admin's action: a textarea, marked invalid (`invalid`) when its
 * text did not parse (the page checks it with parseJson before anything is sent).
 */
export function JsonField({
  rows,
  testId,
  placeholder,
  invalid,
  value,
  onInput,
}: {
  rows: number;
  testId: string;
  placeholder: string;
  invalid: boolean;
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <label>
      Data (JSON)
      <textarea
        rows={rows}
        spellcheck={false}
        data-testid={testId}
        placeholder={placeholder}
        aria-invalid={invalid ? 'true' : undefined}
        value={value}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
    </label>
  );
}
