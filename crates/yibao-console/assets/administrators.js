// Draws an administrator's quarters (R-TPA-3): each quarter's score as a bar, the
// contract's renewal floor as a dashed line. The table holds the same numbers, so without
// JavaScript nothing is lost.
(function () {
  var source = document.getElementById('administrator-data');
  var element = document.getElementById('chart-administrator-scores');
  if (!source || !element || typeof echarts === 'undefined') return;
  var data = JSON.parse(source.textContent);
  echarts.init(element, null, { renderer: 'svg' }).setOption({
    animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0 },
    grid: { left: 16, right: 16, top: 40, bottom: 28, containLabel: true },
    xAxis: { type: 'category', data: data.quarters }, yAxis: { type: 'value', min: 0, max: 100 },
    series: [
      { name: data.score_label, type: 'bar', data: data.scores.map(Number), itemStyle: { color: '#1d4f91' } },
      { name: data.floor_label, type: 'line', symbol: 'none', data: data.quarters.map(function () { return Number(data.floor); }),
        lineStyle: { type: 'dashed', color: '#c0392b' }, itemStyle: { color: '#c0392b' } }
    ]
  });
})();
