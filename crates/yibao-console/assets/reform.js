// Draws the reform what-if's two charts from the JSON block the server renders: the city's
// spending per fund under the baseline and the reform (grouped bars), and out-of-pocket per
// person by assistance group. The tables hold the same numbers, so without JavaScript
// nothing is lost.
(function () {
  var source = document.getElementById('reform-data');
  if (!source || typeof echarts === 'undefined') return;
  var data = JSON.parse(source.textContent);
  function bars(id, categories, baseline, reform, horizontal) {
    var element = document.getElementById(id);
    if (!element) return;
    echarts.init(element, null, { renderer: 'svg' }).setOption({
      animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0, data: [data.baseline, data.reform] },
      grid: { left: 16, right: horizontal ? 48 : 16, top: 40, bottom: 28, containLabel: true },
      // Fund names are long: their bars lie horizontally, names on the left.
      xAxis: horizontal ? { type: 'value', splitNumber: 3, axisLabel: { hideOverlap: true } } : { type: 'category', data: categories, axisLabel: { interval: 0 } },
      yAxis: horizontal ? { type: 'category', data: categories, inverse: true, axisLabel: { interval: 0 } } : { type: 'value' },
      series: [
        { name: data.baseline, type: 'bar', barMaxWidth: 28, data: baseline.map(Number), itemStyle: { color: '#7f8c8d' } },
        { name: data.reform, type: 'bar', barMaxWidth: 28, data: reform.map(Number), itemStyle: { color: '#1d4f91' } }
      ]
    });
  }
  bars('chart-reform-spending', data.funds, data.spending_baseline, data.spending_reform, true);
  bars('chart-reform-out-of-pocket', data.groups, data.out_of_pocket_baseline, data.out_of_pocket_reform, false);
})();
