// ECharts with only the pieces the panels use (tree-shaken core), and the chart options
// built from normalised stats. Colours match the dark console theme.

import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { t } from './i18n';
import { TARGETS, type Trend } from './stats';
import type { Today } from './types';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export type Chart = echarts.ECharts;

const TEXT = '#c8d3e0';
const AXIS = { axisLine: { lineStyle: { color: '#3b4a5e' } }, axisLabel: { color: TEXT }, splitLine: { lineStyle: { color: '#223045' } } };

export function makeChart(el: HTMLElement): Chart {
  const c = echarts.init(el, undefined, { renderer: 'canvas' });
  new ResizeObserver(() => c.resize()).observe(el);
  return c;
}

export function responseTimesOption(today: Today | null) {
  return {
    animation: false,
    grid: { left: 8, right: 12, top: 28, bottom: 4, containLabel: true },
    legend: { textStyle: { color: TEXT }, top: 0 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'value', name: 's', ...AXIS },
    yAxis: { type: 'category', data: [t('kpi.medianDispatch'), t('kpi.medianArrival')], ...AXIS },
    series: [
      { name: t('kpi.actual'), type: 'bar', data: [today?.median_dispatch_s ?? 0, today?.median_arrival_s ?? 0].map((v) => Math.round(v)), itemStyle: { color: '#4dabf7' } },
      { name: t('kpi.target'), type: 'bar', data: [TARGETS.dispatch_s, TARGETS.arrival_s], itemStyle: { color: '#495057' } },
    ],
  };
}

export function trendOption(trend: Trend) {
  return {
    animation: false,
    grid: { left: 8, right: 12, top: 28, bottom: 4, containLabel: true },
    legend: { textStyle: { color: TEXT }, top: 0 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: trend.dates.map((d) => d.slice(5)), ...AXIS },
    yAxis: { type: 'value', ...AXIS },
    series: [
      { name: t('kpi.thisYear'), type: 'line', data: trend.thisYear, smooth: true, showSymbol: false, itemStyle: { color: '#ff8787' } },
      { name: t('kpi.lastYear'), type: 'line', data: trend.lastYear, smooth: true, showSymbol: false, itemStyle: { color: '#868e96' }, lineStyle: { type: 'dashed' } },
    ],
  };
}

export function topTypesOption(rows: { name: string; count: number }[]) {
  const r = [...rows].reverse();
  return {
    animation: false,
    grid: { left: 8, right: 16, top: 4, bottom: 4, containLabel: true },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'value', minInterval: 1, ...AXIS },
    yAxis: { type: 'category', data: r.map((x) => x.name), ...AXIS },
    series: [{ type: 'bar', data: r.map((x) => x.count), itemStyle: { color: '#f08c00' } }],
  };
}
