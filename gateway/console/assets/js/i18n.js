// Chinese and English labels. The choice is remembered in localStorage and set as <html lang>.

const LABELS = {
  title: ['SiloBridge 数据审计台', 'SiloBridge data officers’ console'],
  skip: ['跳到正文', 'Skip to content'],
  language: ['English', '中文'],
  languageLabel: ['切换到英文', 'Switch to Chinese'],
  navLabel: ['功能', 'Views'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出', 'Sign out'],
  signedInAs: ['已登录：', 'Signed in as '],
  until: ['，有效至 ', ', until '],
  tokenLabel: ['审计系统令牌', 'Token of an audit system'],
  tokenHint: [
    '用命令生成：silobridge token --system <审计系统> --key <私钥文件>。令牌只用于换取 30 分钟的会话，不会保存。',
    'Make one with: silobridge token --system <audit system> --key <key file>. It is exchanged for a 30-minute session and not kept.',
  ],
  signInIntro: [
    '请用具有 audit 角色的系统令牌登录。',
    'Sign in with the token of a system that has the audit role.',
  ],
  sessionEnded: ['会话已结束，请重新登录。', 'Your session ended: sign in again.'],
  tokenExpired: [
    '令牌已过期，请重新生成（silobridge token）后再登录。',
    'The token has expired: make a new one (silobridge token) and sign in again.',
  ],
  tokenRefused: ['令牌未被接受：', 'The token was not accepted: '],
  notAudit: [
    '该系统没有 audit（审计）角色，不能登录审计台。',
    'This system does not have the audit role and cannot use the console.',
  ],
  signedOut: ['已退出。', 'Signed out.'],
  loading: ['加载中…', 'Loading…'],
  error: ['出错：', 'Error: '],
  fixFields: ['请更正标出的字段。', 'Please correct the marked fields.'],
  none: ['没有结果。', 'Nothing found.'],
  // views
  search: ['审计查询', 'Audit search'],
  chain: ['日志校验', 'Chain verification'],
  subject: ['当事人报告', 'Subject report'],
  statistics: ['共享统计', 'Sharing statistics'],
  scorecard: ['部门考核', 'Department scorecard'],
  connectors: ['连接器状态', 'Connectors'],
  reviews: ['抽查评议', 'Review sampling'],
  publicPage: ['公开汇总页', 'Public summary page'],
  event: ['审计事件', 'Audit event'],
  // fields
  kind: ['事件类别', 'Kind'],
  requester: ['申请方（部门或系统）', 'Requester (department or system)'],
  provider: ['提供方部门', 'Provider department'],
  certificateType: ['证照类型', 'Certificate type'],
  outcome: ['结果', 'Outcome'],
  matter: ['事项编码', 'Matter'],
  lookupId: ['查询编号', 'Lookup id'],
  from: ['起（含）', 'From (inclusive)'],
  to: ['止（不含）', 'To (exclusive)'],
  timeHint: ['例如 2026-05-01 或 2026-05-01T08:00:00+08:00', 'e.g. 2026-05-01 or 2026-05-01T08:00:00+08:00'],
  order: ['排序', 'Order'],
  newestFirst: ['最新在前', 'Newest first'],
  oldestFirst: ['最早在前', 'Oldest first'],
  limit: ['每页条数', 'Per page'],
  find: ['查询', 'Search'],
  nextPage: ['下一页', 'Next page'],
  results: ['查询结果', 'Results'],
  sequence: ['序号', 'Sequence'],
  at: ['时间', 'Time'],
  officer: ['经办人', 'Officer'],
  caseRef: ['案卷号', 'Case reference'],
  status: ['状态码', 'Status'],
  reason: ['原因', 'Reason'],
  actor: ['操作者', 'Actor'],
  action: ['操作', 'Action'],
  open: ['查看', 'Open'],
  back: ['返回查询', 'Back to search'],
  hash: ['哈希', 'Hash'],
  prevHash: ['前一哈希', 'Previous hash'],
  eventJson: ['事件原文（JSON）', 'The event as recorded (JSON)'],
  field: ['字段', 'Field'],
  value: ['值', 'Value'],
  // chain
  verifyNow: ['立即校验', 'Verify now'],
  chainIntact: [
    '日志完整：哈希链与签名检查点一致。',
    'Intact: the hash chain and its signed checkpoints agree.',
  ],
  chainBroken: ['发现问题：日志可能被篡改。', 'Problems found: the log may have been tampered with.'],
  events: ['事件数', 'Events'],
  head: ['链头', 'Head'],
  checkpoints: ['检查点', 'Checkpoints'],
  verified: ['已验证', 'Verified'],
  lastCheckpoint: ['最近检查点', 'Last checkpoint'],
  problems: ['问题', 'Problems'],
  // subject
  subjectIntro: [
    '谁在何时、为何事项、何案卷调阅了该公民或企业的证照。证件号码只在表单中提交，不出现在网址中。',
    'Who accessed this citizen’s or company’s records, when, for which matter and case. Identifiers are posted, never put in a URL.',
  ],
  identifierType: ['证件类型', 'Identifier'],
  identifierValue: ['号码', 'Number'],
  residentIdNumber: ['居民身份证号码', 'Resident ID number'],
  unifiedSocialCreditCode: ['统一社会信用代码', 'Unified social credit code'],
  certificateNumber: ['证书编号', 'Certificate number'],
  licenceNumber: ['许可证编号', 'Licence number'],
  addIdentifier: ['再加一个证件', 'Add an identifier'],
  runReport: ['生成报告', 'Run the report'],
  print: ['打印', 'Print'],
  reportTitle: ['当事人证照调阅报告', 'Report of accesses to a subject’s records'],
  reportFor: ['查询的证件：', 'Identifiers asked about: '],
  reportMade: ['生成：', 'Made: '],
  accesses: ['调阅记录', 'Accesses'],
  // statistics
  granularity: ['时间粒度', 'Period'],
  hour: ['小时', 'Hour'],
  day: ['日', 'Day'],
  week: ['周', 'Week'],
  month: ['月', 'Month'],
  groupBy: ['分组', 'Group by'],
  show: ['统计', 'Show'],
  downloadCsv: ['下载 CSV', 'Download CSV'],
  period: ['时段', 'Period'],
  total: ['合计', 'Total'],
  granted: ['已提供', 'Granted'],
  denied: ['已拒绝', 'Denied'],
  notFound: ['未找到', 'Not found'],
  failed: ['失败', 'Failed'],
  timedOut: ['超时', 'Timed out'],
  invalid: ['无效', 'Invalid'],
  deniedByReason: ['拒绝原因', 'Denied by reason'],
  latency: ['耗时（毫秒）p50/p90/p95/p99', 'Latency (ms) p50/p90/p95/p99'],
  chartTitle: ['各时段查询结果', 'Lookup outcomes per period'],
  chartTable: ['图表数据', 'The chart’s data'],
  rowsTable: ['明细', 'Breakdown'],
  // scorecard
  providers: ['提供方部门', 'Provider departments'],
  requesters: ['申请方部门', 'Requester departments'],
  department: ['部门', 'Department'],
  lookups: ['查询数', 'Lookups'],
  withinDeadline: ['按时答复率', 'Answered within deadline'],
  availability: ['连接器可用率', 'Connector availability'],
  p50: ['耗时中位数（毫秒）', 'Median latency (ms)'],
  p95: ['p95 耗时（毫秒）', 'p95 latency (ms)'],
  schemaRejected: ['格式不合规答复', 'Schema-rejected replies'],
  // connectors
  instances: ['实例', 'Instances'],
  types: ['证照类型', 'Certificate types'],
  live: ['在线', 'Live'],
  down: ['离线', 'Down'],
  lastSeen: ['最近心跳', 'Last seen'],
  version: ['版本', 'Version'],
  registered: ['已登记的连接器', 'Registered connectors'],
  unregistered: ['未登记的实例', 'Unregistered instances'],
  instance: ['实例编号', 'Instance'],
  refresh: ['刷新', 'Refresh'],
  // reviews
  drawSample: ['抽取样本', 'Draw a sample'],
  size: ['样本量', 'Size'],
  seed: ['随机种子（可选）', 'Seed (optional)'],
  reviewers: ['评议人（逗号分隔）', 'Reviewers (comma-separated)'],
  outcomes: ['纳入的结果', 'Outcomes included'],
  samples: ['已抽取的样本', 'Samples drawn'],
  createdAt: ['抽取时间', 'Drawn at'],
  createdBy: ['抽取人', 'Drawn by'],
  reviewer: ['评议人', 'Reviewer'],
  finding: ['结论', 'Finding'],
  note: ['说明', 'Note'],
  record: ['记录', 'Record'],
  compliant: ['合规', 'Compliant'],
  'non-compliant': ['不合规', 'Non-compliant'],
  inconclusive: ['无法判断', 'Inconclusive'],
  pending: ['待评议', 'Pending'],
  summary: ['评议汇总', 'Summary'],
  publish: ['公开发布', 'Publish'],
  published: ['已发布：', 'Published: '],
  population: ['总体', 'Population'],
  reviewed: ['已评议', 'Reviewed'],
  nonCompliantAccesses: ['不合规的调阅', 'Non-compliant accesses'],
  findingRecorded: ['结论已记录。', 'Finding recorded.'],
  // public
  publicTitle: ['政务数据共享公开汇总', 'Government data sharing: public summary'],
  publicIntro: [
    '按部门汇总的数据共享情况，不含个人信息和案卷号。',
    'Data sharing by department, without personal data or case references.',
  ],
  publishedReviews: ['已公开的抽查结果', 'Published review results'],
};

const KEY = 'silobridge-console-language';
let language = localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';

export function t(key) {
  const entry = LABELS[key];
  if (!entry) return key;
  return language === 'en' ? entry[1] : entry[0];
}

export function currentLanguage() {
  return language;
}

export function setLanguage(next) {
  language = next === 'en' ? 'en' : 'zh';
  localStorage.setItem(KEY, language);
  applyLanguage();
}

/** Sets <html lang> and every static label marked data-i18n. */
export function applyLanguage(root = document) {
  document.documentElement.lang = language === 'en' ? 'en' : 'zh-CN';
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-label]'))
    node.setAttribute('aria-label', t(node.dataset.i18nLabel));
}
