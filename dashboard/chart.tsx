// The time-series chart of successful vs failed downloads, drawn with uPlot on a canvas that follows its container's width.
import { useEffect, useRef } from "hono/jsx/dom";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatNumber } from "./format";
import type { Stats } from "./types";

const HEIGHT = 280;

/** The plot drawn in each container: a re-render that reuses the container replaces it instead of stacking a second one. */
const drawn = new WeakMap<HTMLElement, { plot: uPlot; resize: ResizeObserver }>();

function clear(element: HTMLElement) {
  const previous = drawn.get(element);
  if (!previous) return;
  previous.resize.disconnect();
  previous.plot.destroy();
  drawn.delete(element);
}
const wholeNumberSteps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

/**
 * Without a cursor on the chart, the legend shows the range's totals (not "–"), so it says something at a glance and
 * to a screen reader; on hover it shows that period's values. Partial periods are shaded, carry a "*" on the axis and
 * "(partial)" in the legend.
 */
export function SeriesChart({ series, periodLabel, partial }: { series: Stats["series"]; periodLabel: (period: string) => string; partial: Set<string> }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    clear(element);
    const labels = series.map((entry) => periodLabel(entry.period));
    const axisLabels = series.map((entry, index) => (partial.has(entry.period) ? `${labels[index]}*` : labels[index]!));
    const totals = [0, series.reduce((sum, entry) => sum + entry.successful, 0), series.reduce((sum, entry) => sum + entry.failed, 0)];
    const legendValue = (seriesIndex: number) => (_: uPlot, value: number | null) => formatNumber(value ?? totals[seriesIndex]!);
    const data: uPlot.AlignedData = [
      series.map((_, index) => index),
      series.map((entry) => entry.successful),
      series.map((entry) => entry.failed),
    ];
    const showPoints = series.length <= 62;
    const plot = new uPlot(
      {
        width: Math.max(element.clientWidth, 200),
        height: HEIGHT,
        scales: { x: { time: false, range: () => [-0.5, Math.max(series.length - 0.5, 0.5)] } },
        series: [
          {
            label: "Period",
            value: (_, index) => {
              if (index === null) return series.length === 1 ? labels[0]! : `Total, ${labels[0] ?? ""} – ${labels.at(-1) ?? ""}`;
              const at = Math.round(index);
              return `${labels[at] ?? ""}${partial.has(series[at]?.period ?? "") ? " (partial)" : ""}`;
            },
          },
          {
            label: "Successful",
            stroke: "#1a7f37",
            fill: "rgba(26, 127, 55, 0.12)",
            width: 2,
            points: { show: showPoints },
            value: legendValue(1),
          },
          {
            label: "Failed",
            stroke: "#cf222e",
            fill: "rgba(207, 34, 46, 0.10)",
            width: 2,
            dash: [6, 3],
            points: { show: showPoints },
            value: legendValue(2),
          },
        ],
        // Partial periods get a light grey background, drawn before the axes and lines.
        hooks: {
          drawClear: [
            (chart) => {
              const context = chart.ctx;
              context.save();
              context.fillStyle = "rgba(101, 109, 118, 0.10)";
              series.forEach((entry, index) => {
                if (!partial.has(entry.period)) return;
                const left = chart.valToPos(index - 0.5, "x", true);
                const right = chart.valToPos(index + 0.5, "x", true);
                context.fillRect(left, chart.bbox.top, right - left, chart.bbox.height);
              });
              context.restore();
            },
          ],
        },
        axes: [
          {
            incrs: wholeNumberSteps,
            space: 70,
            values: (_, splits) => splits.map((index) => (Number.isInteger(index) ? axisLabels[index] ?? "" : "")),
          },
          { incrs: wholeNumberSteps, size: 60, values: (_, splits) => splits.map((value) => formatNumber(value)) },
        ],
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 200), height: HEIGHT }));
    resize.observe(element);
    drawn.set(element, { plot, resize });
    return () => clear(element);
  }, [series, partial]);
  return <div class="chart" ref={container} />;
}
