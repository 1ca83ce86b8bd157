//! The one catalogue of refusal messages (ARCHITECTURE.md, invariant `bilingual`): every
//! error code any layer can return, with its message in Chinese and in English.
//!
//! An [`AppError`](crate::AppError) keeps its stable `code` and the English detail its use
//! case wrote (`message`: which person, which amount, which rule). A template here may take
//! that detail as `{detail}`: the English message is usually the detail itself, and the
//! Chinese one says what was refused and, where the detail names data the caller needs (an
//! ID, an amount, a limit), quotes it. Internal failures never show their detail. Both HTTP
//! edges render a refusal through [`message`]; the test `every_code_has_both_languages`
//! scans the workspace's sources for every code an error can carry and fails on one missing
//! here.

use crate::Language;

/// One code's messages. `{detail}` stands for the error's English detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// The English message of an internal failure: what failed is logged, never shown.
pub const INTERNAL_EN: &str = "the service could not complete the request; nothing was written";
const INTERNAL_ZH: &str = "服务未能完成请求，未写入任何数据";
const DETAIL: &str = "{detail}";

macro_rules! catalogue {
    ($($code:literal => $zh:expr, $en:expr;)*) => {
        /// Every error code, sorted, with its Chinese and English templates.
        pub const CATALOGUE: &[Entry] = &[$(Entry { code: $code, zh: $zh, en: $en }),*];
    };
}

catalogue! {
    "access.forbidden" => "无权执行此操作：{detail}", DETAIL;
    "access.outside_region" => "超出您的管辖区划：{detail}", DETAIL;
    "administrator.bad_entry" => "投诉或满意度调查记录不正确：{detail}", DETAIL;
    "administrator.bad_terms" => "经办服务协议的条款不正确：{detail}", DETAIL;
    "administrator.exists" => "该商业保险机构已签订经办协议：{detail}", DETAIL;
    "administrator.failure" => INTERNAL_ZH, INTERNAL_EN;
    "administrator.months_not_run" => "协议开始前一个月的统筹拨付尚未执行，此前各月由医保经办支付：{detail}", DETAIL;
    "administrator.not_found" => "本市无此经办的商业保险机构：{detail}", DETAIL;
    "administrator.outside_period" => "不在经办协议服务期内：{detail}", DETAIL;
    "administrator.overlaps" => "该区县、险种在协议期内已由其他商业保险机构经办：{detail}", DETAIL;
    "administrator.quarter_not_over" => "该季度尚未结束，结束后方可考核：{detail}", DETAIL;
    "administrator.quarter_outside" => "该季度不在经办协议期内：{detail}", DETAIL;
    "administrator.quarter_scored" => "该季度已考核并结算经办费，每季度只考核一次：{detail}", DETAIL;
    "administrator.quarter_too_large" => "该区县本季度结算量超过单次考核上限，请分区县考核：{detail}", DETAIL;
    "agreement.bad_change" => "协议变更的字段与变更类型不符：{detail}", DETAIL;
    "agreement.bad_date" => "协议变更的日期须在今天前后一年内（检查日期不得晚于今天）：{detail}", DETAIL;
    "agreement.bad_score" => "考核得分须为 0% 至 100% 的百分比：{detail}", DETAIL;
    "agreement.refused" => "拒绝变更定点服务协议：{detail}", DETAIL;
    "api.serialize" => INTERNAL_ZH, INTERNAL_EN;
    "arrears.bad_amount" => "分期补缴金额须至少 0.01 元：{detail}", DETAIL;
    "arrears.bad_date" => "首期应缴日须在今天至 31 天之内：{detail}", DETAIL;
    "arrears.bad_instalments" => "分期期数不正确，政策规定的最长期数以内（不超过 60 期，五年）：{detail}", DETAIL;
    "arrears.bad_receipt" => "收据号须为 1 至 64 个可打印字符：{detail}", DETAIL;
    "arrears.changed" => "此人的欠费已有变化，请重新读取后再签订分期协议：{detail}", DETAIL;
    "arrears.no_plan" => "此人没有未结清的分期补缴协议：{detail}", DETAIL;
    "arrears.no_plans" => "现行政策不办理欠费分期补缴：{detail}", DETAIL;
    "arrears.nothing_owed" => "此人没有可分期补缴的欠费（单位申报的月份由单位缴纳）：{detail}", DETAIL;
    "arrears.overpaid" => "补缴金额超过协议尚欠金额：{detail}", DETAIL;
    "arrears.plan_open" => "此人已有未结清的分期补缴协议，结清后才能签订新的协议：{detail}", DETAIL;
    "arrears.receipt_reused" => "该收据号已登记过另一金额的缴款：{detail}", DETAIL;
    "arrears.too_many_payments" => "一份分期协议的缴款次数已达上限，请一次缴清余额：{detail}", DETAIL;
    "arrears.too_small" => "欠费金额不足以分成这么多期，每期至少 0.01 元：{detail}", DETAIL;
    "audit.broken" => "审计日志链已断裂，无法生成锚点：{detail}", DETAIL;
    "auth.failure" => INTERNAL_ZH, INTERNAL_EN;
    "auth.locked" => "登录失败次数过多，账户已暂时锁定，请稍后再试", DETAIL;
    "auth.required" => "需要登录（会话令牌）或机构 API 密钥，或用户名、密码不正确", DETAIL;
    "auth.throttled" => "登录失败次数过多，请稍后再试", DETAIL;
    "backup.exists" => "该文件已存在，备份从不覆盖已有文件：{detail}", DETAIL;
    "backup.failed" => "备份失败：{detail}", DETAIL;
    "backup.inside_data_dir" => "备份文件不能以数据库的名称写在数据目录中，否则会被当作在用数据库的一部分：{detail}", DETAIL;
    "backup.no_database" => "数据目录中没有可备份的数据库：{detail}", DETAIL;
    "backup.not_found" => "备份文件不存在：{detail}", DETAIL;
    "backup.not_verified" => "备份未通过基金账务检查或审计日志校验：{detail}", DETAIL;
    "backup.unreadable" => "不是本版本医保平台的备份文件：{detail}", DETAIL;
    "books.close_out_of_order" => "拒绝：年度须依次结算：{detail}", DETAIL;
    "books.period_closed" => "拒绝：该年度账目已结算，不能再记入：{detail}", DETAIL;
    "catalogue.bad_cite" => "目录加载须注明发布该目录的文件（一行，1 至 200 个字符）：{detail}", DETAIL;
    "catalogue.bad_code" => "不是目录编码：{detail}", DETAIL;
    "catalogue.failure" => INTERNAL_ZH, INTERNAL_EN;
    "catalogue.inconsistent" => INTERNAL_ZH, INTERNAL_EN;
    "catalogue.item_not_found" => "药品目录和政策包中都没有该编码：{detail}", DETAIL;
    "catalogue.not_proposed" => "该目录导入申请不是待审核状态（已审核或不存在）：{detail}", DETAIL;
    "catalogue.proposal_not_found" => "没有该目录导入申请：{detail}", DETAIL;
    "catalogue.rows_refused" => "目录文件有需要更正的行，未加载任何数据：{detail}", DETAIL;
    "catalogue.same_officer" => "目录导入须由另一名政策管理员审核通过：{detail}", DETAIL;
    "catalogue.stale" => "加载期间目录已被另一次加载更改，请重新加载该文件：{detail}", DETAIL;
    "catalogue.tampered" => "保存的目录文件与提交时的文件不一致（摘要不同），未导入，请重新提交：{detail}", DETAIL;
    "catalogue.too_large" => "目录文件过大：{detail}", DETAIL;
    "claim.after_death" => "结算的费用日期晚于参保人死亡日期，住院最晚于死亡当日结束：{detail}", DETAIL;
    "claim.already_reversed" => "该结算已冲正", DETAIL;
    "claim.bad_babies" => "胎儿数不正确", DETAIL;
    "claim.bad_claim_id" => "结算单号须为 1 至 64 个可打印字符", DETAIL;
    "claim.bad_diagnosis" => "诊断编码不是有效的 ICD-10 编码：{detail}", DETAIL;
    "claim.bad_institution_code" => "定点医药机构编码不正确：{detail}", DETAIL;
    "claim.bad_leave_days" => "产假天数须为 1 至 365 天", DETAIL;
    "claim.bad_physician" => "医保医师代码格式不正确（D、6 位区划代码、6 位顺序号）：{detail}", DETAIL;
    "claim.bad_procedure" => "手术操作编码不是有效的 ICD-9-CM-3 编码：{detail}", DETAIL;
    "claim.bad_quantity" => "费用明细数量须大于零且不超过 1,000,000：{detail}", DETAIL;
    "claim.bad_unit_price" => "费用明细单价须在 0 至 10,000,000 元之间：{detail}", DETAIL;
    "claim.benefits_suspended" => "参保人欠费，就医日期在待遇暂停期间，不予结算：{detail}", DETAIL;
    "claim.bill_too_large" => "单据总金额超过 100,000,000 元", DETAIL;
    "claim.coverage_changed" => "结算日期所在的参保期属于已转出的险种，须由经办机构人工结算：{detail}", DETAIL;
    "claim.day_surgery_too_long" => "日间手术须于入院当日或次日出院：{detail}", DETAIL;
    "claim.delivery_on_non_maternity" => "只有生育结算才填写分娩信息", DETAIL;
    "claim.discharge_before_admission" => "出院日期早于入院日期：{detail}", DETAIL;
    "claim.idempotency_conflict" => "该结算单号已以不同内容提交过：一个机构结算单号只对应一笔结算", DETAIL;
    "claim.in_future" => "日期晚于今天：{detail}", DETAIL;
    "claim.kind_not_for_pharmacy" => "定点药店只能结算门诊、门诊两病、特药和购药费用：{detail}", DETAIL;
    "claim.level_mismatch" => "结算单填写的医院等级与登记不符：{detail}", DETAIL;
    "claim.maternity_without_delivery" => "生育结算须填写分娩类型和胎儿数", DETAIL;
    "claim.negative_referred_deductible" => "转诊前已付起付线不能为负数", DETAIL;
    "claim.no_lines" => "结算单没有费用明细", DETAIL;
    "claim.not_found" => "无此结算记录：{detail}", DETAIL;
    "claim.not_latest" => "须先冲正该参保人本年度更晚的结算：{detail}", DETAIL;
    "claim.overlapping_stay" => "住院期间与该参保人已结算的住院重叠：{detail}", DETAIL;
    "claim.person_moved" => "结算后此人已转到其他区县，其年度累计随人转移，不能在原区县冲正，由经办机构人工处理：{detail}", DETAIL;
    "claim.place_mismatch" => "结算单填写的就医地与登记不符：{detail}", DETAIL;
    "claim.purchase_not_at_pharmacy" => "定点药店购药（41）只能由定点零售药店结算：{detail}", DETAIL;
    "claim.purchase_spans_days" => "定点药店购药的开始与结束日期须为购药当日：{detail}", DETAIL;
    "claim.referral_not_on_file" => "没有可用的转诊备案，请先备案转诊：{detail}", DETAIL;
    "claim.referred_deductible_mismatch" => "转诊前已付起付线与记录不符：{detail}", DETAIL;
    "claim.stay_too_long" => "住院天数超过两年：{detail}", DETAIL;
    "claim.too_many_lines" => "费用明细过多，每张结算单最多 5,000 条：{detail}", DETAIL;
    "contribution.bad_period" => "缴费期间不正确：{detail}", DETAIL;
    "contribution.bad_receipt" => "收据号须为 1 至 64 个可打印字符：{detail}", DETAIL;
    "contribution.batch_too_large" => "一批缴费记录过多：{detail}", DETAIL;
    "contribution.declared" => "该月已由参保单位申报，应由单位缴纳（含滞纳金）：{detail}", DETAIL;
    "contribution.due_changed" => "该期间的应缴金额已变化，一个期间只有一张缴费单：{detail}", DETAIL;
    "contribution.failure" => INTERNAL_ZH, INTERNAL_EN;
    "contribution.in_plan" => "该期间已纳入分期补缴协议，只能按协议分期缴纳：{detail}", DETAIL;
    "contribution.kind_mismatch" => "缴费类型与参保险种或期间不符：{detail}", DETAIL;
    "contribution.negative" => "金额不能为负数", DETAIL;
    "contribution.no_wage" => "职工缴费须填写当月工资", DETAIL;
    "contribution.not_covered" => "该期间此人未参保，无应缴费用：{detail}", DETAIL;
    "contribution.overpaid" => "缴费超过应缴金额，一个期间只缴一次：{detail}", DETAIL;
    "contribution.receipt_reused" => "该收据号已用于另一笔缴费：{detail}", DETAIL;
    "declaration.bad_lines" => "缴费申报的职工人数不正确：{detail}", DETAIL;
    "declaration.bad_period" => "申报月份不正确：{detail}", DETAIL;
    "declaration.bad_wage" => "申报工资不正确：{detail}", DETAIL;
    "declaration.changed" => "申报期间该职工的参保信息已变更，未写入任何数据，请重新申报该月：{detail}", DETAIL;
    "declaration.duplicate_person" => "同一职工在一份申报中出现两次：{detail}", DETAIL;
    "declaration.exists" => "该单位本月已申报，一个月只申报一次：{detail}", DETAIL;
    "declaration.failure" => INTERNAL_ZH, INTERNAL_EN;
    "declaration.in_plan" => "该职工此月已纳入个人分期补缴协议，不能再由单位申报：{detail}", DETAIL;
    "declaration.not_employee" => "申报人员当月不是本县（区）的职工参保人员：{detail}", DETAIL;
    "declaration.not_found" => "该单位未申报此月份：{detail}", DETAIL;
    "declaration.paid" => "该月申报已缴清，无需再缴：{detail}", DETAIL;
    "declaration.person_declared" => "该职工此月已由其他单位申报：{detail}", DETAIL;
    "declaration.retiree" => "退休人员不缴费，不列入缴费申报：{detail}", DETAIL;
    "employer.amount_mismatch" => "缴费金额与应缴金额（含滞纳金）不符：{detail}", DETAIL;
    "employer.bad_code" => "统一社会信用代码不正确：{detail}", DETAIL;
    "employer.bad_date" => "日期不正确：{detail}", DETAIL;
    "employer.bad_name" => "单位名称不正确：{detail}", DETAIL;
    "employer.exists" => "该参保单位已登记：{detail}", DETAIL;
    "employer.not_found" => "本地区没有此参保单位：{detail}", DETAIL;
    "export.too_large" => "导出的人数超过一个工作表的容量，请按区县分别导出：{detail}", DETAIL;
    "fund.bad_date" => "日期不正确：{detail}", DETAIL;
    "fund.bad_month" => "月份不正确（YYYY-MM）：{detail}", DETAIL;
    "fund.bad_period" => "期间不正确：{detail}", DETAIL;
    "fund.bad_ratio" => "比例不正确：{detail}", DETAIL;
    "fund.bad_unit" => "统筹单位不正确：{detail}", DETAIL;
    "fund.bad_year" => "年度不正确：{detail}", DETAIL;
    "fund.month_out_of_order" => "统筹拨付按月份顺序运行，不能早于已运行的最近月份：{detail}", DETAIL;
    "fund.period_not_ended" => "期间尚未结束：{detail}", DETAIL;
    "handover.bad_checksum" => "拒绝：校验码不符，与已签署清单不一致", DETAIL;
    "handover.books_changed" => "拒绝：签署后账面已变动，请重新编制清单", DETAIL;
    "handover.open_payables" => "拒绝：尚有未结清的应付款：{detail}", DETAIL;
    "handover.same_person" => "拒绝：须由接收方、签署人以外的人确认", DETAIL;
    "household.bad_address" => "地址须为 1 至 200 个字符，不含控制字符或不可见字符", DETAIL;
    "household.bad_id" => "家庭编号须为 1 至 64 字节，不含控制字符", DETAIL;
    "household.exists" => "家庭编号已存在：{detail}", DETAIL;
    "household.not_found" => "本区划内无此家庭：{detail}", DETAIL;
    "import.bad_encoding" => "文件编码既不是 UTF-8 也不是 GB 18030（GBK）：{detail}", DETAIL;
    "import.duplicate_column" => "表头重复列出同一列：{detail}", DETAIL;
    "import.empty_file" => "文件为空：{detail}", DETAIL;
    "import.file_too_large" => "文件过大：{detail}", DETAIL;
    "import.missing_column" => "表头缺少必需的列：{detail}", DETAIL;
    "import.too_many_rows" => "文件行数超过上限：{detail}", DETAIL;
    "import.unknown_column" => "表头有本文件格式之外的列（请改为规定的列名或删除该列）：{detail}", DETAIL;
    "import.unknown_format" => "不支持的文件类型（可用 .csv、.xlsx、.xls、.ods）：{detail}", DETAIL;
    "import.unreadable" => "无法读取文件：{detail}", DETAIL;
    "institution.bad_code" => "定点医药机构编码不正确（H 医院或 P 药店，加 6 位区划代码和 5 位序号）：{detail}", DETAIL;
    "institution.bad_date" => "等级变更须自今天前后一年内的某日起生效", DETAIL;
    "institution.bad_name" => "机构名称须为 1 至 100 个字符，不含控制字符或不可见字符", DETAIL;
    "institution.not_found" => "本区划内无此定点医药机构：{detail}", DETAIL;
    "institution.weak_key" => "API 密钥太短或首尾有空白：{detail}", DETAIL;
    "interest.overlap" => "计息期间与已记入的利息重叠，每一天只计息一次：{detail}", DETAIL;
    "interface.bad_field" => "报文字段不正确：{detail}", DETAIL;
    "interface.bad_msgid" => "报文 ID（msgid）不正确：{detail}", DETAIL;
    "interface.bad_period" => "对账期间不正确：{detail}", DETAIL;
    "interface.fee_exists" => "该费用明细流水号已上传且内容不同，请先撤销：{detail}", DETAIL;
    "interface.fee_not_found" => "未找到要撤销的费用明细：{detail}", DETAIL;
    "interface.msgid_in_progress" => "该报文正在处理中，请稍后重发以取得应答：{detail}", DETAIL;
    "interface.msgid_reused" => "该报文 ID 已用于另一笔交易，一个 msgid 只对应一笔报文：{detail}", DETAIL;
    "interface.no_diagnosis" => "就诊尚无主要诊断（dise_codg），请先上传就诊信息：{detail}", DETAIL;
    "interface.not_entitled" => "人员不享受该待遇：{detail}", DETAIL;
    "interface.not_signed_in" => "未签到或签到已失效，请先签到（9001）：{detail}", DETAIL;
    "interface.person_mismatch" => "人员编号（psn_no）与就诊记录不符：{detail}", DETAIL;
    "interface.region_mismatch" => "区划与登记信息不符：{detail}", DETAIL;
    "interface.setl_mismatch" => "结算 ID 不是该就诊的有效结算：{detail}", DETAIL;
    "interface.signed_out" => "该签到已签退：{detail}", DETAIL;
    "interface.split_differs" => "机构上传的费用分割与中心计算不一致：{detail}", DETAIL;
    "interface.unknown_infno" => "本系统不受理该交易编号：{detail}", DETAIL;
    "interface.visit_changed" => "就诊记录已被另一笔报文修改，请重新读取后重发：{detail}", DETAIL;
    "interface.visit_not_found" => "未找到该就诊记录（mdtrt_id）：{detail}", DETAIL;
    "interface.visit_state" => "就诊当前状态不允许此操作：{detail}", DETAIL;
    "ledger.account_exists" => "账户已存在：{detail}", DETAIL;
    "ledger.account_limit" => "账户数已达上限", DETAIL;
    "ledger.amount_not_positive" => "转账金额须为正数：{detail}", DETAIL;
    "ledger.amount_too_large" => "金额超出账簿可记录的最大值：{detail}", DETAIL;
    "ledger.bad_holder" => "账户持有人不正确：{detail}", DETAIL;
    "ledger.bad_input" => "输入无效：{detail}", DETAIL;
    "ledger.bad_institution_code" => "机构编码不正确：{detail}", DETAIL;
    "ledger.bad_party_code" => "往来单位编码不正确：{detail}", DETAIL;
    "ledger.bad_record_id" => "业务记录编号不正确：{detail}", DETAIL;
    "ledger.bad_transfer_id" => "转账编号不正确：{detail}", DETAIL;
    "ledger.batch_too_large" => "一批转账过多：{detail}", DETAIL;
    "ledger.before_account_opened" => "转账日期早于账户开立日期：{detail}", DETAIL;
    "ledger.cross_fund" => "转账跨越基金：基金之间只能通过调剂往来账户成对记账：{detail}", DETAIL;
    "ledger.date_outside_period" => "日期不在期间内：{detail}", DETAIL;
    "ledger.duplicate_in_batch" => "同一批中转账重复：{detail}", DETAIL;
    "ledger.duplicate_input" => "输入重复：{detail}", DETAIL;
    "ledger.holder_kind_mismatch" => "该持有人不能开立此类账户：{detail}", DETAIL;
    "ledger.holder_outside_fund" => "持有人不在该基金的区划内：{detail}", DETAIL;
    "ledger.id_conflict" => "转账编号已用于内容不同的转账：{detail}", DETAIL;
    "ledger.inter_fund_both_sides" => "转账两边都是调剂往来账户：{detail}", DETAIL;
    "ledger.inter_fund_reason" => "只有经审计的调剂才能使用调剂往来账户：{detail}", DETAIL;
    "ledger.layer_fund_mismatch" => "该支付层次不由此基金支付：{detail}", DETAIL;
    "ledger.negative_input" => "金额不能为负数：{detail}", DETAIL;
    "ledger.no_such_account" => "账户不存在：{detail}", DETAIL;
    "ledger.not_a_city_fund" => "不是市级统筹基金：{detail}", DETAIL;
    "ledger.not_a_reversal" => "转账指明了被冲正的转账，但事由不是冲正：{detail}", DETAIL;
    "ledger.not_levied" => "该基金不计提调剂金：{detail}", DETAIL;
    "ledger.over_reversal" => "冲正金额超过原转账余额：{detail}", DETAIL;
    "ledger.overdraft" => "账户余额不足，不能为负：{detail}", DETAIL;
    "ledger.overflow" => "账户合计超出账簿可记录的最大值：{detail}", DETAIL;
    "ledger.pair_mismatch" => "调剂转账的两笔不对应：{detail}", DETAIL;
    "ledger.reversal_mismatch" => "冲正与原转账不对应：{detail}", DETAIL;
    "ledger.reversal_without_original" => "冲正未指明被冲正的转账：{detail}", DETAIL;
    "ledger.same_account" => "转账的借方和贷方是同一账户：{detail}", DETAIL;
    "ledger.special_account_short" => "财政专户资金不足以支付本月支出：请先登记期初余额或财政垫付", DETAIL;
    "ledger.too_many" => "数量超过上限：{detail}", DETAIL;
    "ledger.transfer_limit" => "转账笔数已达上限", DETAIL;
    "ledger.unaudited_adjustment" => "调剂未引用审计批准：{detail}", DETAIL;
    "ledger.unit_outside" => "统筹单位不属于本市：{detail}", DETAIL;
    "ledger.unpaired_adjustment" => "基金间调剂的另一笔未一并记账：{detail}", DETAIL;
    "load.bad_year" => "年度不正确：{detail}", DETAIL;
    "load.failure" => INTERNAL_ZH, INTERNAL_EN;
    "load.other_city" => "模拟城市与政策包不是同一城市：{detail}", DETAIL;
    "load.store_not_empty" => "数据库中已有城市数据，只能向空库载入：{detail}", DETAIL;
    "metrics.encode" => INTERNAL_ZH, INTERNAL_EN;
    "migration.bad_batch" => "迁移批次大小不正确：{detail}", DETAIL;
    "migration.changed" => "迁移记录与本次文件或登记数不一致：{detail}", DETAIL;
    "migration.checksum" => "所引校验值与对账报告不符，请重新阅读报告：{detail}", DETAIL;
    "migration.differs" => "对账报告与原系统合计不一致，不能签认：{detail}", DETAIL;
    "migration.empty" => "迁移数据中没有任何户：{detail}", DETAIL;
    "migration.failure" => INTERNAL_ZH, INTERNAL_EN;
    "migration.missing_file" => "迁移数据缺少必需文件（户、人员）：{detail}", DETAIL;
    "migration.no_report" => "尚未编制对账报告：{detail}", DETAIL;
    "migration.not_found" => "无此迁移批次：{detail}", DETAIL;
    "migration.not_loaded" => "迁移尚未全部载入，载入完成后方可对账：{detail}", DETAIL;
    "migration.out_of_order" => "迁移批次须按顺序载入：{detail}", DETAIL;
    "migration.same_person" => "对账报告须由编制人以外的另一人签认：{detail}", DETAIL;
    "migration.signed" => "该迁移已签认：{detail}", DETAIL;
    "migration.unknown_file" => "不是可识别的迁移文件：{detail}", DETAIL;
    "monitoring.bad_pack" => "智能监控规则包不合理：{detail}", DETAIL;
    "payment.no_budget" => "该年度职工或居民统筹基金尚未编制收入预算，无法计算支付年度：{detail}", DETAIL;
    "payment.no_pack" => "本服务未加载支付方式政策包：{detail}", DETAIL;
    "payment.no_terms" => "支付方式政策包未规定该年度的支付办法：{detail}", DETAIL;
    "payment.not_over" => "该支付年度尚未结束，年度结束后方可清算：{detail}", DETAIL;
    "payment.provisional" => "该支付年度尚有协议机构未完成年度考核，考核后方可清算：{detail}", DETAIL;
    "payment.refused" => "无法计算该支付年度：{detail}", DETAIL;
    "performance.bad_terms" => "绩效考核条款不合理：{detail}", DETAIL;
    "person.already_enrolled" => "此人已参加基本医疗保险（一人一次参保）：{detail}", DETAIL;
    "person.bad_balance" => "个人账户余额不正确：{detail}", DETAIL;
    "person.bad_card_no" => "社保卡号须为 1 至 32 个字母、数字或连字符", DETAIL;
    "person.bad_category" => "人员类别与参保险种不符：{detail}", DETAIL;
    "person.bad_date" => "日期不正确：{detail}", DETAIL;
    "person.bad_household" => "家庭不正确：{detail}", DETAIL;
    "person.bad_id" => "身份证号码不正确：{detail}", DETAIL;
    "person.bad_months" => "转入缴费月数不正确：{detail}", DETAIL;
    "person.bad_name" => "姓名须为 1 至 64 个字符，不含控制字符或不可见字符", DETAIL;
    "person.bad_region" => "不是本市的区县：{detail}", DETAIL;
    "person.bad_scheme" => "险种不正确：{detail}", DETAIL;
    "person.bad_tier" => "缴费档次不正确：{detail}", DETAIL;
    "person.card_taken" => "社保卡号已属于本区县另一参保人：{detail}", DETAIL;
    "person.change_after_claims" => "变更日期之后已有按原参保关系结算的费用，请改晚变更日期或先冲正该结算：{detail}", DETAIL;
    "person.change_before_start" => "参保关系变更须晚于本次参保开始日期，否则请更正参保登记：{detail}", DETAIL;
    "person.change_nothing" => "参保关系没有任何变化：{detail}", DETAIL;
    "person.deceased" => "此人已死亡，参保关系已于死亡之日终止，不能再变更：{detail}", DETAIL;
    "person.declared_after" => "参保单位已申报此后月份的缴费，不能在此之前变更或终止参保关系：{detail}", DETAIL;
    "person.employee_only" => "公务员医疗补助和企业补充医疗保险只适用于职工医保参保人", DETAIL;
    "person.history_full" => "此人的参保关系变更次数已达上限：{detail}", DETAIL;
    "person.moved" => "办理期间此人已转移到另一区县，未写入任何数据，请重新提交：{detail}", DETAIL;
    "person.no_such_tier_change" => "只能撤销最近一次档次变更申请：{detail}", DETAIL;
    "person.not_found" => "本区划内无此人：{detail}", DETAIL;
    "person.not_verified" => "身份证号码与社保卡号不对应任何参保人", DETAIL;
    "person.short_contribution_years" => "累计缴费年限不足，退休后不能享受免缴费待遇：{detail}", DETAIL;
    "person.tier_change_in_effect" => "档次变更已生效，请重新申请变更：{detail}", DETAIL;
    "physician.bad_code" => "医保医师代码不正确或与所在机构的区划不符：{detail}", DETAIL;
    "physician.bad_date" => "日期不正确（须不晚于今天且在一年之内；依据审核扣款记分的，不早于扣款确认之日）：{detail}", DETAIL;
    "physician.finding_not_final" => "记分须依据已确认的审核扣款（申诉被驳回，或申诉期已过，或机构自查）：{detail}", DETAIL;
    "physician.finding_not_theirs" => "该审核扣款所涉结算并非该医保医师诊疗，不能据以记分：{detail}", DETAIL;
    "physician.finding_penalized" => "一项审核扣款只能据以记分一次：{detail}", DETAIL;
    "physician.not_found" => "本区划内无此医保医师：{detail}", DETAIL;
    "physician.refused" => "拒绝记分：{detail}", DETAIL;
    "policy.decided" => "该版本已有决定，不能再次审批：{detail}", DETAIL;
    "policy.failure" => INTERNAL_ZH, INTERNAL_EN;
    "policy.file_differs" => "拒绝：启动时给出的政策包与库中在用版本不同，政策只能经提议和另一人审批变更：{detail}", DETAIL;
    "policy.incompatible" => "拒绝：新版本改变了已存记录所依赖的内容：{detail}", DETAIL;
    "policy.invalid" => "政策包未通过校验：{detail}", DETAIL;
    "policy.no_value" => "政策包没有适用的参数值：{detail}", DETAIL;
    "policy.not_installed" => "库中尚无已记录的政策包，请先启动一次服务：{detail}", DETAIL;
    "policy.same_person" => "拒绝：须由提议人以外的政策管理员审批：{detail}", DETAIL;
    "policy.stale" => "拒绝：提议所依据的版本已不在用，请重新提议：{detail}", DETAIL;
    "policy.tampered" => INTERNAL_ZH, INTERNAL_EN;
    "policy.too_large" => "政策包过大：{detail}", DETAIL;
    "policy.unchanged" => "拒绝：新版本与在用版本内容相同：{detail}", DETAIL;
    "policy.version_not_found" => "没有该政策包版本：{detail}", DETAIL;
    "referral.bad_date" => "转诊日期不正确：{detail}", DETAIL;
    "referral.bad_reason" => "撤销转诊须说明原因（1 至 200 个可打印字符）", DETAIL;
    "referral.cancelled" => "该转诊已撤销：{detail}", DETAIL;
    "referral.no_visit" => "本机构没有该参保人的就诊记录", DETAIL;
    "referral.not_found" => "未找到该转诊备案：{detail}", DETAIL;
    "referral.unknown_institution" => "转入机构不是有效的定点医药机构：{detail}", DETAIL;
    "referral.used" => "该转诊已被入院使用，不能撤销：{detail}", DETAIL;
    "reform.bad_size" => "模拟人数不正确：{detail}", DETAIL;
    "reform.failure" => INTERNAL_ZH, INTERNAL_EN;
    "reform.invalid" => "改革方案无效：{detail}", DETAIL;
    "reform.simulation" => "模拟未能完成：{detail}", DETAIL;
    "reform.too_large" => "改革方案最大 64 KiB", DETAIL;
    "reform.unavailable" => INTERNAL_ZH, INTERNAL_EN;
    "region.unknown" => "不是本市或其区县：{detail}", DETAIL;
    "request.bad_year" => "年度不正确：{detail}", DETAIL;
    "request.exists" => "记录已存在：{detail}", DETAIL;
    "request.invalid" => "请求无效：{detail}", DETAIL;
    "request.malformed" => "请求格式不正确：{detail}", DETAIL;
    "request.method_not_allowed" => "此路径不支持该请求方法：{detail}", DETAIL;
    "request.too_large" => "请求内容过大：{detail}", DETAIL;
    "restore.data_dir_not_empty" => "数据目录中已有数据库；如需覆盖请加 --force（原数据库改名保留）：{detail}", DETAIL;
    "restore.failed" => "恢复失败：{detail}", DETAIL;
    "restore.in_use" => "数据库正在使用中，请先停止服务：{detail}", DETAIL;
    "restore.live_database" => "该文件是正在使用的数据库（旁有预写日志），请先用 yibao backup 备份再恢复备份文件：{detail}", DETAIL;
    "review.amount_above_paid" => "扣款金额须大于零且不超过基金对该结算尚欠机构的金额：{detail}", DETAIL;
    "review.appeal_closed" => "已过申诉期（审核扣款后 30 日内可申诉）：{detail}", DETAIL;
    "review.bad_date" => "审核记账日期不正确：{detail}", DETAIL;
    "review.bad_period" => "检查期间须为今天及以前的 1 至 31 日：{detail}", DETAIL;
    "review.bad_sample" => "抽样审核数据不合理：{detail}", DETAIL;
    "review.bad_text" => "审核意见、证据或申诉须为 1 至规定字数的文字：{detail}", DETAIL;
    "review.claim_reversed" => "该结算已冲正，基金不欠机构任何款项，无法扣款：{detail}", DETAIL;
    "review.flag_decided" => "该监控提示已有审核结论：{detail}", DETAIL;
    "review.no_scan_rules" => "现行监控规则中没有对已支付结算的检查：{detail}", DETAIL;
    "review.not_appealable" => "只有未申诉的审核扣款可以申诉，且只能申诉一次：{detail}", DETAIL;
    "review.not_appealed" => "只有待裁决的申诉可以裁决：{detail}", DETAIL;
    "review.not_found" => "无此审核记录：{detail}", DETAIL;
    "review.same_reviewer" => "申诉须由审核人以外的人员裁决：{detail}", DETAIL;
    "review.scan_too_large" => "本次检查的结算过多，请按县区分别检查：{detail}", DETAIL;
    "review.scan_too_many_flags" => "本次检查发现的提示过多，请缩短期间、按县区检查或收紧规则：{detail}", DETAIL;
    "review.too_many_findings" => "一笔结算的审核扣款已达上限：{detail}", DETAIL;
    "route.not_found" => "没有此 API 路径，请参阅 /api/openapi.json", DETAIL;
    "search.bad_page" => "一页至多 200 人、起点至多第 10000 条，请缩小查询条件：{detail}", DETAIL;
    "search.empty" => "请按身份证号码、姓名、社保卡号或家庭编号查询", DETAIL;
    "settle.accumulators_from_later_year" => "累计数属于就诊日期以后的年度：{detail}", DETAIL;
    "settle.after_policy" => "就诊日期晚于政策包的最后一日：{detail}", DETAIL;
    "settle.bad_tier_history" => "档次变更记录不正确：{detail}", DETAIL;
    "settle.before_policy" => "就诊日期早于政策包的生效日期：{detail}", DETAIL;
    "settle.benefit_not_offered" => "政策包未规定该类待遇（本地未开展）：{detail}", DETAIL;
    "settle.busy" => INTERNAL_ZH, INTERNAL_EN;
    "settle.category_mismatch" => "人员类别不能参加该险种：{detail}", DETAIL;
    "settle.failure" => INTERNAL_ZH, INTERNAL_EN;
    "settle.institution_suspended" => "该定点医药机构的服务协议在就诊日期处于暂停期，不予结算：{detail}", DETAIL;
    "settle.institution_terminated" => "该定点医药机构的服务协议已解除，不予结算：{detail}", DETAIL;
    "settle.leave_days_above_bound" => "申报的产假天数超过政策规定的上限：{detail}", DETAIL;
    "settle.maternity_not_female" => "生育结算须为分娩的女性本人", DETAIL;
    "settle.missing_tier_history" => "本市分档缴费：参保人须有档次记录", DETAIL;
    "settle.no_policy_value" => "政策包没有适用于本次结算的参数值：{detail}", DETAIL;
    "settle.not_a_basic_scheme" => "不是基本医疗保险险种：参保人须参加职工或居民医保：{detail}", DETAIL;
    "settle.not_a_certified_chronic_disease" => "该诊断不是参保人已认定的门诊慢特病：{detail}", DETAIL;
    "settle.not_a_single_disease" => "主要诊断不在本级医疗机构的单病种定额结算病种目录中：{detail}", DETAIL;
    "settle.not_a_special_drug" => "该药品不在就诊日期有效的特药目录中：{detail}", DETAIL;
    "settle.not_a_two_disease" => "该诊断不是参保人已备案的高血压或糖尿病（门诊两病）：{detail}", DETAIL;
    "settle.not_covered" => "就诊日期不在参保期间内：{detail}", DETAIL;
    "settle.not_maternity_insured" => "参保人未参加生育保险", DETAIL;
    "settle.physician_required" => "该机构本年度协议要求每笔结算注明医保医师：{detail}", DETAIL;
    "settle.physician_suspended" => "该医保医师在就诊日期处于暂停医保支付资格期间，不予结算：{detail}", DETAIL;
    "settle.physician_terminated" => "该医保医师的医保支付资格已终止，不予结算：{detail}", DETAIL;
    "settle.physician_unknown" => "该医保医师未在本机构备案或就诊日期时尚未备案：{detail}", DETAIL;
    "settle.region_outside_policy" => "参保人所在区划不在政策包的区划内：{detail}", DETAIL;
    "settle.scheme_not_in_policy" => "政策包不含该险种：{detail}", DETAIL;
    "settle.single_disease_out_of_area" => "单病种定额为本市与本市定点医疗机构约定的标准，异地就医请按普通住院（2101）结算：{detail}", DETAIL;
    "settle.special_drug_not_indicated" => "特药不适用于该诊断，或参保人未备案该病种：{detail}", DETAIL;
    "settle.tier_not_allowed" => "该档次不是本险种的档次：{detail}", DETAIL;
    "settle.two_disease_not_medicine" => "门诊两病只结算两病用药，其他费用请按普通门诊结算：{detail}", DETAIL;
    "settle.under_review" => "该结算有审核扣款，机构不能自行冲正，须由经办人员冲正：{detail}", DETAIL;
    "staff.not_found" => "本区划内无此工作人员账户：{detail}", DETAIL;
    "staff.self_lockout" => "管理员不能停用或降级自己的账户", DETAIL;
    "staff.weak_password" => "密码长度不符合要求：{detail}", DETAIL;
    "store.failure" => INTERNAL_ZH, INTERNAL_EN;
    "store.schema_newer" => "数据库由更新版本的易保写入，本版本不能打开（迁移只向前）：{detail}", DETAIL;
}

/// The catalogue's entry for `code`.
#[must_use]
pub fn entry(code: &str) -> Option<&'static Entry> {
    CATALOGUE.binary_search_by(|entry| entry.code.cmp(code)).ok().map(|index| &CATALOGUE[index])
}

/// The message for a refusal with `code` and English `detail`, in `language`. A code
/// missing from the catalogue (the completeness test keeps that from happening) shows its
/// detail.
#[must_use]
pub fn message(language: Language, code: &str, detail: &str) -> String {
    match entry(code) {
        Some(entry) => {
            let template = match language {
                Language::Zh => entry.zh,
                Language::En => entry.en,
            };
            template.replace(DETAIL, detail)
        }
        None => detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_cjk(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn the_catalogue_is_sorted_unique_and_in_both_languages() {
        for pair in CATALOGUE.windows(2) {
            assert!(pair[0].code < pair[1].code, "sorted and unique: {} before {}", pair[0].code, pair[1].code);
        }
        for entry in CATALOGUE {
            assert!(has_cjk(entry.zh), "{}: the Chinese message is Chinese", entry.code);
            assert!(!has_cjk(entry.en) && !entry.en.is_empty(), "{}: the English message is English", entry.code);
            for template in [entry.zh, entry.en] {
                let rest = template.replace(DETAIL, "");
                assert!(!rest.contains('{') && !rest.contains('}'), "{}: only {{detail}} is a placeholder: {template}", entry.code);
            }
            if entry.en == INTERNAL_EN {
                assert!(!entry.zh.contains(DETAIL), "{}: an internal failure never shows its detail", entry.code);
            }
        }
    }

    #[test]
    fn a_message_fills_in_the_detail_in_the_chosen_language() {
        let detail = "paid may not be negative";
        assert_eq!(message(Language::En, "contribution.negative", detail), detail);
        assert_eq!(message(Language::Zh, "contribution.negative", detail), "金额不能为负数");
        assert_eq!(message(Language::Zh, "person.not_found", "no person X in this region"), "本区划内无此人：no person X in this region");
        assert_eq!(message(Language::Zh, "store.failure", "disk I/O error"), INTERNAL_ZH);
        assert_eq!(message(Language::En, "store.failure", "disk I/O error"), INTERNAL_EN);
        assert_eq!(message(Language::Zh, "no.such_code", "as written"), "as written");
    }
}
