// Draws budget execution (R-FND-3): each budget's cumulative spending month by month as a
// line, its year's spending budget as a dashed line of the same colour. The table holds the
// same numbers, so without JavaScript nothing is lost.
(function () {
  var source = document.getElementById('budget-data');
  var element = document.getElementById('chart-budget-execution');
  if (!source || !element || typeof echarts === 'undefined') return;
  var data = JSON.parse(source.textContent);
  var colours = ['#1d4f91', '#c0392b', '#2e7d32', '#8e44ad', '#d35400', '#16a085'];
  var series = [];
  data.lines.forEach(function (line, i) {
    var colour = colours[i % colours.length];
    series.push({ name: line.name, type: 'line', data: line.spending.map(Number), itemStyle: { color: colour } });
    series.push({ name: line.name + ' · ' + data.budget_label, type: 'line', symbol: 'none', data: data.months.map(function () { return Number(line.budget); }),
      lineStyle: { type: 'dashed', color: colour }, itemStyle: { color: colour } });
  });
  echarts.init(element, null, { renderer: 'svg' }).setOption({
    animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0, type: 'scroll' },
    grid: { left: 16, right: 16, top: 40, bottom: 28, containLabel: true },
    xAxis: { type: 'category', data: data.months }, yAxis: { type: 'value' }, series: series
  });
})();
