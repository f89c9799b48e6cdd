// Translations (Simplified Chinese default, English) and locale-aware formatting via Intl.
// The chosen language is persisted in localStorage so it survives logins and reloads.

export type Lang = 'zh' | 'en';

const zh = {
  'app.title': '平安 · 可视化指挥台',
  'app.short': '平安指挥台',
  'nav.command': '全域态势',
  'nav.intake': '接警',
  'nav.board': '调度台',
  'nav.station': '派出所驾驶舱',
  'nav.officer': '民警视图',
  'nav.alerts': '预警',
  'nav.watches': '布控',
  'nav.search': '检索',
  'nav.audit': '审计日志',
  'nav.ledger': '存证回执',
  'nav.portal': '群众查询',
  'nav.logout': '退出',
  'lang.switch': 'English',
  'login.title': '登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.failed': '登录失败：{message}',
  'login.portal': '群众查询入口（无需登录）',
  'common.loading': '加载中…',
  'common.error': '出错了：{message}',
  'common.empty': '暂无数据',
  'common.save': '保存',
  'common.submit': '提交',
  'common.cancel': '取消',
  'common.search': '搜索',
  'common.refresh': '刷新',
  'common.all': '全部',
  'common.open': '打开',
  'common.back': '返回',
  'common.total': '共 {n} 条',
  'common.prev': '上一页',
  'common.next': '下一页',
  'common.forbidden': '当前角色无权访问此页面',
  'common.live': '实时',
  'common.offline': '连接中断，正在重连',
  'priority.P1': '一级',
  'priority.P2': '二级',
  'priority.P3': '三级',
  'priority.P4': '四级',
  'ustatus.available': '空闲',
  'ustatus.dispatched': '已派',
  'ustatus.en_route': '途中',
  'ustatus.on_scene': '到场',
  'ustatus.busy': '忙碌',
  'ustatus.off_duty': '下班',
  'istatus.created': '新建',
  'istatus.classified': '已定级',
  'istatus.diverted': '已分流',
  'istatus.dispatched': '已派警',
  'istatus.acknowledged': '已接单',
  'istatus.en_route': '出警途中',
  'istatus.on_scene': '已到场',
  'istatus.cleared': '已处置',
  'istatus.closed': '已结案',
  'ukind.patrol_car': '巡逻车',
  'ukind.foot_patrol': '步巡',
  'ukind.motorcycle': '摩托',
  'ukind.grid_worker': '网格员',
  'ukind.volunteer': '志愿者',
  'ukind.drone': '无人机',
  'map.layers': '图层',
  'map.incidents': '警情',
  'map.units': '警力',
  'map.alerts': '预警',
  'map.sensors': '感知设备',
  'map.borders': '辖区边界',
  'map.heat': '警情热力',
  'map.crowd': '人流热力',
  'map.noWebgl': '地图无法显示（浏览器不支持 WebGL）',
  'map.pick': '点击地图选取位置',
  'kpi.today': '今日概况',
  'kpi.calls': '接警',
  'kpi.incidents': '警情',
  'kpi.dispatched': '派警',
  'kpi.arrived': '到场',
  'kpi.medianDispatch': '派警中位时长',
  'kpi.medianArrival': '到场中位时长',
  'kpi.vsTarget': '时效对比目标',
  'kpi.target': '目标',
  'kpi.actual': '实际',
  'kpi.trend': '同比趋势',
  'kpi.thisYear': '今年',
  'kpi.lastYear': '去年同期',
  'kpi.topTypes': '高发警情类型',
  'kpi.openIncidents': '未结警情',
  'kpi.unitsAvailable': '空闲警力',
  'kpi.openAlerts': '待处理预警',
  'intake.title': '接警登记',
  'intake.channel': '来源渠道',
  'intake.phone': '报警电话',
  'intake.name': '报警人（选填）',
  'intake.description': '警情描述',
  'intake.address': '地址',
  'intake.location': '位置',
  'intake.pickOnMap': '在地图上点选',
  'intake.noLocation': '未选择位置',
  'intake.submit': '登记警情',
  'intake.suggestion': '系统研判',
  'intake.confidence': '置信度',
  'intake.confirm': '确认定级',
  'intake.duplicates': '疑似重复警情',
  'intake.duplicateLine': '{number} · 相距 {distance} · {minutes} 分钟前',
  'intake.noDuplicates': '未发现重复警情',
  'intake.divert': '一键分流',
  'intake.divertTo': '分流至',
  'intake.diverted': '已分流至 {to}',
  'intake.created': '已登记警情 {number}',
  'intake.openIncident': '打开警情处置页',
  'board.title': '警情列表',
  'board.status': '状态',
  'board.priority': '等级',
  'board.openOnly': '仅未结',
  'board.number': '警情编号',
  'board.type': '类型',
  'board.address': '地址',
  'board.station': '辖区',
  'board.created': '接警时间',
  'board.units': '警力',
  'incident.title': '警情 {number}',
  'incident.timeline': '处置时间线',
  'incident.recommend': '推荐警力',
  'incident.eta': '预计到达',
  'incident.distance': '距离',
  'incident.firstResponder': '先期处置',
  'incident.dispatch': '派警',
  'incident.dispatchTop': '一键派警',
  'incident.dispatched': '已派 {callsign}',
  'incident.transfer': '移交',
  'incident.transferTo': '移交单位',
  'incident.reason': '原因',
  'incident.close': '结案',
  'incident.disposition': '处置结果',
  'incident.caller': '报警人',
  'incident.assigned': '已派警力',
  'incident.reclassify': '修改定级',
  'station.title': '{name} 驾驶舱',
  'station.units': '本所警力',
  'station.incidents': '本所未结警情',
  'station.alerts': '本所预警',
  'officer.title': '我的任务',
  'officer.unit': '我的警力编号',
  'officer.assignments': '我的任务',
  'officer.ack': '接单',
  'officer.depart': '出发',
  'officer.arrive': '到场',
  'officer.clear': '处置完毕',
  'officer.myAlerts': '我的预警',
  'officer.none': '当前无任务',
  'alerts.title': '预警收件箱',
  'alerts.ack': '签收',
  'alerts.verify': '核实',
  'alerts.close': '关闭',
  'alerts.outcome': '核查结论',
  'alerts.truePositive': '属实',
  'alerts.falsePositive': '误报',
  'alerts.note': '备注',
  'alerts.rule': '规则',
  'alerts.summary': '摘要',
  'watch.title': '新建布控',
  'watch.targetKind': '对象类型',
  'watch.targetValue': '对象标识',
  'watch.legalBasis': '法律依据',
  'watch.caseRef': '案件编号',
  'watch.startsAt': '开始时间',
  'watch.expiresAt': '到期时间',
  'watch.priority': '预警等级',
  'watch.notifyOrgs': '通知单位',
  'watch.created': '布控已创建',
  'watch.list': '现有布控',
  'search.title': '实体检索',
  'search.query': '关键词',
  'search.purpose': '查询事由（必填，将记入审计）',
  'search.category': '类别',
  'audit.title': '审计日志',
  'audit.user': '用户',
  'audit.object': '对象',
  'audit.from': '起',
  'audit.to': '止',
  'audit.action': '操作',
  'audit.purpose': '事由',
  'audit.outcome': '结果',
  'ledger.title': '存证回执查询',
  'ledger.code': '回执编号',
  'ledger.checkpoint': '最新签名检查点',
  'portal.title': '警情办理进度查询',
  'portal.code': '查询码',
  'portal.phone4': '报警电话后四位',
  'portal.query': '查询',
  'portal.hint': '输入受理时获得的查询码和报警电话后四位即可查看办理进度。',
  'v.required': '此项为必填',
  'v.phone': '请输入有效的电话号码',
  'v.tooShort': '至少需要 {n} 个字符',
  'v.location': '请填写地址或在地图上选取位置',
  'v.expiryPast': '到期时间必须晚于开始时间和当前时间',
  'v.expiryTooLong': '布控期限不得超过 {days} 天',
  'v.date': '请输入有效的日期时间',
  'v.phone4': '请输入 4 位数字',
  'time.s': '{n} 秒',
  'time.m': '{m} 分 {s} 秒',
  'time.h': '{h} 小时 {m} 分',
} as const;

export type Key = keyof typeof zh;

const en: Record<Key, string> = {
  'app.title': 'pingan · Command Console',
  'app.short': 'pingan console',
  'nav.command': 'City view',
  'nav.intake': 'Call taking',
  'nav.board': 'Dispatch board',
  'nav.station': 'Station cockpit',
  'nav.officer': 'Officer view',
  'nav.alerts': 'Alerts',
  'nav.watches': 'Watches',
  'nav.search': 'Search',
  'nav.audit': 'Audit log',
  'nav.ledger': 'Ledger receipts',
  'nav.portal': 'Citizen portal',
  'nav.logout': 'Log out',
  'lang.switch': '中文',
  'login.title': 'Sign in',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.failed': 'Sign-in failed: {message}',
  'login.portal': 'Citizen portal (no sign-in)',
  'common.loading': 'Loading…',
  'common.error': 'Error: {message}',
  'common.empty': 'Nothing here',
  'common.save': 'Save',
  'common.submit': 'Submit',
  'common.cancel': 'Cancel',
  'common.search': 'Search',
  'common.refresh': 'Refresh',
  'common.all': 'All',
  'common.open': 'Open',
  'common.back': 'Back',
  'common.total': '{n} in total',
  'common.prev': 'Previous',
  'common.next': 'Next',
  'common.forbidden': 'Your role may not open this page',
  'common.live': 'Live',
  'common.offline': 'Connection lost, reconnecting',
  'priority.P1': 'P1',
  'priority.P2': 'P2',
  'priority.P3': 'P3',
  'priority.P4': 'P4',
  'ustatus.available': 'Available',
  'ustatus.dispatched': 'Dispatched',
  'ustatus.en_route': 'En route',
  'ustatus.on_scene': 'On scene',
  'ustatus.busy': 'Busy',
  'ustatus.off_duty': 'Off duty',
  'istatus.created': 'Created',
  'istatus.classified': 'Classified',
  'istatus.diverted': 'Diverted',
  'istatus.dispatched': 'Dispatched',
  'istatus.acknowledged': 'Acknowledged',
  'istatus.en_route': 'En route',
  'istatus.on_scene': 'On scene',
  'istatus.cleared': 'Cleared',
  'istatus.closed': 'Closed',
  'ukind.patrol_car': 'Patrol car',
  'ukind.foot_patrol': 'Foot patrol',
  'ukind.motorcycle': 'Motorcycle',
  'ukind.grid_worker': 'Grid worker',
  'ukind.volunteer': 'Volunteer',
  'ukind.drone': 'Drone',
  'map.layers': 'Layers',
  'map.incidents': 'Incidents',
  'map.units': 'Units',
  'map.alerts': 'Alerts',
  'map.sensors': 'Sensors',
  'map.borders': 'Jurisdictions',
  'map.heat': 'Incident heat',
  'map.crowd': 'Crowd density',
  'map.noWebgl': 'The map cannot be shown (no WebGL in this browser)',
  'map.pick': 'Click the map to pick a location',
  'kpi.today': 'Today',
  'kpi.calls': 'Calls',
  'kpi.incidents': 'Incidents',
  'kpi.dispatched': 'Dispatched',
  'kpi.arrived': 'Arrived',
  'kpi.medianDispatch': 'Median call→dispatch',
  'kpi.medianArrival': 'Median dispatch→arrival',
  'kpi.vsTarget': 'Response times vs target',
  'kpi.target': 'Target',
  'kpi.actual': 'Actual',
  'kpi.trend': 'Year over year',
  'kpi.thisYear': 'This year',
  'kpi.lastYear': 'Last year',
  'kpi.topTypes': 'Top incident types',
  'kpi.openIncidents': 'Open incidents',
  'kpi.unitsAvailable': 'Units available',
  'kpi.openAlerts': 'Open alerts',
  'intake.title': 'New call',
  'intake.channel': 'Channel',
  'intake.phone': 'Caller phone',
  'intake.name': 'Caller name (optional)',
  'intake.description': 'Description',
  'intake.address': 'Address',
  'intake.location': 'Location',
  'intake.pickOnMap': 'Pick on map',
  'intake.noLocation': 'No location picked',
  'intake.submit': 'Register call',
  'intake.suggestion': 'Suggested classification',
  'intake.confidence': 'Confidence',
  'intake.confirm': 'Confirm classification',
  'intake.duplicates': 'Possible duplicates',
  'intake.duplicateLine': '{number} · {distance} away · {minutes} min ago',
  'intake.noDuplicates': 'No duplicates found',
  'intake.divert': 'Divert',
  'intake.divertTo': 'Divert to',
  'intake.diverted': 'Diverted to {to}',
  'intake.created': 'Registered incident {number}',
  'intake.openIncident': 'Open incident page',
  'board.title': 'Incidents',
  'board.status': 'Status',
  'board.priority': 'Priority',
  'board.openOnly': 'Open only',
  'board.number': 'Number',
  'board.type': 'Type',
  'board.address': 'Address',
  'board.station': 'Station',
  'board.created': 'Received',
  'board.units': 'Units',
  'incident.title': 'Incident {number}',
  'incident.timeline': 'Timeline',
  'incident.recommend': 'Recommended units',
  'incident.eta': 'ETA',
  'incident.distance': 'Distance',
  'incident.firstResponder': 'First responder',
  'incident.dispatch': 'Dispatch',
  'incident.dispatchTop': 'Dispatch recommended',
  'incident.dispatched': 'Dispatched {callsign}',
  'incident.transfer': 'Transfer',
  'incident.transferTo': 'Transfer to',
  'incident.reason': 'Reason',
  'incident.close': 'Close',
  'incident.disposition': 'Disposition',
  'incident.caller': 'Caller',
  'incident.assigned': 'Assigned units',
  'incident.reclassify': 'Reclassify',
  'station.title': '{name} cockpit',
  'station.units': 'Station units',
  'station.incidents': 'Open incidents',
  'station.alerts': 'Station alerts',
  'officer.title': 'My assignments',
  'officer.unit': 'My unit',
  'officer.assignments': 'My assignments',
  'officer.ack': 'Acknowledge',
  'officer.depart': 'En route',
  'officer.arrive': 'Arrived',
  'officer.clear': 'Clear',
  'officer.myAlerts': 'My alerts',
  'officer.none': 'No assignments',
  'alerts.title': 'Alerts inbox',
  'alerts.ack': 'Acknowledge',
  'alerts.verify': 'Verify',
  'alerts.close': 'Close',
  'alerts.outcome': 'Outcome',
  'alerts.truePositive': 'True positive',
  'alerts.falsePositive': 'False positive',
  'alerts.note': 'Note',
  'alerts.rule': 'Rule',
  'alerts.summary': 'Summary',
  'watch.title': 'New watch',
  'watch.targetKind': 'Target kind',
  'watch.targetValue': 'Target identifier',
  'watch.legalBasis': 'Legal basis',
  'watch.caseRef': 'Case reference',
  'watch.startsAt': 'Starts at',
  'watch.expiresAt': 'Expires at',
  'watch.priority': 'Alert priority',
  'watch.notifyOrgs': 'Notify units',
  'watch.created': 'Watch created',
  'watch.list': 'Existing watches',
  'search.title': 'Entity search',
  'search.query': 'Query',
  'search.purpose': 'Purpose (required, audited)',
  'search.category': 'Category',
  'audit.title': 'Audit log',
  'audit.user': 'User',
  'audit.object': 'Object',
  'audit.from': 'From',
  'audit.to': 'To',
  'audit.action': 'Action',
  'audit.purpose': 'Purpose',
  'audit.outcome': 'Outcome',
  'ledger.title': 'Ledger receipt lookup',
  'ledger.code': 'Receipt code',
  'ledger.checkpoint': 'Latest signed checkpoint',
  'portal.title': 'Case progress lookup',
  'portal.code': 'Case code',
  'portal.phone4': 'Last 4 digits of your phone',
  'portal.query': 'Look up',
  'portal.hint': 'Enter the case code you were given and the last four digits of the phone you called from.',
  'v.required': 'Required',
  'v.phone': 'Enter a valid phone number',
  'v.tooShort': 'At least {n} characters',
  'v.location': 'Enter an address or pick a location on the map',
  'v.expiryPast': 'Expiry must be after the start and after now',
  'v.expiryTooLong': 'A watch may last at most {days} days',
  'v.date': 'Enter a valid date and time',
  'v.phone4': 'Enter 4 digits',
  'time.s': '{n} s',
  'time.m': '{m} min {s} s',
  'time.h': '{h} h {m} min',
};

const dictionaries: Record<Lang, Record<Key, string>> = { zh, en };
const STORAGE_KEY = 'pingan.lang';

/** Minimal storage interface so tests can run without a browser. */
export interface KeyValueStore { getItem(k: string): string | null; setItem(k: string, v: string): void }

function defaultStorage(): KeyValueStore | null {
  try { return typeof localStorage === 'undefined' ? null : localStorage; } catch { return null; }
}

let current: Lang = 'zh';
const listeners = new Set<(l: Lang) => void>();

/** Reads the persisted language; anything unknown falls back to Chinese, the default. */
export function loadLang(storage: KeyValueStore | null = defaultStorage()): Lang {
  const saved = storage?.getItem(STORAGE_KEY);
  current = saved === 'en' ? 'en' : 'zh';
  return current;
}

export function lang(): Lang { return current; }

export function setLang(l: Lang, storage: KeyValueStore | null = defaultStorage()): void {
  current = l;
  storage?.setItem(STORAGE_KEY, l);
  if (typeof document !== 'undefined') document.documentElement.lang = locale();
  for (const f of listeners) f(l);
}

export function onLangChange(f: (l: Lang) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** BCP 47 tag handed to Intl. */
export function locale(l: Lang = current): string { return l === 'zh' ? 'zh-CN' : 'en-GB'; }

/** Translates `key`, substituting `{name}` placeholders; unknown placeholders stay visible. */
export function t(key: Key, params: Record<string, string | number> = {}, l: Lang = current): string {
  const template = dictionaries[l][key] ?? zh[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** True if `key` names a translation; used for keys built from server enums (statuses, kinds). */
export function hasKey(key: string): key is Key { return key in zh; }

/** Translates an enum value from the server, e.g. `tEnum('ustatus', 'en_route')`; unknown values show raw. */
export function tEnum(prefix: string, value: string | null | undefined): string {
  if (value == null) return '—';
  const k = `${prefix}.${value}`;
  return hasKey(k) ? t(k) : value;
}

export function formatNumber(n: number | null | undefined, l: Lang = current): string {
  if (n == null || Number.isNaN(n)) return '—';
  return new Intl.NumberFormat(locale(l)).format(n);
}

export function formatPercent(ratio: number | null | undefined, l: Lang = current): string {
  if (ratio == null || Number.isNaN(ratio)) return '—';
  return new Intl.NumberFormat(locale(l), { style: 'percent', maximumFractionDigits: 0 }).format(ratio);
}

/** Formats an RFC 3339 instant in the given time zone (Asia/Shanghai for the city by default). */
export function formatDateTime(iso: string | null | undefined, l: Lang = current, timeZone = 'Asia/Shanghai'): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale(l), {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    hour12: false, timeZone,
  }).format(d);
}

export function formatTime(iso: string | null | undefined, l: Lang = current, timeZone = 'Asia/Shanghai'): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale(l), { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone }).format(d);
}

/** Seconds as "3 分 20 秒" / "3 min 20 s"; negative or missing values show a dash. */
export function formatDuration(seconds: number | null | undefined, l: Lang = current): string {
  if (seconds == null || Number.isNaN(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return t('time.s', { n: s }, l);
  if (s < 3600) return t('time.m', { m: Math.floor(s / 60), s: s % 60 }, l);
  return t('time.h', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) }, l);
}

/** Metres below 1 km, kilometres with one decimal above; unit names localised by Intl. */
export function formatDistance(metres: number | null | undefined, l: Lang = current): string {
  if (metres == null || Number.isNaN(metres) || metres < 0) return '—';
  if (metres < 1000) {
    return new Intl.NumberFormat(locale(l), { style: 'unit', unit: 'meter', maximumFractionDigits: 0 }).format(Math.round(metres));
  }
  return new Intl.NumberFormat(locale(l), { style: 'unit', unit: 'kilometer', maximumFractionDigits: 1 }).format(metres / 1000);
}
