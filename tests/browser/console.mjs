// The staff console in a real browser: Debian's headless Chromium driven by playwright-core.
// Started by crates/yibao-console/tests/browser.rs against a server on 127.0.0.1 with a
// fresh SQLite store and these accounts (see that file):
//   east.clerk / west.clerk (enrolment clerks of counties 419921 / 419922),
//   east.claims (claims officer, 419921), funds (fund accountant, city), auditor and admin
//   (city), policy and policy.review (policy officers, city), institution H41992100007 with
//   API key key-east.
// Usage: node console.mjs <base-url> <screenshot-dir>
// Every page is written to <screenshot-dir>/NN-name.png on every run. Exit 0 = all passed.

import { mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error('usage: node console.mjs <base-url> <screenshot-dir>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
// Numbers shift when pages are added: an earlier run's screenshots would mislead a reviewer.
for (const old of readdirSync(shots).filter((f) => /^\d\d-.*\.png$/.test(f))) unlinkSync(join(shots, old));

/** A national ID with its GB 11643 check digit. */
function nationalId(prefix17) {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...prefix17].reduce((s, c, i) => s + Number(c) * weights[i], 0);
  return prefix17 + '10X98765432'[sum % 11];
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

let shotNumber = 0;
async function shot(page, name) {
  shotNumber += 1;
  const file = join(shots, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

async function signIn(browser, username, landing = '/console') {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto(`${base}/console/login`);
  await page.fill('#username', username);
  await page.fill('#password', `pw-${username}`);
  await Promise.all([page.waitForURL(`${base}${landing}`), page.click('button[type=submit]')]);
  return { context, page };
}

/** Submits the form holding `selector` and waits for the next page (plain POST, redirect, GET). */
async function submit(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

let failed = false;
try {
  const head = nationalId('41992119800101001');
  const child = nationalId('41992120120202002');

  // ---- an enrolment clerk of the east county ----
  const clerk = await signIn(browser, 'east.clerk');
  let page = clerk.page;
  await shot(page, 'dashboard-clerk');
  const menu = await page.locator('nav.menu').innerText();
  check(menu.includes('家庭参保登记') && !menu.includes('审计日志'), 'the clerk sees the enrolment menu and not the audit menu');

  await page.goto(`${base}/console/households/new`);
  await shot(page, 'enrol-form');
  // A mistyped ID is refused next to its field, and what was typed is kept.
  await page.fill('#household_id', 'HH-B-1');
  await page.fill('#address', '东县柳河乡王庄村 8 号');
  await page.selectOption('#tier', '3');
  await page.fill('#m0_id', '419921198001010010');
  await page.fill('#m0_name', '王建国');
  await submit(page, '#enrol-form button[type=submit]');
  check(await page.locator('#m0_id-error').isVisible(), 'a bad national ID is shown next to its field');
  check((await page.inputValue('#household_id')) === 'HH-B-1', 'the form keeps what was typed');
  await shot(page, 'enrol-form-error');

  await page.fill('#m0_id', head);
  // The head's social-security card: the hospital presents it to settle.
  await page.fill('#m0_card', 'D0000001');
  await page.fill('#m1_id', child);
  await page.fill('#m1_name', '王小明');
  await page.check('input[name=m1_supplementary]');
  await submit(page, '#enrol-form button[type=submit]');
  check(page.url().startsWith(`${base}/console/households/HH-B-1`), 'enrolment leads to the household page');
  const household = await page.locator('main').innerText();
  check(household.includes('王建国') && household.includes('王小明'), 'the household shows both members');
  await shot(page, 'household');

  await page.click(`a[href="/console/people/${head}"]`);
  await page.waitForURL(`${base}/console/people/${head}`);
  await shot(page, 'person');
  await page.selectOption('#tier', '4');
  // Asked for ten days ago (a request is recorded within a month): from the first of the
  // next month.
  const asked = new Date(Date.now() - 10 * 24 * 3600 * 1000);
  const iso = (d) => d.toISOString().slice(0, 10);
  const from = new Date(Date.UTC(asked.getUTCFullYear(), asked.getUTCMonth() + 1, 1));
  await page.fill('#requested_on', iso(asked));
  await submit(page, '#tier-form button[type=submit]');
  const notice = await page.locator('.notice').innerText();
  check(notice.includes(iso(from)), `the tier change says when the new tier's benefits start (${notice})`);
  await shot(page, 'tier-changed');

  await page.selectOption('#kind', 'resident');
  await page.fill('#period', '2026');
  await page.fill('#paid', '200.00');
  await submit(page, '#contribution-form button[type=submit]');
  check((await page.locator('.notice').innerText()).length > 0, 'a contribution is recorded from the person page');
  await shot(page, 'contribution-recorded');

  await page.goto(`${base}/console/arrears?period=2026`);
  await shot(page, 'arrears');

  // An employer registered through the form (issue 16): its page with the declaration box.
  await page.goto(`${base}/console/employers`);
  await page.fill('#code', '914199210000271824');
  await page.fill('#name', '东县印刷厂');
  await page.fill('#registered_on', '2026-01-02');
  await submit(page, '#register-form button[type=submit]');
  check((await page.locator('.notice').innerText()).includes('参保单位已登记'), 'an employer is registered through the console');
  check(await page.locator('#declare-form textarea').isVisible(), "the employer's page has the declaration box");
  await shot(page, 'employer');
  await page.goto(`${base}/console/policy?region=419921&scheme=resident&tier=3&on=2026-03-01`);
  check((await page.locator('main').innerText()).includes('住院起付标准'), 'the policy page lists the parameters in force');
  await shot(page, 'policy');
  await page.goto(`${base}/console/policy/diff?region=419921&scheme=resident&tier=3&from=2024-03-01&to=2026-03-01`);
  await shot(page, 'policy-diff');

  // The language switch, kept in a cookie.
  await page.goto(`${base}/console/people/${head}`);
  await Promise.all([page.waitForNavigation(), page.click('a.lang')]);
  check((await page.locator('h1').innerText()) === 'Insured person', 'the language switch turns the labels to English');
  await shot(page, 'person-english');
  await Promise.all([page.waitForNavigation(), page.click('a.lang')]);
  await page.goto(`${base}/console`);
  await shot(page, 'dashboard-after-enrolment');

  // ---- a designated hospital settles a claim through the API ----
  const response = await fetch(`${base}/api/settlements`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'key-east' },
    body: JSON.stringify({
      person_id: head,
      card_no: 'D0000001',
      claim: {
        claim_id: 'B-1', institution_code: 'H41992100007', institution_level: 'secondary', kind: 'inpatient',
        admission_date: '2026-03-02', discharge_date: '2026-03-08', diagnosis: 'K35.900',
        lines: [{ code: 'XA10BAE010A001010100315', quantity: 2, unit_price: '2500.00' }],
      },
    }),
  });
  const settled = await response.json();
  check(response.status === 201, `the hospital's claim is settled (${response.status})`);
  const fundPay = settled.settlement.fund_pay_sumamt;

  // ---- paying institutions (issue 15): the year's agreement and budget, then the statement ----
  const year = new Date().getFullYear();
  const session = await (await fetch(`${base}/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'pw-admin' }),
  })).json();
  const asAdmin = { 'content-type': 'application/json', authorization: `Bearer ${session.token}` };
  const signed = await fetch(`${base}/api/institutions/H41992100007/agreement`, {
    method: 'POST', headers: asAdmin, body: JSON.stringify({ change: 'sign', year, points: true, per_diem: true }),
  });
  check(signed.status === 200, `the hospital's agreement for ${year} is signed (${signed.status})`);
  const budgeted = await fetch(`${base}/api/funds/budgets`, {
    method: 'PUT', headers: asAdmin, body: JSON.stringify({ year, scheme: 'resident', unit: '419900', income: '1000000.00', spending: '900000.00' }),
  });
  check(budgeted.status === 200, `the residents' fund budget for ${year} is set (${budgeted.status})`);
  const payer = await signIn(browser, 'funds');
  page = payer.page;
  await page.goto(`${base}/console/payment?year=${year}`);
  check((await page.locator('#payment-institutions').innerText()).includes('H41992100007'), 'the payment year lists the hospital');
  check((await page.locator('#payment-figures').innerText()).includes('点值'), 'the payment year shows its point value');
  await shot(page, 'payment-year');
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/console/payment/${year}/H41992100007"]`)]);
  const cases = await page.locator('#statement-cases').innerText();
  check(cases.includes('B-1') && cases.includes('病种分值'), "the hospital's statement lists its stay, paid by DIP points");
  check((await page.locator('#statement-months tbody tr').count()) === 12, 'the statement has its twelve months');
  await shot(page, 'payment-statement');

  // ---- the claims officer opens the settlement and its slip ----
  const officer = await signIn(browser, 'east.claims');
  page = officer.page;
  await page.goto(`${base}/console/claims?person=${head}`);
  await shot(page, 'claims-of-person');
  await Promise.all([page.waitForNavigation(), page.click('a[href="/console/claims/H41992100007/B-1"]')]);
  const settlement = await page.locator('main').innerText();
  check(settlement.includes(fundPay) && settlement.includes('基本医疗保险统筹基金支付'), `the settlement shows the funds' ${fundPay} yuan and the steps`);
  await shot(page, 'settlement');
  await Promise.all([page.waitForNavigation(), page.click('a[href="/console/claims/H41992100007/B-1/slip"]')]);
  const slip = await page.locator('.sheet').innerText();
  check(slip.includes('医疗保险费用结算单') && slip.includes(fundPay), 'the slip shows the layers and amounts');
  await page.emulateMedia({ media: 'print' });
  await shot(page, 'slip-print');
  await page.pdf({ path: join(shots, 'slip.pdf'), format: 'A4', printBackground: true });
  await page.emulateMedia({ media: 'screen' });

  // ---- the fund accountant runs the month the claim was settled in ----
  // Settlements are dated on the day they are settled, so the claim is in this month's run.
  const today = new Date();
  const month = `${today.getUTCFullYear()}-${String(today.getUTCMonth() + 1).padStart(2, '0')}`;
  const accountant = await signIn(browser, 'funds');
  page = accountant.page;
  await page.goto(`${base}/console/funds/pooling`);
  await shot(page, 'pooling');
  await page.fill('#month', month);
  // Dated today: the demo policy sweeps on the 25th, and a claim settled after it would
  // wait for next month's run.
  await page.fill('#day', String(today.getUTCDate()));
  await submit(page, '#preview-button');
  // The clerk's 200 yuan of contributions cannot pay the claim: the refusal is shown next
  // to the month field until the fund's opening balance is booked.
  check(await page.locator('#month-error').isVisible(), `the short special account is shown next to the month (${await page.locator('#month-error').innerText()})`);
  await shot(page, 'pooling-refused');
  for (const [scheme, reference] of [['resident', 'OB-RES-1'], ['resident-critical-illness', 'OB-CI-1']]) {
    await page.goto(`${base}/console/funds/receipts`);
    await page.selectOption('#kind', 'opening-balance');
    await page.selectOption('#scheme', scheme);
    await page.fill('#unit', '419921');
    await page.fill('#amount', '100000.00');
    await page.fill('#reference', reference);
    await submit(page, '#receipt-form button[type=submit]');
    check((await page.locator('.notice').innerText()).length > 0, `the ${scheme} fund's opening balance is booked`);
  }
  await shot(page, 'receipts');
  await page.goto(`${base}/console/funds/pooling`);
  await page.fill('#month', month);
  // Dated today: the demo policy sweeps on the 25th, and a claim settled after it would
  // wait for next month's run.
  await page.fill('#day', String(today.getUTCDate()));
  await submit(page, '#preview-button');
  const preview = await page.locator('#preview').innerText();
  check(preview.includes('institution:H41992100007'), 'the preview shows the payment to the hospital');
  await shot(page, 'pooling-preview');
  await submit(page, '#run-button');
  check(page.url().startsWith(`${base}/console/funds/pooling/${month}`), 'running the month leads to its record');
  const record = await page.locator('#run-record').innerText();
  check(record.includes('institution:H41992100007') && (await page.locator('.notice').innerText()).length > 0, "the run's record shows the hospital's payment");
  await shot(page, 'pooling-run');
  await page.goto(`${base}/console/funds?month=${month}`);
  check((await page.locator('#statement-table').innerText()).includes('419921'), "the statement lists the east county's fund rows");
  await page.waitForSelector('#chart-fund-flows svg');
  await shot(page, 'fund-statement');
  const csv = await page.request.get(`${base}/console/funds/statement.csv?month=${month}`);
  check(csv.ok() && csv.headers()['content-type'].startsWith('text/csv'), 'the statement downloads as CSV');
  await page.goto(`${base}/console/funds/accounts`);
  check(!(await page.locator('#fund-totals').innerText()).includes('不平衡'), 'every fund balances in the trial balance');
  await shot(page, 'fund-accounts');

  // ---- budgets, legacy deficits, a handover, the book check and a reform what-if ----
  await page.goto(`${base}/console/funds/budgets`);
  await page.fill('#budget-year', String(today.getUTCFullYear()));
  await page.selectOption('#scheme', 'resident');
  await page.fill('#unit', '419921');
  await page.fill('#income', '5000.00');
  await page.fill('#spending', '8000.00');
  await submit(page, '#budget-form button[type=submit]');
  check((await page.locator('#budget-table').innerText()).includes('8000.00'), "the budget's execution row is shown");
  await page.waitForSelector('#chart-budget-execution svg');
  await shot(page, 'budgets');
  await page.goto(`${base}/console/funds/legacy`);
  await page.selectOption('#scheme', 'resident');
  await page.fill('#county', '419922');
  await page.fill('#established_on', '2026-01-01');
  await page.fill('#opening_gap', '5000.00');
  await page.fill('#paid_in', '0');
  await page.selectOption('#terms', 'instalments');
  await page.fill('#terms_date', '2027-12-31');
  await page.fill('#minimums', '2026:30%');
  await submit(page, '#establish-form button[type=submit]');
  check((await page.locator('.notice').innerText()).length > 0, 'the legacy deficit is established');
  await page.selectOption('#repay_scheme', 'resident');
  await page.fill('#repay_county', '419922');
  await page.fill('#repay_on', '2026-03-01');
  await page.fill('#repay_amount', '1000.00');
  await page.fill('#repay_reference', 'R-1');
  await submit(page, '#repayment-form button[type=submit]');
  await page.goto(`${base}/console/funds/legacy?as_of=2027-01-01`);
  check((await page.locator('.legacy-owed').innerText()).includes('4000.00'), 'the county still owes 4000.00');
  check(await page.locator('.missed-instalment').isVisible(), 'the missed instalment is flagged');
  await shot(page, 'legacy-deficits');
  await page.goto(`${base}/console/funds/receipts`);
  await page.selectOption('#kind', 'opening-balance');
  await page.selectOption('#scheme', 'ncms');
  await page.fill('#unit', '419921');
  await page.fill('#amount', '500.00');
  await page.fill('#reference', 'OB-NCMS-1');
  await submit(page, '#receipt-form button[type=submit]');
  await page.goto(`${base}/console/funds/handovers`);
  await page.selectOption('#from', 'ncms');
  await page.selectOption('#to', 'resident');
  await page.fill('#cut_off', today.toISOString().slice(0, 10));
  await page.fill('#reference', 'H-NCMS-1');
  await submit(page, '#prepare-form button[type=submit]');
  const checksum = (await page.locator('#checksum').innerText()).trim();
  check(/^[0-9a-f]{64}$/.test(checksum), 'the signed inventory shows its checksum');
  await page.fill('#confirm-checksum', checksum);
  await submit(page, '#confirm-form button[type=submit]');
  check(await page.locator('#checksum-error').isVisible(), 'the signer cannot confirm the handover');
  await shot(page, 'handover-inventory');
  await page.goto(`${base}/console/funds/year-end`);
  // This year's dry run has the claim's county in it; the close waits for the year to end,
  // and last year (no books here) closes: last, as nothing is posted into a closed year.
  await page.fill('#year', String(today.getUTCFullYear()));
  await submit(page, '#dry-run-button');
  check(await page.locator('#dry-run-notice').isVisible(), 'the dry run shows the close and posts nothing');
  await shot(page, 'year-end-dry-run');
  await page.goto(`${base}/console/funds/year-end`);
  await page.fill('#year', String(today.getUTCFullYear()));
  await submit(page, '#close-button');
  check(await page.locator('#year-error').isVisible(), 'this year is not closed before it ends');
  await page.fill('#year', String(today.getUTCFullYear() - 1));
  await submit(page, '#close-button');
  check(page.url().startsWith(`${base}/console/funds/year-end/`), 'closing last year leads to its record');
  await shot(page, 'year-end-record');
  await page.goto(`${base}/console/funds/year-end`);
  await shot(page, 'year-end');
  await page.goto(`${base}/console`);
  check(await page.locator('#dashboard-funds').isVisible(), 'the dashboard shows the fund balances');
  await page.waitForSelector('#chart-fund-balances svg');
  await shot(page, 'dashboard-funds');
  await page.goto(`${base}/console/funds/check`);
  await submit(page, '#check-button');
  check((await page.locator('#check-verdict').innerText()).includes('账簿无误'), 'the books are sound');
  await shot(page, 'book-check');
  await page.goto(`${base}/console/reform`);
  await page.fill('#insured', '2000');
  await submit(page, '#reform-run');
  check((await page.locator('#reform-totals').innerText()).includes('基金支付合计'), "the reform's totals are shown");
  await page.waitForSelector('#chart-reform-spending svg');
  await page.waitForSelector('#chart-reform-out-of-pocket svg');
  await shot(page, 'reform');

  // ---- the west county's clerk cannot open the east county's person by URL ----
  const west = await signIn(browser, 'west.clerk');
  page = west.page;
  const answer = await page.goto(`${base}/console/people/${head}`);
  const body = await page.locator('body').innerText();
  check(answer.status() === 404 && !body.includes('王建国'), `another county's person is not found (${answer.status()})`);
  await shot(page, 'other-county-not-found');
  const household404 = await page.goto(`${base}/console/households/HH-B-1`);
  check(household404.status() === 404, "another county's household is not found");

  // ---- the auditor: trail and chain ----
  const auditor = await signIn(browser, 'auditor');
  page = auditor.page;
  await shot(page, 'dashboard-city');
  await page.goto(`${base}/console/audit?region=419921`);
  check((await page.locator('main').innerText()).includes('claim.settle'), 'the audit trail lists the settlement');
  await shot(page, 'audit-trail');
  await page.goto(`${base}/console/audit/verify`);
  check((await page.locator('#audit-verdict').innerText()).includes('完整'), 'the audit chains verify');
  await shot(page, 'audit-verify');

  // ---- the city administrator: staff and institutions ----
  const admin = await signIn(browser, 'admin');
  page = admin.page;
  await page.goto(`${base}/console/staff`);
  check((await page.locator('main').innerText()).includes('east.clerk'), 'the administrator lists the staff accounts');
  await shot(page, 'staff');
  await page.goto(`${base}/console/institutions`);
  await shot(page, 'institutions');

  // ---- policy versions (issue 19): one policy officer proposes, another approves ----
  const proposer = await signIn(browser, 'policy', '/console/policy');
  page = proposer.page;
  await page.goto(`${base}/console/policy/versions`);
  check((await page.locator('#in-force').count()) === 1, 'version 1 is in force');
  await page.fill('#text', '[pack]\nid = "broken"');
  await submit(page, '#propose-form button[type=submit]');
  check(await page.locator('#text-error').isVisible(), "the loader's refusal is shown next to the pack");
  const anchor = 'values = [{ from = "2024-01-01", value = "85%", cite = "assumption: employees in work, tertiary hospital" }]';
  const pack = readFileSync(new URL('../../policies/demo-city.toml', import.meta.url), 'utf8');
  check(pack.includes(anchor), 'the demo pack has the value the test changes');
  const next = pack.replace(anchor, anchor.replace(' }]', ' }, { from = "2027-01-01", value = "87%", cite = "assumption: the 2027 notice" }]'));
  await page.fill('#text', next);
  await page.fill('#note', '2027 notice');
  await submit(page, '#propose-form button[type=submit]');
  check(page.url().endsWith('/console/policy/versions/2?done=proposed'), `the proposal is version 2 (${page.url()})`);
  const changes = await page.locator('#changes-table tbody tr').allInnerTexts();
  check(changes.length === 1 && changes[0].includes('inpatient.ratio') && changes[0].includes('2027-01-01'), `one change, from 2027 (${changes})`);
  await shot(page, 'policy-version-proposed');
  await submit(page, '#approve');
  check(await page.locator('#note-error').isVisible(), 'the proposer cannot approve their own version');
  const approver = await signIn(browser, 'policy.review', '/console/policy');
  page = approver.page;
  await page.goto(`${base}/console/policy/versions/2`);
  await page.fill('#decision-note', 'checked against the notice');
  await submit(page, '#approve');
  check(await page.locator('#approved-notice').isVisible(), 'a second policy officer approves the version');
  check((await page.locator('#version-status').innerText()).includes('在用'), 'the approved version is in force');
  await shot(page, 'policy-version-approved');
  await page.goto(`${base}/console/policy/versions`);
  await shot(page, 'policy-versions');

  // ---- the national catalogue (issue 13): a dry run, then the load, from the browser ----
  await page.goto(`${base}/console/catalogue`);
  const loadsBefore = await page.locator('#loads-table tbody').innerText();
  const list = '医保目录编码,医保目录名称,目录类别,收费项目等级,开始日期\nXN01AAA0001010100001,test drug,101,02,2024-01-01\n';
  await page.setInputFiles('#file', { name: 'list.csv', mimeType: 'text/csv', buffer: Buffer.from(list, 'utf8') });
  await page.fill('#cite', '医保发〔2026〕1号');
  await submit(page, '#catalogue-form button[type=submit]');
  check((await page.locator('#report-added').innerText()) === '1', 'the dry run would add one version');
  check((await page.locator('#loads-table tbody').innerText()) === loadsBefore, 'a dry run writes no load');
  await page.setInputFiles('#file', { name: 'list.csv', mimeType: 'text/csv', buffer: Buffer.from(list, 'utf8') });
  await page.uncheck('input[name=dry_run]');
  await submit(page, '#catalogue-form button[type=submit]');
  check(await page.locator('#report-proposal').isVisible(), 'the file is proposed, not yet in force');
  check((await page.locator('#loads-table tbody').innerText()) === loadsBefore, 'a proposal writes no load');
  await shot(page, 'catalogue-proposed');
  // The other policy officer approves it.
  page = proposer.page;
  await page.goto(`${base}/console/catalogue`);
  await submit(page, '#proposals-table button[id^=approve-]');
  check((await page.locator('#catalogue-report h2').innerText()).includes('已导入'), 'approved, the file is loaded');
  check((await page.locator('#loads-table tbody').innerText()).includes('list.csv'), 'the load is listed');
  await shot(page, 'catalogue-loaded');
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
