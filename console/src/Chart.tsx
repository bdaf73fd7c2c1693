import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { clock } from './format';
import type { Scheme } from './hooks';

export interface Line {
  label: string;
  /** A CSS custom property of the scheme, e.g. --chart-1. */
  color: string;
  width?: number;
  dash?: number[];
  fill?: boolean;
}

interface Props {
  testId: string;
  title: string;
  lines: Line[];
  data: uPlot.AlignedData;
  /** The number behind data-last: what a glance (or a test) should read off the chart. */
  last: number;
  format: (n: number) => string;
  scheme: Scheme;
}

const HEIGHT = 180;

function cssVar(name: string): string {
  return (
    getComputedStyle(document.documentElement).getPropertyValue(name).trim() ||
    '#888'
  );
}

/** The same color, see-through: uPlot wants a plain color string for an area's fill. */
function translucent(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (!hex) return color;
  const n = parseInt(hex[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

const pad = (n: number) => String(n).padStart(2, '0');

function clockTick(seconds: number, step: number): string {
  const d = new Date(seconds * 1000);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return step < 60 ? `${hm}:${pad(d.getSeconds())}` : hm;
}

/** The newest row's value: an instance gone by then shows none, not its last number. */
function latest(column: uPlot.AlignedData[number] | undefined): number | null {
  const v = column?.[column.length - 1];
  return typeof v === 'number' ? v : null;
}

export function Chart({
  testId,
  title,
  lines,
  data,
  last,
  format,
  scheme,
}: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  // A new set of lines or a new scheme rebuilds the chart; new data only updates it.
  const shape = `${scheme}|${lines.map((l) => `${l.label}:${l.color}`).join(',')}`;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const axisColor = cssVar('--muted');
    const gridColor = cssVar('--grid');
    const axis: uPlot.Axis = {
      stroke: axisColor,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
    };
    const options: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          ...axis,
          // Clock times only: the window is ten minutes, the date would just crowd the axis.
          space: 70,
          values: (_u, ticks, _axis, _space, step) =>
            ticks.map((v) => clockTick(v, step)),
        },
        {
          ...axis,
          size: 50,
          values: (_u, ticks) => ticks.map((v) => format(v)),
        },
      ],
      series: [
        // Away from the cursor the legend shows the latest values rather than blanks.
        {
          value: (_u, v) =>
            v === null || v === undefined ? 'latest' : clock(v * 1000),
        },
        ...lines.map((l): uPlot.Series => {
          const stroke = cssVar(l.color);
          return {
            label: l.label,
            stroke,
            width: l.width ?? 1.5,
            dash: l.dash,
            fill: l.fill ? translucent(stroke, 0.12) : undefined,
            points: { show: false },
            spanGaps: false,
            value: (u, v, sidx, idx) => {
              const shown =
                idx === null || idx === undefined ? latest(u.data[sidx]) : v;
              return shown === null || shown === undefined
                ? '–'
                : format(shown);
            },
          };
        }),
      ],
    };
    const u = new uPlot(options, dataRef.current, el);
    plot.current = u;
    const resize = new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (width !== u.width) u.setSize({ width, height: HEIGHT });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // format and lines are read through `shape`; the chart is rebuilt only when that changes.
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  const points = data[0]?.length ?? 0;
  return (
    <figure
      class="chart"
      data-testid={testId}
      data-points={points}
      data-last={Math.round(last * 100) / 100}
    >
      <figcaption>
        <span>{title}</span>
        <strong>{format(last)}</strong>
      </figcaption>
      <div class="chart-plot" ref={host} />
      {points === 0 && (
        <p class="chart-empty">Waiting for the first numbers…</p>
      )}
    </figure>
  );
}
