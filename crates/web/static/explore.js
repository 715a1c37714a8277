// The explorer's chart (issue 14): the page's first measure by its first grouping, drawn with the
// vendored Apache ECharts; a bar (or a point of the monthly line) opens the same drill-down as its
// table row. The table is the chart's text alternative.
'use strict';
(function () {
  const box = document.getElementById('chart');
  if (!box || !window.echarts) return;
  const data = JSON.parse(box.dataset.chart);
  if (!data.values.length) { box.hidden = true; return; }
  const chart = window.echarts.init(box, null, { renderer: 'canvas' });
  const line = data.kind === 'line';
  chart.setOption({
    animation: false,
    grid: { left: 8, right: 8, top: 24, bottom: 8, containLabel: true },
    tooltip: { trigger: 'axis' },
    xAxis: line
      ? { type: 'category', data: data.labels }
      : { type: 'value', name: box.dataset.unit },
    yAxis: line
      ? { type: 'value', name: box.dataset.unit }
      : { type: 'category', data: data.labels, inverse: true, axisLabel: { width: 260, overflow: 'truncate' } },
    series: [{ type: line ? 'line' : 'bar', data: data.values, itemStyle: { color: '#0b5394' } }],
  });
  chart.on('click', (p) => {
    const to = data.links[p.dataIndex];
    if (to) window.location.assign(to);
  });
  window.addEventListener('resize', () => chart.resize());
}());
