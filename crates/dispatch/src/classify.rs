//! Call classification: Chinese free text → suggested incident type, priority,
//! confidence and the evidence behind it.
//!
//! Two signals are combined: hand-written keyword rules (precise, explainable,
//! work with no training data) and a multinomial naive Bayes model trained at
//! start-up from the labelled corpus (`data/calls.tsv`), over jieba words plus
//! CJK character bigrams (bigrams keep the model robust to typos and to words the
//! dictionary splits differently). Priority starts from the type's default and is
//! raised by escalator cues (weapons, blood, unconsciousness, trapped people …).

use std::collections::{BTreeMap, HashMap, HashSet};

use jieba_rs::Jieba;

use crate::taxonomy::{Priority, Taxonomy, TaxonomyError};

/// The labelled corpus shipped with the crate (`type_code \t priority \t text`).
pub const BUILTIN_CORPUS: &str = include_str!("../data/calls.tsv");

/// One labelled call description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledCall {
    pub type_code: String,
    pub priority: Priority,
    pub text: String,
}

/// Errors from loading a corpus or training a classifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error("corpus line {line}: expected 3 tab-separated columns, found {found}")]
    BadColumns { line: usize, found: usize },
    #[error("corpus line {line}: {source}")]
    BadPriority {
        line: usize,
        #[source]
        source: TaxonomyError,
    },
    #[error("corpus line {line}: unknown type code {code:?}")]
    UnknownType { line: usize, code: String },
    #[error("corpus line {line}: type {code:?} has children; label calls with leaf types")]
    NotLeaf { line: usize, code: String },
    #[error("corpus line {line}: empty text")]
    EmptyText { line: usize },
    #[error("training set is empty")]
    EmptyTrainingSet,
    #[error("training label {code:?} is not a leaf type of the taxonomy")]
    UnknownLabel { code: String },
}

/// Parses a TSV corpus; `#` lines and blank lines are skipped. Every label must
/// be a leaf of `taxonomy`.
pub fn parse_corpus(tsv: &str, taxonomy: &Taxonomy) -> Result<Vec<LabelledCall>, ClassifyError> {
    let leaves: HashSet<&str> = taxonomy.leaves().map(|t| t.code()).collect();
    let mut out = Vec::new();
    for (i, raw) in tsv.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = raw.split('\t').collect();
        if cols.len() != 3 {
            return Err(ClassifyError::BadColumns {
                line,
                found: cols.len(),
            });
        }
        let code = cols[0].trim();
        if taxonomy.get(code).is_none() {
            return Err(ClassifyError::UnknownType {
                line,
                code: code.to_string(),
            });
        }
        if !leaves.contains(code) {
            return Err(ClassifyError::NotLeaf {
                line,
                code: code.to_string(),
            });
        }
        let priority = cols[1]
            .parse::<Priority>()
            .map_err(|source| ClassifyError::BadPriority { line, source })?;
        let text = cols[2].trim();
        if text.is_empty() {
            return Err(ClassifyError::EmptyText { line });
        }
        out.push(LabelledCall {
            type_code: code.to_string(),
            priority,
            text: text.to_string(),
        });
    }
    Ok(out)
}

/// FNV-1a, used only to order rows deterministically for splitting.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Stratified deterministic k-fold assignment: within each type, rows are ordered
/// by a hash of their text and dealt round-robin into `k` folds, so every fold
/// holds every type in proportion. Returns `(train, test)` for fold `test_fold`.
///
/// # Panics
/// If `k < 2` or `test_fold >= k`.
pub fn split_fold(
    calls: &[LabelledCall],
    k: usize,
    test_fold: usize,
) -> (Vec<LabelledCall>, Vec<LabelledCall>) {
    assert!(k >= 2 && test_fold < k, "need k >= 2 and test_fold < k");
    let mut by_type: BTreeMap<&str, Vec<&LabelledCall>> = BTreeMap::new();
    for c in calls {
        by_type.entry(&c.type_code).or_default().push(c);
    }
    let mut train = Vec::new();
    let mut test = Vec::new();
    for rows in by_type.values_mut() {
        rows.sort_by_key(|c| (fnv1a(&c.text), c.text.clone()));
        for (i, c) in rows.iter().enumerate() {
            if i % k == test_fold {
                test.push((*c).clone());
            } else {
                train.push((*c).clone());
            }
        }
    }
    (train, test)
}

/// Why the classifier suggested what it did.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// A rule keyword found in the text, voting for `type_code`.
    Keyword {
        word: String,
        type_code: String,
        weight: f64,
    },
    /// A model feature that most favours the chosen type (log-likelihood ratio
    /// against the runner-up).
    ModelFeature { feature: String, weight: f64 },
    /// A danger cue; `from == to` when the priority was already that high.
    Escalator {
        word: String,
        cue: EscalatorCue,
        from: Priority,
        to: Priority,
    },
}

/// Kinds of priority escalation cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscalatorCue {
    Weapon,
    Blood,
    Unconscious,
    Trapped,
    FireSpreading,
    Child,
    DomesticViolence,
    InProgress,
}

impl EscalatorCue {
    pub fn code(self) -> &'static str {
        match self {
            EscalatorCue::Weapon => "weapon",
            EscalatorCue::Blood => "blood",
            EscalatorCue::Unconscious => "unconscious",
            EscalatorCue::Trapped => "trapped",
            EscalatorCue::FireSpreading => "fire_spreading",
            EscalatorCue::Child => "child",
            EscalatorCue::DomesticViolence => "domestic_violence",
            EscalatorCue::InProgress => "in_progress",
        }
    }
}

/// The classifier's suggestion; the call taker confirms or overrides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub type_code: String,
    pub priority: Priority,
    /// Posterior probability of `type_code` under the combined score, 0–1.
    pub confidence: f64,
    /// Up to three runner-up types with their probabilities.
    pub alternatives: Vec<(String, f64)>,
    pub evidence: Vec<Evidence>,
}

/// Tunables of the combination; the defaults were chosen by cross-validation on
/// the training folds only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierConfig {
    /// Additive (Lidstone) smoothing of feature counts.
    pub smoothing: f64,
    /// Weight of one unit of rule score relative to one nat of model log-odds.
    pub rule_weight: f64,
    /// Temperature that flattens the naive Bayes log posterior (its independence
    /// assumption makes raw posteriors over-confident).
    pub model_temperature: f64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            smoothing: 0.3,
            rule_weight: 4.0,
            model_temperature: 10.0,
        }
    }
}

struct Escalator {
    cue: EscalatorCue,
    words: &'static [&'static str],
    /// `None`: set to P1. `Some(())`: raise one level.
    to_p1: bool,
    /// Top-level categories the cue applies to; empty = all.
    roots: &'static [&'static str],
}

// Cues are scoped to categories where the word really signals danger: "孩子" in a
// noise complaint or "被困" in a car park is not an emergency.
const ESCALATORS: &[Escalator] = &[
    Escalator {
        cue: EscalatorCue::Weapon,
        words: &[
            "刀", "砍", "捅", "枪", "持械", "棍", "棒", "匕首", "铁锹", "砖头", "酒瓶",
        ],
        to_p1: true,
        roots: &["criminal", "public_order", "dispute"],
    },
    Escalator {
        cue: EscalatorCue::Blood,
        words: &["流血", "出血", "血"],
        to_p1: true,
        roots: &["criminal", "public_order", "dispute", "traffic", "medical"],
    },
    Escalator {
        cue: EscalatorCue::Unconscious,
        words: &[
            "昏迷",
            "晕倒",
            "晕过去",
            "不省人事",
            "没有意识",
            "没意识",
            "叫不醒",
            "没有反应",
            "没反应",
            "没有呼吸",
            "不动了",
        ],
        to_p1: true,
        roots: &[
            "criminal",
            "public_order",
            "dispute",
            "traffic",
            "medical",
            "fire",
        ],
    },
    Escalator {
        cue: EscalatorCue::Trapped,
        words: &["被困", "困住", "困在", "出不来", "卡在"],
        to_p1: true,
        roots: &["fire", "traffic", "medical"],
    },
    Escalator {
        cue: EscalatorCue::FireSpreading,
        words: &["蔓延", "越烧越大", "火很大", "浓烟", "火势"],
        to_p1: true,
        roots: &[],
    },
    Escalator {
        cue: EscalatorCue::Child,
        words: &[
            "孩子",
            "小孩",
            "儿童",
            "男孩",
            "女孩",
            "婴儿",
            "宝宝",
            "小学生",
        ],
        to_p1: false,
        roots: &["missing_person"],
    },
    Escalator {
        cue: EscalatorCue::DomesticViolence,
        words: &["家暴", "掐", "打我"],
        to_p1: false,
        roots: &["dispute"],
    },
    Escalator {
        cue: EscalatorCue::InProgress,
        words: &["正在"],
        to_p1: false,
        roots: &["criminal"],
    },
];

/// Built-in keyword rules: leaf type → (keyword, weight). Strong, specific words
/// weigh more than words that also occur in other types.
#[rustfmt::skip]
const RULES: &[(&str, &[(&str, f64)])] = &[
    ("criminal.theft", &[("偷", 1.0), ("被盗", 0.5), ("扒", 1.0), ("小偷", 1.0), ("顺走", 1.0), ("摸走", 1.0), ("冒领", 1.0), ("拿走", 0.5), ("不见了", 0.3), ("撬锁", 0.5), ("剪断", 0.5), ("没付钱", 1.0)]),
    ("criminal.burglary", &[("入室", 1.5), ("撬门", 1.0), ("撬了", 0.5), ("撬开", 0.5), ("进贼", 2.0), ("遭贼", 2.0), ("进了贼", 2.0), ("进小偷", 2.0), ("翻乱", 1.0), ("翻得", 1.0), ("被翻", 1.0), ("防盗网", 1.0), ("门锁被撬", 1.5), ("家里被", 0.5), ("窗户进来", 1.5), ("爬进", 1.5), ("保险柜", 0.5), ("卷帘门", 0.5), ("仓库", 0.5), ("宿舍被盗", 1.5)]),
    ("criminal.robbery", &[("抢劫", 1.5), ("抢了", 1.0), ("被抢", 1.5), ("抢走", 1.0), ("飞车", 1.0), ("抢夺", 1.5), ("抢包", 1.5), ("逼我", 1.0), ("要钱", 0.5), ("抵着", 1.0)]),
    ("criminal.assault", &[("被人打", 1.0), ("砍人", 1.5), ("捅", 1.0), ("打伤", 1.0), ("砸了", 0.5), ("打了", 0.5), ("泼", 1.0), ("被打", 0.5), ("砍", 0.5), ("把我打", 1.0), ("打我", 0.5), ("拿刀", 0.5), ("故意撞", 1.0), ("追着人", 1.0)]),
    ("criminal.fraud", &[("骗", 1.5), ("诈骗", 1.5), ("安全账户", 1.5), ("刷单", 1.5), ("冒充", 1.0), ("验证码", 1.0), ("链接", 1.0), ("客服", 0.5), ("投资", 1.0), ("提现", 1.0), ("杀猪盘", 1.5), ("假币", 1.0), ("转账", 1.0), ("转了", 1.0), ("跑路", 0.5), ("收了", 0.5), ("假的", 0.3), ("理财", 1.0), ("拉黑", 1.0), ("忽悠", 1.0)]),
    ("public_order.fight", &[("打架", 1.5), ("打起来", 1.5), ("斗殴", 1.5), ("群架", 1.5), ("扭打", 1.5), ("打一个", 1.5), ("围着打", 1.0), ("喊救命", 1.0), ("两伙", 1.0), ("几个人", 0.3)]),
    ("public_order.gambling", &[("赌博", 1.5), ("赌场", 1.5), ("聚赌", 1.5), ("赌钱", 1.5), ("炸金花", 1.5), ("牌九", 1.5), ("赌球", 1.5), ("赌", 0.5), ("押分", 1.5), ("窝点", 1.0), ("输赢", 1.0)]),
    ("public_order.disturbance", &[("闹事", 1.5), ("醉汉", 1.5), ("醉鬼", 1.5), ("酒鬼", 1.5), ("喝醉", 0.5), ("喝多", 0.5), ("酒疯", 1.5), ("滋事", 1.5), ("找茬", 1.0), ("骚扰", 1.0), ("跟踪", 1.0), ("大喊大叫", 0.5), ("闹", 0.5), ("飙车", 1.0), ("拦着", 0.5), ("霸王餐", 1.5), ("拉客", 1.0), ("动手动脚", 1.5), ("砸东西", 0.5)]),
    ("traffic.accident_injury", &[("车祸", 1.0), ("被车撞", 1.5), ("撞倒", 1.0), ("撞飞", 1.5), ("受伤", 1.0), ("救护车", 0.5), ("撞了人", 1.5), ("伤", 0.3), ("困住", 1.0), ("卡在车里", 1.5), ("翻了", 0.5), ("摔倒", 0.3), ("压住", 1.0), ("车底", 1.0), ("撞了个人", 1.5), ("掉进", 0.5), ("骨折", 1.0), ("出事故", 0.5)]),
    ("traffic.accident", &[("追尾", 1.0), ("剐蹭", 1.5), ("刮了", 1.0), ("蹭了", 1.0), ("撞了", 0.5), ("定责", 1.5), ("保险", 1.0), ("事故", 0.5), ("擦了", 1.0), ("刮花", 1.0), ("碰了", 1.0), ("没事", 0.5), ("私了", 1.0), ("赔", 0.5), ("撞坏", 1.0), ("撞到", 0.5), ("车被", 0.5)]),
    ("traffic.congestion", &[("堵车", 1.5), ("堵死", 1.5), ("拥堵", 1.5), ("信号灯", 1.0), ("红绿灯", 0.5), ("疏导", 1.0), ("排了", 0.5), ("堵得", 1.0), ("瘫痪", 1.5), ("排队", 1.0), ("没人指挥", 1.5), ("过不去", 0.5), ("堵了", 0.5), ("一锅粥", 1.5)]),
    ("traffic.obstruction", &[("挪车", 2.0), ("挡住", 1.0), ("挡在", 1.0), ("挡着", 1.0), ("堵住", 0.5), ("车主", 1.0), ("违停", 1.5), ("乱停", 1.0), ("消防通道", 1.0), ("占道", 1.0), ("车位", 0.5), ("停在", 0.5), ("堵着", 0.5), ("出不去", 1.0), ("停满", 1.0), ("占了", 0.5)]),
    ("fire", &[("着火", 2.0), ("起火", 2.0), ("冒烟", 1.5), ("火势", 1.5), ("浓烟", 1.5), ("火灾", 2.0), ("冒火", 1.5), ("焦味", 1.0), ("烧", 0.5), ("烟很大", 1.5), ("火", 0.5), ("烟", 0.5)]),
    ("medical", &[("晕倒", 1.0), ("没有反应", 1.0), ("叫不醒", 1.0), ("心脏病", 1.5), ("抽搐", 1.5), ("呼吸", 1.0), ("中风", 1.5), ("溺水", 1.5), ("中暑", 1.5), ("过敏", 1.5), ("摔倒", 1.0), ("晕过去", 1.0), ("中毒", 1.5), ("发烧", 1.5), ("抽筋", 1.5), ("喘", 1.0), ("要生了", 2.0), ("噎住", 1.5), ("触电", 1.5), ("误吃", 1.5), ("头晕", 1.0), ("生病", 1.0), ("摔下来", 1.0), ("咬", 0.5), ("蛰", 1.0), ("医院", 0.3), ("倒下", 1.0), ("倒在地上", 0.5), ("一动不动", 1.0)]),
    ("dispute.family", &[("老公", 1.0), ("老婆", 0.5), ("婆婆", 1.0), ("家暴", 1.5), ("离婚", 1.0), ("儿媳", 1.0), ("媳妇", 1.0), ("丈夫", 1.0), ("前夫", 1.0), ("吵架", 0.5), ("赡养", 1.5), ("娘家", 1.0), ("兄弟", 0.5), ("我爸", 0.5), ("我妈", 0.5), ("家里", 0.3), ("继父", 1.0), ("姐夫", 1.0), ("男朋友", 0.5), ("彩礼", 1.0), ("分老房子", 1.0), ("小两口", 1.5), ("母子", 1.0), ("孙子", 0.5)]),
    ("dispute.neighbour", &[("邻居", 1.5), ("漏水", 1.0), ("宅基地", 1.5), ("邻里", 1.5), ("楼道", 0.5), ("隔壁", 0.5), ("楼上", 0.3), ("楼下", 0.3), ("占我家", 1.0), ("门口", 0.2), ("对门", 1.0), ("围墙", 1.0)]),
    ("dispute.labour", &[("工资", 1.5), ("欠薪", 1.5), ("讨薪", 1.5), ("工钱", 1.5), ("包工头", 1.5), ("工头", 1.0), ("辞退", 1.0), ("劳动合同", 1.5), ("社保", 1.0), ("工伤", 1.0), ("工程款", 1.5), ("老板", 0.5), ("工人", 1.0), ("离职", 1.0), ("加班", 1.0), ("雇主", 1.0), ("维权", 1.0), ("站长", 0.5)]),
    ("dispute.consumer", &[("退货", 1.5), ("退款", 1.0), ("不退", 1.0), ("退钱", 1.0), ("质量问题", 1.5), ("商家", 1.0), ("店家", 1.0), ("办卡", 1.0), ("多收", 1.5), ("宰", 1.0), ("赔", 0.3), ("买的", 0.5), ("消费", 1.0), ("收费", 1.0), ("会员", 0.5), ("退学费", 1.5), ("假的", 0.5), ("翻新机", 1.5), ("不认账", 1.0), ("过期", 1.0), ("不负责", 1.0), ("推卸责任", 1.0), ("不给赔", 1.0), ("结账", 1.0), ("店", 0.3)]),
    ("missing_person", &[("走丢", 2.0), ("走失", 2.0), ("不见了", 1.0), ("走散", 2.0), ("失联", 1.5), ("没回来", 1.5), ("没回家", 1.5), ("联系不上", 1.0), ("找不到", 0.5), ("痴呆", 1.5), ("阿尔茨海默", 1.5), ("离家出走", 1.5), ("糊涂", 1.0), ("记不住路", 1.5), ("找家长", 1.5), ("说不清楚", 1.0), ("一转眼", 1.0), ("接走", 1.0), ("没回宿舍", 1.5)]),
    ("noise", &[("吵", 0.5), ("噪音", 1.5), ("声音", 1.0), ("扰民", 1.5), ("睡不着", 1.5), ("半夜", 0.5), ("深夜", 0.5), ("音响", 1.0), ("喇叭", 1.0), ("音乐", 1.0), ("凌晨", 0.5), ("大声", 1.0), ("施工", 1.0), ("装修", 0.5), ("鞭炮", 1.5), ("唱歌", 1.0), ("一直叫", 1.0), ("打桩", 1.5), ("钢琴", 1.5), ("电钻", 1.5), ("跺脚", 1.5), ("轰油门", 1.5), ("喧哗", 1.5)]),
    ("suspicious.person", &[("可疑", 0.5), ("鬼鬼祟祟", 1.5), ("徘徊", 1.5), ("陌生", 1.0), ("转悠", 1.5), ("形迹", 1.5), ("转来转去", 1.5), ("不认识的人", 1.0), ("转了好几圈", 1.5), ("往里看", 1.5), ("一直跟着", 1.0), ("搭话", 1.0), ("拍照", 1.0), ("做记号", 1.5), ("乱窜", 1.5), ("望远镜", 1.5), ("冒充", 0.5), ("一个个看", 1.0), ("一辆一辆", 1.0)]),
    ("suspicious.object", &[("可疑的箱子", 1.5), ("行李箱", 1.0), ("认领", 1.5), ("炮弹", 1.5), ("麻袋", 1.5), ("针头", 1.5), ("注射器", 1.5), ("电线露", 1.5), ("没人要", 1.0), ("没人管", 1.0), ("背包", 0.5), ("一个包", 1.0), ("捡到一把枪", 2.0), ("罐子", 1.0), ("汽油味", 1.0), ("臭味", 1.0), ("很臭", 1.0), ("快递箱", 1.0)]),
    ("self_harm", &[("跳楼", 2.0), ("自杀", 2.0), ("不想活", 2.0), ("跳河", 2.0), ("割腕", 2.0), ("轻生", 2.0), ("农药", 1.5), ("安眠药", 1.5), ("跳下去", 1.5), ("傻事", 1.5), ("往下跳", 2.0), ("要跳", 2.0), ("楼顶", 1.0), ("活着没意思", 2.0), ("烧炭", 1.0), ("说再见", 1.0), ("躺着", 0.5), ("铁轨", 1.5), ("栏杆外", 1.5), ("天桥上", 0.5), ("抑郁", 0.5)]),
    ("non_police.utilities", &[("停水", 2.0), ("停电", 2.0), ("水管", 1.5), ("暖气", 1.5), ("井盖", 1.5), ("路灯", 1.5), ("电梯坏", 1.5), ("下水道", 1.0), ("天然气", 1.5), ("宽带", 1.5), ("积水", 1.5), ("没电", 1.5), ("来水", 1.0), ("来电", 1.0), ("电线", 1.0), ("树倒", 1.5), ("大坑", 1.5), ("广告牌", 1.5), ("自来水", 1.5), ("供电", 1.5), ("物业不管", 0.5), ("电线杆", 1.5), ("坏了", 0.5), ("修", 0.5), ("电梯", 0.5)]),
    ("non_police.animal", &[("蛇", 1.5), ("狗", 0.5), ("猫", 0.5), ("马蜂", 1.0), ("野猪", 1.5), ("猴子", 1.5), ("蝙蝠", 1.5), ("流浪狗", 1.0), ("刺猬", 1.5), ("鸟", 1.0), ("牛", 1.0), ("金毛", 1.5), ("项圈", 1.5), ("虐猫", 1.5), ("电鱼", 1.5), ("拴绳", 1.0), ("养了", 0.5)]),
    ("non_police.locked_out", &[("开锁", 2.0), ("钥匙", 1.5), ("锁在", 1.0), ("反锁", 1.5), ("打不开", 1.0), ("进不去", 1.0), ("电梯里", 1.5), ("卡在五楼", 1.0), ("密码忘了", 1.5), ("门禁卡", 1.0), ("指纹锁", 1.5)]),
    ("non_police.consultation", &[("请问", 2.0), ("咨询", 2.0), ("问一下", 1.5), ("问下", 1.5), ("办理", 1.0), ("在哪里办", 1.5), ("补办", 1.5), ("怎么办", 0.3), ("打错了", 2.0), ("想问", 1.5), ("怎么开", 1.0), ("怎么查", 1.0), ("要不要", 1.0), ("身份证", 0.5), ("户口", 1.5), ("交到哪里", 1.5), ("几点下班", 1.5), ("限行", 1.5), ("销户", 1.5), ("改个名字", 1.5), ("想知道", 1.0), ("怎么弄", 1.0), ("办证", 1.0), ("多久", 0.5), ("上牌", 1.5), ("居住证", 1.5), ("护照", 1.5)]),
];

const STOPWORDS: &[&str] = &[
    "的", "了", "在", "是", "我", "有", "就", "都", "也", "你", "他", "她", "这", "那", "着", "吗",
    "啊", "呢", "吧", "个", "一", "和", "还", "被", "把", "给", "说", "人",
];

/// Lower-cases ASCII and maps full-width ASCII forms to half-width so that
/// "ＫＴＶ", "KTV" and "ktv" are one feature.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| {
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => {
                    char::from_u32(c as u32 - 0xFEE0).expect("full-width ASCII maps into ASCII")
                }
                '\u{3000}' => ' ',
                _ => c,
            };
            c.to_ascii_lowercase()
        })
        .collect()
}

/// Whether `word` occurs in `text` other than right after a negation
/// ("没人受伤" must not count as "受伤").
fn contains_unnegated(text: &str, word: &str) -> bool {
    const NEGATIONS: &[&str] = &["没有", "没人", "没", "未", "无", "不", "别"];
    text.match_indices(word).any(|(i, _)| {
        let before = &text[..i];
        !NEGATIONS.iter().any(|n| before.ends_with(n))
    })
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

#[derive(Debug)]
struct NaiveBayes {
    classes: Vec<String>,
    log_prior: Vec<f64>,
    /// feature → per-class log P(feature | class).
    log_likelihood: HashMap<String, Vec<f64>>,
}

impl NaiveBayes {
    fn train(classes: Vec<String>, docs: &[(usize, Vec<String>)], smoothing: f64) -> NaiveBayes {
        let n = classes.len();
        let mut class_docs = vec![0usize; n];
        let mut counts: HashMap<String, Vec<f64>> = HashMap::new();
        let mut totals = vec![0f64; n];
        for (label, feats) in docs {
            class_docs[*label] += 1;
            for f in feats {
                counts.entry(f.clone()).or_insert_with(|| vec![0.0; n])[*label] += 1.0;
                totals[*label] += 1.0;
            }
        }
        let vocab = counts.len() as f64 + 1.0;
        let total_docs = docs.len() as f64;
        // Priors are smoothed too so that a type with few examples is not ruled out.
        let log_prior = class_docs
            .iter()
            .map(|&d| ((d as f64 + 1.0) / (total_docs + n as f64)).ln())
            .collect();
        let denom: Vec<f64> = totals.iter().map(|t| t + smoothing * vocab).collect();
        let log_likelihood = counts
            .into_iter()
            .map(|(f, c)| {
                let ll = c
                    .iter()
                    .zip(&denom)
                    .map(|(ci, d)| ((ci + smoothing) / d).ln())
                    .collect();
                (f, ll)
            })
            .collect();
        NaiveBayes {
            classes,
            log_prior,
            log_likelihood,
        }
    }

    /// Unnormalised log posteriors per class; features never seen in training
    /// are skipped (they carry no class information).
    fn log_scores(&self, feats: &[String]) -> Vec<f64> {
        let mut s = self.log_prior.clone();
        for f in feats {
            if let Some(ll) = self.log_likelihood.get(f) {
                for (si, l) in s.iter_mut().zip(ll) {
                    *si += l;
                }
            }
        }
        s
    }
}

/// Trained classifier. Construction loads jieba's dictionary (~0.5 s); build one
/// at start-up and share it (it is `Send + Sync`).
pub struct Classifier {
    jieba: Jieba,
    taxonomy: Taxonomy,
    model: NaiveBayes,
    rules: Vec<(String, Vec<(String, f64)>)>,
    config: ClassifierConfig,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("classes", &self.model.classes)
            .field("features", &self.model.log_likelihood.len())
            .field("config", &self.config)
            .finish()
    }
}

impl Classifier {
    /// Trains on the built-in corpus with the built-in taxonomy.
    pub fn builtin() -> Classifier {
        let taxonomy = Taxonomy::builtin();
        let corpus = parse_corpus(BUILTIN_CORPUS, &taxonomy)
            .expect("the built-in corpus parses; covered by a unit test");
        Classifier::train(&taxonomy, &corpus, ClassifierConfig::default())
            .expect("the built-in corpus trains; covered by a unit test")
    }

    /// Trains a classifier over the leaf types of `taxonomy`. Rules for types the
    /// taxonomy lacks are dropped, so admins may delete built-in types freely.
    pub fn train(
        taxonomy: &Taxonomy,
        examples: &[LabelledCall],
        config: ClassifierConfig,
    ) -> Result<Classifier, ClassifyError> {
        if examples.is_empty() {
            return Err(ClassifyError::EmptyTrainingSet);
        }
        let classes: Vec<String> = taxonomy.leaves().map(|t| t.code().to_string()).collect();
        let index: HashMap<&str, usize> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let rules: Vec<(String, Vec<(String, f64)>)> = RULES
            .iter()
            .filter(|(code, _)| index.contains_key(code))
            .map(|(code, kws)| {
                (
                    code.to_string(),
                    kws.iter().map(|(w, x)| (w.to_string(), *x)).collect(),
                )
            })
            .collect();
        let mut jieba = Jieba::new();
        // Rule keywords become dictionary words so segmentation keeps them whole.
        for (_, kws) in &rules {
            for (w, _) in kws {
                if w.chars().count() > 1 {
                    jieba.add_word(w, Some(2000), None);
                }
            }
        }
        let mut classifier = Classifier {
            jieba,
            taxonomy: taxonomy.clone(),
            model: NaiveBayes::train(classes.clone(), &[], config.smoothing),
            rules,
            config,
        };
        let mut docs = Vec::with_capacity(examples.len());
        for ex in examples {
            let label =
                *index
                    .get(ex.type_code.as_str())
                    .ok_or_else(|| ClassifyError::UnknownLabel {
                        code: ex.type_code.clone(),
                    })?;
            docs.push((label, classifier.features(&ex.text)));
        }
        classifier.model = NaiveBayes::train(classes, &docs, config.smoothing);
        Ok(classifier)
    }

    /// The taxonomy this classifier was trained against.
    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// jieba words of the normalised text, without punctuation and stopwords.
    pub fn words(&self, text: &str) -> Vec<String> {
        let norm = normalise(text);
        self.jieba
            .cut(&norm, true)
            .into_iter()
            .map(|t| t.word)
            .filter(|w| w.chars().any(|c| c.is_alphanumeric()) && !STOPWORDS.contains(w))
            .map(str::to_string)
            .collect()
    }

    /// Model features: distinct words (`w:` prefix) and CJK bigrams (`b:`).
    fn features(&self, text: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for w in self.words(text) {
            let f = format!("w:{w}");
            if seen.insert(f.clone()) {
                out.push(f);
            }
        }
        let chars: Vec<char> = normalise(text).chars().collect();
        for pair in chars.windows(2) {
            if is_cjk(pair[0]) && is_cjk(pair[1]) {
                let f = format!("b:{}{}", pair[0], pair[1]);
                if seen.insert(f.clone()) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// Suggests type and priority for a caller's description.
    pub fn classify(&self, text: &str) -> Classification {
        let norm = normalise(text);
        let feats = self.features(text);
        let classes = &self.model.classes;
        let nb = self.model.log_scores(&feats);
        let nb_max = nb.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut rule_score = vec![0.0; classes.len()];
        let mut keyword_hits: Vec<Evidence> = Vec::new();
        for (code, kws) in &self.rules {
            let Some(ci) = classes.iter().position(|c| c == code) else {
                continue;
            };
            for (w, weight) in kws {
                if contains_unnegated(&norm, w) {
                    rule_score[ci] += weight;
                    keyword_hits.push(Evidence::Keyword {
                        word: w.clone(),
                        type_code: code.clone(),
                        weight: *weight,
                    });
                }
            }
        }
        let combined: Vec<f64> = nb
            .iter()
            .zip(&rule_score)
            .map(|(l, r)| {
                (l - nb_max) / self.config.model_temperature + self.config.rule_weight * r
            })
            .collect();
        let max = combined.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = combined.iter().map(|s| (s - max).exp()).collect();
        let z: f64 = exp.iter().sum();
        let mut ranked: Vec<(usize, f64)> = exp.iter().map(|e| e / z).enumerate().collect();
        // Ties break on class order so results are deterministic.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (best, confidence) = ranked[0];
        let type_code = classes[best].clone();

        let mut evidence: Vec<Evidence> = keyword_hits
            .into_iter()
            .filter(|e| matches!(e, Evidence::Keyword { type_code: t, .. } if *t == type_code))
            .collect();
        evidence.extend(self.model_evidence(&feats, best, ranked.get(1).map(|r| r.0)));

        let ty = self
            .taxonomy
            .get(&type_code)
            .expect("classes are taxonomy leaves");
        let root = self
            .taxonomy
            .root_of(&type_code)
            .map(|t| t.code().to_string())
            .unwrap_or_default();
        let mut priority = ty.default_priority();
        for esc in ESCALATORS {
            if !esc.roots.is_empty() && !esc.roots.contains(&root.as_str()) {
                continue;
            }
            if let Some(word) = esc.words.iter().find(|w| norm.contains(**w)) {
                let to = if esc.to_p1 {
                    Priority::P1
                } else {
                    priority.raised()
                };
                // Recorded even when the priority is already as high: the call
                // taker should still see the danger cue.
                let to = to.min(priority);
                evidence.push(Evidence::Escalator {
                    word: word.to_string(),
                    cue: esc.cue,
                    from: priority,
                    to,
                });
                priority = to;
            }
        }
        let alternatives = ranked
            .iter()
            .skip(1)
            .take(3)
            .map(|(i, p)| (classes[*i].clone(), *p))
            .collect();
        Classification {
            type_code,
            priority,
            confidence,
            alternatives,
            evidence,
        }
    }

    /// The three features with the largest log-likelihood ratio for `best`
    /// against `runner_up` (or the average class when there is none).
    fn model_evidence(
        &self,
        feats: &[String],
        best: usize,
        runner_up: Option<usize>,
    ) -> Vec<Evidence> {
        let mut scored: Vec<(f64, &String)> = feats
            .iter()
            .filter_map(|f| {
                let ll = self.model.log_likelihood.get(f)?;
                let other = match runner_up {
                    Some(r) => ll[r],
                    None => ll.iter().sum::<f64>() / ll.len() as f64,
                };
                let ratio = ll[best] - other;
                (ratio > 0.0).then_some((ratio, f))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let mut shown: Vec<Evidence> = Vec::new();
        // A word and the bigram with the same characters read the same to a
        // person: show each text once, with its strongest weight.
        for (w, f) in scored {
            let text = &f[2..];
            if shown
                .iter()
                .any(|e| matches!(e, Evidence::ModelFeature { feature, .. } if feature == text))
            {
                continue;
            }
            shown.push(Evidence::ModelFeature {
                feature: text.to_string(),
                weight: w,
            });
            if shown.len() == 3 {
                break;
            }
        }
        shown
    }
}

/// Accuracy of a classifier on held-out rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub total: usize,
    pub type_correct: usize,
    pub priority_correct: usize,
    /// Rows whose type was right and priority within one level.
    pub priority_within_one: usize,
    /// (expected, predicted, text) for every type error.
    pub type_errors: Vec<(String, String, String)>,
}

impl Evaluation {
    pub fn type_accuracy(&self) -> f64 {
        self.type_correct as f64 / self.total.max(1) as f64
    }
    pub fn priority_accuracy(&self) -> f64 {
        self.priority_correct as f64 / self.total.max(1) as f64
    }
}

/// Classifies every row of `test` and counts agreements with the labels.
pub fn evaluate(classifier: &Classifier, test: &[LabelledCall]) -> Evaluation {
    let mut ev = Evaluation {
        total: test.len(),
        type_correct: 0,
        priority_correct: 0,
        priority_within_one: 0,
        type_errors: Vec::new(),
    };
    for row in test {
        let c = classifier.classify(&row.text);
        if c.type_code == row.type_code {
            ev.type_correct += 1;
        } else {
            ev.type_errors
                .push((row.type_code.clone(), c.type_code.clone(), row.text.clone()));
        }
        if c.priority == row.priority {
            ev.priority_correct += 1;
        }
        if c.priority.level().abs_diff(row.priority.level()) <= 1 {
            ev.priority_within_one += 1;
        }
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_parses_and_is_large_enough() {
        let t = Taxonomy::builtin();
        let rows = parse_corpus(BUILTIN_CORPUS, &t).unwrap();
        assert!(rows.len() >= 600, "{} rows", rows.len());
        let types: HashSet<&str> = rows.iter().map(|r| r.type_code.as_str()).collect();
        assert_eq!(types.len(), t.leaves().count());
    }

    #[test]
    fn corpus_errors_name_the_line() {
        let t = Taxonomy::builtin();
        assert_eq!(
            parse_corpus("# c\nfire\tP1\n", &t),
            Err(ClassifyError::BadColumns { line: 2, found: 2 })
        );
        assert_eq!(
            parse_corpus("criminal\tP1\t有人\n", &t),
            Err(ClassifyError::NotLeaf {
                line: 1,
                code: "criminal".into()
            })
        );
        assert!(matches!(
            parse_corpus("fire\tP9\t着火\n", &t),
            Err(ClassifyError::BadPriority { line: 1, .. })
        ));
        assert_eq!(
            parse_corpus("alien\tP1\t有人\n", &t),
            Err(ClassifyError::UnknownType {
                line: 1,
                code: "alien".into()
            })
        );
    }

    #[test]
    fn split_is_disjoint_and_stratified() {
        let t = Taxonomy::builtin();
        let rows = parse_corpus(BUILTIN_CORPUS, &t).unwrap();
        let (train, test) = split_fold(&rows, 5, 0);
        assert_eq!(train.len() + test.len(), rows.len());
        let train_texts: HashSet<&str> = train.iter().map(|r| r.text.as_str()).collect();
        assert!(test.iter().all(|r| !train_texts.contains(r.text.as_str())));
        let test_types: HashSet<&str> = test.iter().map(|r| r.type_code.as_str()).collect();
        assert_eq!(test_types.len(), t.leaves().count());
        assert_eq!(split_fold(&rows, 5, 0), (train, test));
    }

    #[test]
    fn classifier_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Classifier>();
    }

    #[test]
    fn negated_keywords_do_not_count() {
        assert!(!contains_unnegated("追尾了，没人受伤", "受伤"));
        assert!(contains_unnegated("没人管，有人受伤了", "受伤"));
        assert!(contains_unnegated("受伤了", "受伤"));
    }

    #[test]
    fn normalise_folds_width_and_case() {
        assert_eq!(normalise("ＫＴＶ里Abc"), "ktv里abc");
    }
}
