// Draws the fund statement's chart (income against spending per fund) from the JSON block
// the server renders. The table below holds the same numbers, so without JavaScript
// nothing is lost.
(function () {
  var source = document.getElementById('funds-data');
  var element = document.getElementById('chart-fund-flows');
  if (!source || !element || typeof echarts === 'undefined') return;
  var data = JSON.parse(source.textContent);
  var l = data.labels;
  echarts.init(element, null, { renderer: 'svg' }).setOption({
    animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0, data: [l['chart-income'], l['chart-spending']] },
    grid: { left: 16, right: 16, top: 40, bottom: 28, containLabel: true },
    xAxis: { type: 'category', data: data.funds, axisLabel: { interval: 0 } }, yAxis: { type: 'value' },
    series: [
      { name: l['chart-income'], type: 'bar', barMaxWidth: 50, data: data.income.map(Number), itemStyle: { color: '#1d4f91' } },
      { name: l['chart-spending'], type: 'bar', barMaxWidth: 50, data: data.spending.map(Number), itemStyle: { color: '#c0392b' } }
    ]
  });
})();
