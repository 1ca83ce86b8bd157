// Draws the dashboard's charts from the JSON block the server renders. The tables beside
// them hold the same numbers, so without JavaScript nothing is lost.
(function () {
  function draw() {
    var source = document.getElementById('dashboard-data');
    if (!source || typeof echarts === 'undefined') return;
    var data = JSON.parse(source.textContent);
    var l = data.labels;
    var init = function (id) { var el = document.getElementById(id); return el ? echarts.init(el, null, { renderer: 'svg' }) : null; };
    var collections = init('chart-collections');
    if (collections) collections.setOption({
      animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0, data: [l['chart-due'], l['chart-paid']] },
      grid: { left: 70, right: 16, top: 40, bottom: 28 },
      xAxis: { type: 'category', data: data.counties }, yAxis: { type: 'value' },
      series: [{ name: l['chart-due'], type: 'bar', barMaxWidth: 60, data: data.due.map(Number) }, { name: l['chart-paid'], type: 'bar', barMaxWidth: 60, data: data.paid.map(Number) }]
    });
    var enrolment = init('chart-enrolment');
    if (enrolment) enrolment.setOption({
      animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0, data: [l['chart-enrolled']] },
      grid: { left: 60, right: 16, top: 40, bottom: 28 },
      xAxis: { type: 'category', data: data.counties }, yAxis: { type: 'value', minInterval: 1 },
      series: [{ name: l['chart-enrolled'], type: 'bar', barMaxWidth: 60, data: data.enrolled, itemStyle: { color: '#1d4f91' } }]
    });
    var settlements = init('chart-settlements');
    if (settlements) settlements.setOption({
      animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0, data: [l['chart-settled'], l['chart-fund-pay']] },
      grid: { left: 60, right: 70, top: 40, bottom: 28 },
      xAxis: { type: 'category', data: data.days },
      yAxis: [{ type: 'value', minInterval: 1, name: l['chart-settled'] }, { type: 'value', name: l['chart-fund-pay'] }],
      series: [{ name: l['chart-settled'], type: 'bar', barMaxWidth: 40, data: data.settled }, { name: l['chart-fund-pay'], type: 'line', yAxisIndex: 1, data: data.fund_pay.map(Number) }]
    });
    var balances = init('chart-fund-balances');
    if (balances && data.funds) balances.setOption({
      animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0, data: [l['chart-fund-balance']] },
      grid: { left: 16, right: 40, top: 40, bottom: 28, containLabel: true },
      xAxis: { type: 'value' }, yAxis: { type: 'category', data: data.funds },
      series: [{ name: l['chart-fund-balance'], type: 'bar', barMaxWidth: 28, data: data.fund_balance.map(Number), itemStyle: { color: '#2e7d32' } }]
    });
  }
  // Loaded at the end of the dashboard's content, after the data block: on a full page load
  // and when a boosted menu link swaps the page in.
  draw();
})();
