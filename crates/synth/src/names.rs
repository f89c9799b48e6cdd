//! Name material: surnames with approximately their real shares in the mainland
//! population (the head of the distribution as published in household-registry
//! rankings, rounded; the long tail is folded into the listed names), given-name
//! characters by sex and generation, transliterated Uyghur names (with `·`), and
//! homophone groups for realistic misspellings.

use crate::rng::{Rng, Weighted};
use pingan_core::normalize::id_number::Sex;
use std::sync::OnceLock;

/// `(surname, share in basis points of the population)`.
const SURNAMES: [(&str, u64); 104] = [
    ("王", 725),
    ("李", 719),
    ("张", 679),
    ("刘", 538),
    ("陈", 453),
    ("杨", 308),
    ("黄", 223),
    ("赵", 218),
    ("吴", 205),
    ("周", 193),
    ("徐", 145),
    ("孙", 138),
    ("马", 129),
    ("朱", 128),
    ("胡", 116),
    ("郭", 113),
    ("何", 112),
    ("高", 107),
    ("林", 106),
    ("罗", 98),
    ("郑", 93),
    ("梁", 89),
    ("谢", 76),
    ("宋", 68),
    ("唐", 67),
    ("许", 63),
    ("韩", 62),
    ("冯", 60),
    ("邓", 59),
    ("曹", 56),
    ("彭", 54),
    ("曾", 53),
    ("肖", 52),
    ("田", 50),
    ("董", 49),
    ("袁", 47),
    ("潘", 46),
    ("于", 45),
    ("蒋", 44),
    ("蔡", 43),
    ("余", 42),
    ("杜", 41),
    ("叶", 40),
    ("程", 39),
    ("苏", 38),
    ("魏", 37),
    ("吕", 36),
    ("丁", 35),
    ("任", 34),
    ("沈", 33),
    ("姚", 32),
    ("卢", 31),
    ("姜", 30),
    ("崔", 29),
    ("钟", 28),
    ("谭", 27),
    ("陆", 26),
    ("汪", 25),
    ("范", 24),
    ("金", 23),
    ("石", 22),
    ("廖", 21),
    ("贾", 20),
    ("夏", 19),
    ("韦", 18),
    ("付", 17),
    ("方", 16),
    ("白", 15),
    ("邹", 14),
    ("孟", 13),
    ("熊", 13),
    ("秦", 12),
    ("邱", 12),
    ("江", 11),
    ("尹", 11),
    ("薛", 10),
    ("闫", 10),
    ("段", 10),
    ("雷", 10),
    ("侯", 9),
    ("龙", 9),
    ("史", 9),
    ("陶", 8),
    ("黎", 8),
    ("贺", 8),
    ("顾", 8),
    ("毛", 7),
    ("郝", 7),
    ("龚", 7),
    ("邵", 7),
    ("万", 6),
    ("钱", 6),
    ("严", 6),
    ("覃", 6),
    ("武", 6),
    ("戴", 6),
    ("莫", 6),
    ("孔", 5),
    ("向", 5),
    ("汤", 5),
    ("欧阳", 2),
    ("司马", 1),
    ("上官", 1),
    ("诸葛", 1),
];

const MALE_OLD: &[&str] = &[
    "建国", "国庆", "建华", "建军", "国强", "志强", "卫东", "红军", "德明", "振华", "永红", "文革",
    "伟", "强", "军", "勇", "刚", "平", "明", "华", "斌", "辉", "林", "峰", "国", "民", "兵", "忠",
    "海", "波", "建", "新", "福", "贵", "有", "财", "树", "春", "成", "宝",
];
const MALE_NEW: &[&str] = &[
    "伟", "磊", "杰", "涛", "超", "鹏", "飞", "鑫", "浩", "宇", "凯", "健", "俊", "帆", "帅", "旭",
    "阳", "博", "晨", "轩", "然", "睿", "泽", "航", "宁", "龙", "斌", "亮", "洋", "成", "彬", "楠",
    "子", "梓", "文", "志", "明", "家", "嘉", "一", "天", "思", "铭", "昊", "皓", "乐", "逸", "哲",
];
const FEMALE_OLD: &[&str] = &[
    "秀英", "桂英", "秀兰", "桂兰", "玉兰", "凤英", "秀珍", "玉珍", "淑珍", "桂芳", "翠花", "红梅",
    "芳", "英", "兰", "珍", "华", "凤", "琴", "霞", "梅", "萍", "红", "玲", "燕", "云", "莲", "菊",
];
const FEMALE_NEW: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "慧", "美", "娟", "燕", "玲", "丹", "婷", "雪", "琳", "晶", "倩",
    "欣", "怡", "涵", "诗", "雨", "萱", "佳", "琪", "悦", "颖", "洁", "璐", "瑶", "思", "梦", "可",
    "馨", "蕾", "薇", "莉", "晓", "梓", "子", "一", "雅", "若", "紫", "嘉", "语", "彤", "妍", "茜",
];

const UYGHUR_MALE: &[&str] = &[
    "买买提",
    "艾力",
    "阿卜杜",
    "吐尔逊",
    "艾合买提",
    "热合曼",
    "努尔",
    "伊力哈木",
    "阿不都",
    "亚森",
];
const UYGHUR_FEMALE: &[&str] = &[
    "古丽",
    "热依拉",
    "阿依",
    "帕提古丽",
    "迪丽",
    "米娜",
    "努尔古丽",
    "阿米娜",
    "再娜甫",
    "海丽且姆",
];
const UYGHUR_SECOND: &[&str] = &[
    "艾力",
    "热合曼",
    "吐尔逊",
    "阿不都",
    "买买提",
    "卡德尔",
    "司马义",
    "依明",
    "托合提",
    "玉素甫",
];

/// Same or nearly the same pronunciation; a clerk typing from speech picks any.
const HOMOPHONES: &[&str] = &[
    "伟玮炜巍薇",
    "丽莉力立利",
    "明铭鸣名",
    "华花桦骅",
    "静婧靖晶菁敬",
    "军君均俊峻骏",
    "杰洁婕捷",
    "涛韬滔",
    "斌彬滨宾",
    "霞侠",
    "芳方舫",
    "娜纳",
    "敏民闽珉",
    "燕艳彦雁妍",
    "玲琳林霖凌灵铃",
    "婷亭庭霆",
    "红宏鸿洪虹",
    "平萍苹屏",
    "秀绣",
    "英瑛莹颖盈",
    "慧惠蕙卉",
    "鹏朋彭",
    "强蔷",
    "刚钢纲",
    "勇永咏泳",
    "国帼",
    "建剑健键坚",
    "文雯汶闻",
    "志智芝治至",
    "宇雨羽语玉煜昱钰瑜予",
    "浩昊皓颢灏",
    "超潮",
    "辉晖徽",
    "凯楷恺锴",
    "雪学",
    "梅玫媚",
    "兰岚澜蓝",
    "春纯",
    "飞菲霏非斐",
    "张章",
    "王汪",
    "刘柳",
    "杨阳扬",
    "黄皇",
    "徐许",
    "李理礼",
    "周舟州",
    "吴武伍",
    "赵照",
    "孙荪",
    "胡湖",
    "林霖琳",
    "程成城承",
    "陈晨辰",
    "峰锋枫丰风",
    "磊蕾",
    "琪琦奇祺棋",
    "怡仪宜颐",
    "佳嘉家",
    "欣鑫新馨",
    "涵寒晗含",
    "思丝斯",
];

/// The ethnic group recorded for a generated person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ethnicity {
    Han,
    Uyghur,
}

impl Ethnicity {
    pub fn as_chinese(self) -> &'static str {
        match self {
            Ethnicity::Han => "汉族",
            Ethnicity::Uyghur => "维吾尔族",
        }
    }
}

fn surname_table() -> &'static Weighted {
    static T: OnceLock<Weighted> = OnceLock::new();
    T.get_or_init(|| Weighted::new(SURNAMES.iter().map(|s| s.1)))
}

pub(crate) fn surname(rng: &mut Rng) -> &'static str {
    SURNAMES[surname_table().sample(rng)].0
}

/// A given name of one or two characters in the style of the birth decade.
pub(crate) fn given_name(rng: &mut Rng, sex: Sex, birth_year: i32) -> String {
    let old = birth_year < 1975;
    let pool = match (sex, old) {
        (Sex::Male, true) => MALE_OLD,
        (Sex::Male, false) => MALE_NEW,
        (Sex::Female, true) => FEMALE_OLD,
        (Sex::Female, false) => FEMALE_NEW,
    };
    let first = *rng.pick(pool);
    // Two-character stock names stand alone; single characters combine ~70% of the time.
    if first.chars().count() >= 2 || rng.chance(0.3) {
        return first.to_owned();
    }
    loop {
        let second = *rng.pick(pool);
        if second != first && second.chars().count() == 1 {
            return format!("{first}{second}");
        }
    }
}

pub(crate) fn uyghur_name(rng: &mut Rng, sex: Sex) -> String {
    let first = match sex {
        Sex::Male => rng.pick(UYGHUR_MALE),
        Sex::Female => rng.pick(UYGHUR_FEMALE),
    };
    loop {
        let second = rng.pick(UYGHUR_SECOND);
        if second != first {
            return format!("{first}·{second}");
        }
    }
}

fn homophone_group(c: char) -> Option<&'static str> {
    HOMOPHONES.iter().copied().find(|g| g.contains(c))
}

/// Replaces one character by a homophone (or, if none has one, by a common
/// given-name character): the typical clerk's misspelling. Always changes the name.
pub(crate) fn misspell(rng: &mut Rng, name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let candidates: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i] != '·' && homophone_group(chars[i]).is_some())
        .collect();
    let mut out = chars.clone();
    if let Some(&i) = candidates.get(rng.below(candidates.len() as u64) as usize) {
        let group: Vec<char> = homophone_group(chars[i])
            .unwrap_or_default()
            .chars()
            .filter(|&g| g != chars[i])
            .collect();
        out[i] = *rng.pick(&group);
    } else {
        let i = if chars.len() > 1 { chars.len() - 1 } else { 0 };
        loop {
            let c = rng.pick(FEMALE_NEW).chars().next().unwrap_or('一');
            if c != chars[i] {
                out[i] = c;
                break;
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surname_shares_follow_the_table() {
        let mut rng = Rng::new(1);
        let n = 200_000;
        let wang = (0..n).filter(|_| surname(&mut rng) == "王").count() as f64 / n as f64;
        let total: u64 = SURNAMES.iter().map(|s| s.1).sum();
        let expected = 725.0 / total as f64;
        assert!((wang - expected).abs() < 0.003, "{wang} vs {expected}");
    }

    #[test]
    fn misspellings_change_exactly_one_char() {
        let mut rng = Rng::new(2);
        for name in ["王伟", "张丽", "欧阳娜娜", "买买提·艾力", "钱"] {
            for _ in 0..50 {
                let m = misspell(&mut rng, name);
                assert_eq!(m.chars().count(), name.chars().count());
                let diff = m.chars().zip(name.chars()).filter(|(a, b)| a != b).count();
                assert_eq!(diff, 1, "{name} → {m}");
            }
        }
    }

    #[test]
    fn given_names_are_one_or_two_chars() {
        let mut rng = Rng::new(3);
        for y in [1950, 1990] {
            for sex in [Sex::Male, Sex::Female] {
                for _ in 0..200 {
                    let g = given_name(&mut rng, sex, y);
                    assert!((1..=2).contains(&g.chars().count()), "{g}");
                }
            }
        }
        assert!(uyghur_name(&mut rng, Sex::Female).contains('·'));
    }
}
